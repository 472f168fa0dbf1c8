//! The feed-forward style network (Johnson et al. 2016) with conditional instance norm
//! (Dumoulin et al. 2017): one network, many styles.
//!
//! Layout: reflection-padded k×k conv, two stride-2 convs down, residual blocks, two
//! resize-convs up (nearest ×2 then a 3×3 conv: no checkerboard artefacts, Odena et al.
//! 2016), k×k conv to RGB. Every norm is a [`ConditionalInstanceNorm`]: the normalisation
//! is shared, the scale γ and shift β are one row per style. A style is a weight vector
//! over the rows, so a blend of styles is a blend of their γ, β, and one file holds them
//! all. Width, block count and the outer kernel are configurable: the speed/quality table
//! in the README chose the shipped settings.

use std::path::Path;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use super::model_file::{ModelMeta, load_into, open_model, save_model};
use crate::error::{AtelierError, Result};
use crate::nn::norm::NormContext;
use crate::nn::pad::{crop_to, pad_to_multiple, reflect_pad};

/// The model-file kind of a style network.
pub const STYLE_NET_KIND: &str = "style-network";

#[derive(Config, Debug)]
pub struct StyleNetConfig {
    /// Styles the network holds (rows of γ, β).
    pub styles: usize,
    /// Channels of the first layer; ×2 and ×4 after the down-samplings.
    #[config(default = 32)]
    pub width: usize,
    #[config(default = 5)]
    pub blocks: usize,
    /// Kernel of the first and last convolutions (9 in Johnson's network).
    #[config(default = 9)]
    pub outer_kernel: usize,
}

/// Instance norm whose affine parameters are chosen per image from a table of styles:
/// `y = γ(s) · x̂ + β(s)` with `γ(s) = Σ_i s_i γ_i`, `s` the image's style weights.
#[derive(Module, Debug)]
pub struct ConditionalInstanceNorm {
    /// [styles, channels]
    pub gamma: Param<Tensor<2>>,
    /// [styles, channels]
    pub beta: Param<Tensor<2>>,
}

impl ConditionalInstanceNorm {
    pub fn new(styles: usize, channels: usize, device: &Device) -> Self {
        Self {
            gamma: Initializer::Ones.init([styles, channels], device),
            beta: Initializer::Zeros.init([styles, channels], device),
        }
    }

    /// `x` [N, C, H, W] normalised (statistics from `ctx`), then scaled and shifted by the
    /// γ, β that `mix` [N, styles] picks for each image.
    pub fn forward(&self, x: Tensor<4>, mix: &Tensor<2>, ctx: &mut NormContext) -> Tensor<4> {
        let [n, c, _, _] = x.dims();
        let y = ctx.normalize(x, 1e-5);
        let g = mix.clone().matmul(self.gamma.val()).reshape([n, c, 1, 1]);
        let b = mix.clone().matmul(self.beta.val()).reshape([n, c, 1, 1]);
        y * g + b
    }
}

/// Conv (reflection padding applied here) → conditional instance norm.
#[derive(Module, Debug)]
pub struct ConvCin {
    pub conv: Conv2d,
    pub norm: ConditionalInstanceNorm,
    pub pad: usize,
}

impl ConvCin {
    fn new(
        [cin, cout]: [usize; 2],
        k: usize,
        stride: usize,
        styles: usize,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Valid)
                .init(device),
            norm: ConditionalInstanceNorm::new(styles, cout, device),
            pad: k / 2,
        }
    }

    fn forward(&self, x: Tensor<4>, mix: &Tensor<2>, ctx: &mut NormContext) -> Tensor<4> {
        let h = self.conv.forward(reflect_pad(x, self.pad));
        self.norm.forward(h, mix, ctx)
    }
}

#[derive(Module, Debug)]
pub struct StyleResidual {
    pub a: ConvCin,
    pub b: ConvCin,
}

#[derive(Module, Debug)]
pub struct StyleNet {
    pub stem: ConvCin,
    pub down: Vec<ConvCin>,
    pub blocks: Vec<StyleResidual>,
    /// Each after a nearest ×2 up-sampling.
    pub up: Vec<ConvCin>,
    pub to_rgb: Conv2d,
    pub outer_pad: usize,
}

