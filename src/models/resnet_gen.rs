//! ResNet generator (Johnson et al. 2016, as used by CycleGAN): reflection-padded 7x7 conv,
//! two stride-2 down-samplings, residual blocks, two up-samplings, 7x7 conv to RGB, tanh.
//! Instance norm throughout. Up-sampling is a transposed conv or, to avoid its checkerboard
//! artefacts (Odena et al. 2016), nearest-neighbour resize followed by a conv.
//! Any input size works: it is padded to a multiple of 4 and the output cropped back.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, tanh};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use crate::nn::conv::gan_init;
use crate::nn::norm::NormContext;
use crate::nn::pad::{crop_to, pad_to_multiple, reflect_pad};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Upsample {
    /// Transposed convolution (the original CycleGAN).
    Transposed,
    /// Nearest-neighbour x2 then a 3x3 conv: no checkerboard artefacts.
    ResizeConv,
}

#[derive(Config, Debug)]
pub struct ResnetGeneratorConfig {
    #[config(default = 3)]
    pub in_channels: usize,
    #[config(default = 3)]
    pub out_channels: usize,
    #[config(default = 64)]
    pub width: usize,
    /// 9 for 256 px, 6 for 128 px in CycleGAN.
    #[config(default = 9)]
    pub blocks: usize,
    #[config(default = "Upsample::ResizeConv")]
    pub upsample: Upsample,
    /// Skip connections around each block pair. Without them this is the plain
    /// encoder-decoder conv generator of the `seed` preset.
    #[config(default = true)]
    pub residual: bool,
}

/// conv → instance norm (→ ReLU), with reflection padding applied by the caller.
#[derive(Module, Debug)]
pub struct ConvNorm {
    pub conv: Conv2d,
    pub norm: InstanceNorm,
}

impl ConvNorm {
    fn new(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_initializer(gan_init())
                .init(device),
            norm: InstanceNormConfig::new(cout).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>, ctx: &mut NormContext) -> Tensor<4> {
        ctx.instance_norm(&self.norm, self.conv.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct ResidualBlock {
    pub a: ConvNorm,
    pub b: ConvNorm,
    pub residual: bool,
}

impl ResidualBlock {
    fn forward(&self, x: Tensor<4>, ctx: &mut NormContext) -> Tensor<4> {
        let h = relu(self.a.forward(reflect_pad(x.clone(), 1), ctx));
        let h = self.b.forward(reflect_pad(h, 1), ctx);
        if self.residual { x + h } else { relu(h) }
    }
}

/// One x2 up-sampling step: transposed conv or resize-conv, then norm and ReLU.
#[derive(Module, Debug)]
pub struct UpStep {
    pub transposed: Option<ConvTranspose2d>,
    pub resize_conv: Option<Conv2d>,
    pub norm: InstanceNorm,
}

impl UpStep {
    fn new(cin: usize, cout: usize, mode: Upsample, device: &Device) -> Self {
        let (transposed, resize_conv) = match mode {
            Upsample::Transposed => (
                Some(
                    ConvTranspose2dConfig::new([cin, cout], [3, 3])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_padding_out([1, 1])
                        .with_initializer(gan_init())
                        .init(device),
                ),
                None,
            ),
            Upsample::ResizeConv => (
                None,
                Some(
                    Conv2dConfig::new([cin, cout], [3, 3])
                        .with_initializer(gan_init())
                        .init(device),
                ),
            ),
        };
        Self {
            transposed,
            resize_conv,
            norm: InstanceNormConfig::new(cout).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>, ctx: &mut NormContext) -> Tensor<4> {
        let h = match (&self.transposed, &self.resize_conv) {
            (Some(t), _) => t.forward(x),
            (None, Some(c)) => {
                let up = interpolate(
                    x,
                    InterpolateOptions::new(InterpolateMode::Nearest).with_scale_factor([2.0, 2.0]),
                );
                c.forward(reflect_pad(up, 1))
            }
            (None, None) => unreachable!("an up-sampling step has one of its two forms"),
        };
        relu(ctx.instance_norm(&self.norm, h))
    }
}

#[derive(Module, Debug)]
pub struct ResnetGenerator {
    pub stem: ConvNorm,
    pub down: Vec<ConvNorm>,
    pub blocks: Vec<ResidualBlock>,
    pub up: Vec<UpStep>,
    pub to_rgb: Conv2d,
}

impl ResnetGeneratorConfig {
    pub fn init(&self, device: &Device) -> ResnetGenerator {
        let w = self.width;
        ResnetGenerator {
            stem: ConvNorm::new(self.in_channels, w, 7, 1, 0, device),
            down: vec![
                ConvNorm::new(w, 2 * w, 3, 2, 1, device),
                ConvNorm::new(2 * w, 4 * w, 3, 2, 1, device),
            ],
            blocks: (0..self.blocks)
                .map(|_| ResidualBlock {
                    a: ConvNorm::new(4 * w, 4 * w, 3, 1, 0, device),
                    b: ConvNorm::new(4 * w, 4 * w, 3, 1, 0, device),
                    residual: self.residual,
                })
                .collect(),
            up: vec![
                UpStep::new(4 * w, 2 * w, self.upsample, device),
                UpStep::new(2 * w, w, self.upsample, device),
            ],
            to_rgb: Conv2dConfig::new([w, self.out_channels], [7, 7])
                .with_initializer(gan_init())
                .init(device),
        }
    }
}

impl ResnetGenerator {
    /// Images [N, C, H, W] in [-1, 1] to images of the same size.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with(x, &mut NormContext::own())
    }

    /// `forward` with instance-norm statistics taken from `ctx` (tiled inference).
    pub fn forward_with(&self, x: Tensor<4>, ctx: &mut NormContext) -> Tensor<4> {
        let (x, size) = pad_to_multiple(x, 4);
        let [_, _, h, w] = x.dims();
        ctx.begin([h, w]);
        let mut h = relu(self.stem.forward(reflect_pad(x, 3), ctx));
        for d in &self.down {
            h = relu(d.forward(h, ctx));
        }
        for b in &self.blocks {
            h = b.forward(h, ctx);
        }
        for u in &self.up {
            h = u.forward(h, ctx);
        }
        crop_to(tanh(self.to_rgb.forward(reflect_pad(h, 3))), size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_input_size_for_odd_sizes_in_both_upsampling_modes() {
        let d = Device::flex();
        for mode in [Upsample::Transposed, Upsample::ResizeConv] {
            let g = ResnetGeneratorConfig::new()
                .with_width(4)
                .with_blocks(2)
                .with_upsample(mode)
                .init(&d);
            for (h, w) in [(32, 32), (31, 45), (17, 9)] {
                let y = g.forward(Tensor::zeros([2, 3, h, w], &d));
                assert_eq!(y.dims(), [2, 3, h, w], "{mode:?} {h}x{w}");
            }
        }
    }
}