impl StyleNetConfig {
    /// Refuse settings no real model has (a crafted file's metadata) before building.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.styles == 0 || self.styles > 1024 {
            return Err(format!("{} styles is outside 1..=1024", self.styles));
        }
        if self.width == 0 || self.width > 512 {
            return Err(format!("width {} is outside 1..=512", self.width));
        }
        if self.blocks > 32 {
            return Err(format!("{} blocks is more than 32", self.blocks));
        }
        if self.outer_kernel.is_multiple_of(2) || self.outer_kernel > 15 {
            return Err(format!(
                "outer kernel {} is not an odd size up to 15",
                self.outer_kernel
            ));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> StyleNet {
        let (w, s, k) = (self.width, self.styles, self.outer_kernel);
        StyleNet {
            stem: ConvCin::new([3, w], k, 1, s, device),
            down: vec![
                ConvCin::new([w, 2 * w], 3, 2, s, device),
                ConvCin::new([2 * w, 4 * w], 3, 2, s, device),
            ],
            blocks: (0..self.blocks)
                .map(|_| StyleResidual {
                    a: ConvCin::new([4 * w, 4 * w], 3, 1, s, device),
                    b: ConvCin::new([4 * w, 4 * w], 3, 1, s, device),
                })
                .collect(),
            up: vec![
                ConvCin::new([4 * w, 2 * w], 3, 1, s, device),
                ConvCin::new([2 * w, w], 3, 1, s, device),
            ],
            to_rgb: Conv2dConfig::new([w, 3], [k, k])
                .with_padding(PaddingConfig2d::Valid)
                .init(device),
            outer_pad: k / 2,
        }
    }

    /// Multiply-adds per input pixel of one forward pass (the speed table's cost column).
    pub fn macs_per_pixel(&self) -> u64 {
        let (w, k, b) = (
            self.width as u64,
            self.outer_kernel as u64,
            self.blocks as u64,
        );
        let full = 3 * w * k * k + 2 * w * w * 9 + w * 3 * k * k; // stem, last up, to_rgb
        let quarter = 2 * w * w * 9 + 8 * w * w * 9; // first down, first up (1/4 of pixels)
        let sixteenth = 8 * w * w * 9 + 2 * b * 16 * w * w * 9; // second down, blocks
        full + quarter / 4 + sixteenth / 16
    }
}

impl StyleNet {
    /// The number of styles (rows of every γ table).
    pub fn styles(&self) -> usize {
        self.stem.norm.gamma.dims()[0]
    }

    /// Images [N, 3, H, W] in [0, 1] stylised with per-image style weights `mix`
    /// [N, styles]; any size (padded to a multiple of 4 inside, cropped back).
    pub fn forward(&self, x: Tensor<4>, mix: &Tensor<2>) -> Tensor<4> {
        self.forward_with(x, mix, &mut NormContext::own())
    }

    /// `forward` with normalisation statistics from `ctx` (tiled inference).
    pub fn forward_with(&self, x: Tensor<4>, mix: &Tensor<2>, ctx: &mut NormContext) -> Tensor<4> {
        let (x, size) = pad_to_multiple(x, 4);
        let [_, _, h, w] = x.dims();
        ctx.begin([h, w]);
        // Centre the input as the convolutions expect; the output comes back in [0, 1].
        let mut h = relu(self.stem.forward(x * 2.0 - 1.0, mix, ctx));
        for d in &self.down {
            h = relu(d.forward(h, mix, ctx));
        }
        for b in &self.blocks {
            let r = relu(b.a.forward(h.clone(), mix, ctx));
            h = h + b.b.forward(r, mix, ctx);
        }
        for u in &self.up {
            let up = interpolate(
                h,
                InterpolateOptions::new(InterpolateMode::Nearest).with_scale_factor([2.0, 2.0]),
            );
            h = relu(u.forward(up, mix, ctx));
        }
        let y = self.to_rgb.forward(reflect_pad(h, self.outer_pad));
        crop_to(sigmoid(y), size)
    }
}

/// One style's weights [1, styles] (one-hot), or a blend: `weights` over `styles`.
pub fn style_mix(styles: usize, weights: &[(usize, f32)], device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; styles];
    for &(i, w) in weights {
        v[i] += w;
    }
    Tensor::from_data(TensorData::new(v, [1, styles]), device)
}

/// What a style-network model file records besides its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StyleNetMeta {
    pub network: StyleNetConfig,
    /// One name per style row (built-in names like `starry-night`).
    pub styles: Vec<String>,
    /// The painting each style was trained from (file name).
    pub sources: Vec<String>,
    /// Training crop size.
    pub size: usize,
}

/// Write a style network as a model file.
pub fn save_style_net(
    net: &StyleNet,
    meta: &StyleNetMeta,
    command: &str,
    path: &Path,
) -> Result<()> {
    save_model(
        net,
        &ModelMeta {
            kind: STYLE_NET_KIND.into(),
            config_json: serde_json::to_string(meta).expect("config serialises"),
            classes: meta.styles.clone(),
            trained_with: Some(command.to_string()),
        },
        path,
    )
}

pub struct LoadedStyleNet {
    pub net: StyleNet,
    pub meta: StyleNetMeta,
    pub trained_with: Option<String>,
}

impl LoadedStyleNet {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (meta, tensors) = open_model(
            path,
            STYLE_NET_KIND,
            "fast stylisation needs a style network trained by `atelier train style`",
        )?;
        let bad = |e: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason: format!("bad style-network config: {e}"),
        };
        let sm: StyleNetMeta =
            serde_json::from_str(&meta.config_json).map_err(|e| bad(e.to_string()))?;
        sm.network.validate().map_err(bad)?;
        if sm.styles.len() != sm.network.styles {
            return Err(bad(format!(
                "{} style names for {} styles",
                sm.styles.len(),
                sm.network.styles
            )));
        }
        let net = load_into(sm.network.init(device), tensors, device, path)?;
        Ok(Self {
            net,
            meta: sm,
            trained_with: meta.trained_with,
        })
    }

    /// The row of the style called `name`, or an error listing the styles there are.
    pub fn style_index(&self, name: &str) -> Result<usize> {
        self.meta
            .styles
            .iter()
            .position(|s| s == name)
            .ok_or_else(|| {
                AtelierError::Config(format!(
                    "unknown style '{name}'; this model holds: {}",
                    self.meta.styles.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(styles: usize) -> StyleNet {
        StyleNetConfig::new(styles)
            .with_width(4)
            .with_blocks(1)
            .with_outer_kernel(3)
            .init(&Device::flex())
    }

    fn randomise_norms(n: StyleNet) -> StyleNet {
        // Distinct γ, β per style, so styles give different images.
        struct Rand(u64);
        impl burn::module::ModuleMapper for Rand {
            fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let shape = p.shape();
                self.0 += 1;
                let v = crate::util::rng::SeededRng::new(self.0).normal_vec(shape.num_elements());
                let dev = p.val().device();
                Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &dev))
            }
        }
        n.map(&mut Rand(0))
    }

    #[test]
    fn keeps_odd_sizes_and_stays_in_unit_range() {
        let d = Device::flex();
        let n = net(2);
        let x = Tensor::<4>::random([2, 3, 19, 10], burn::tensor::Distribution::Default, &d);
        let mix = Tensor::cat(
            vec![style_mix(2, &[(0, 1.0)], &d), style_mix(2, &[(1, 1.0)], &d)],
            0,
        );
        let y = n.forward(x, &mix);
        assert_eq!(y.dims(), [2, 3, 19, 10]);
        let (lo, hi) = (
            y.clone().min().into_scalar::<f32>(),
            y.max().into_scalar::<f32>(),
        );
        assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
    }

    #[test]
    fn a_blend_with_weight_one_on_a_style_is_that_style_and_blends_mix_parameters() {
        let d = Device::flex();
        let n = randomise_norms(net(3));
        let x = Tensor::<4>::random([1, 3, 16, 16], burn::tensor::Distribution::Default, &d);
        let one = n.forward(x.clone(), &style_mix(3, &[(1, 1.0)], &d));
        let blended = n.forward(
            x.clone(),
            &style_mix(3, &[(0, 0.0), (1, 1.0), (2, 0.0)], &d),
        );
        let diff = (one.clone() - blended).abs().max().into_scalar::<f32>();
        assert_eq!(diff, 0.0);
        let other = n.forward(x.clone(), &style_mix(3, &[(2, 1.0)], &d));
        let apart = (one.clone() - other.clone())
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(apart > 1e-3, "styles must differ: {apart}");
        let half = n.forward(x, &style_mix(3, &[(1, 0.5), (2, 0.5)], &d));
        // A blend lies between its styles' parameters, so it differs from both.
        for end in [one, other] {
            assert!((half.clone() - end).abs().max().into_scalar::<f32>() > 1e-4);
        }
    }

    #[test]
    fn cin_normalises_then_applies_the_chosen_row() {
        let d = Device::flex();
        let mut cin = ConditionalInstanceNorm::new(2, 1, &d);
        cin.gamma = Param::from_tensor(Tensor::from_floats([[1.0], [3.0]], &d));
        cin.beta = Param::from_tensor(Tensor::from_floats([[0.0], [5.0]], &d));
        let x = Tensor::<4>::from_floats([[[[1.0, 3.0], [1.0, 3.0]]]], &d);
        let y: Vec<f32> = cin
            .forward(x, &style_mix(2, &[(1, 1.0)], &d), &mut NormContext::own())
            .into_data()
            .try_to_vec()
            .unwrap();
        // x̂ = ±1 (eps aside), then 3·x̂ + 5.
        for (v, want) in y.iter().zip([2.0, 8.0, 2.0, 8.0]) {
            assert!((v - want).abs() < 1e-3, "{y:?}");
        }
    }
}
