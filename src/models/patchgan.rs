//! PatchGAN discriminator (Isola et al. 2017): a fully convolutional stack whose output is a
//! grid of real/fake scores, one per overlapping patch. With 3 strided layers the receptive
//! field is 70x70 and a 256 px input gives 30x30 scores.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use crate::nn::conv::gan_init;

#[derive(Config, Debug)]
pub struct PatchDiscriminatorConfig {
    /// 3 for an image; 6 for pix2pix (input and output concatenated).
    #[config(default = 3)]
    pub in_channels: usize,
    #[config(default = 64)]
    pub width: usize,
    /// Stride-2 layers after the first (3 gives the 70x70 PatchGAN).
    #[config(default = 3)]
    pub layers: usize,
}

#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    pub convs: Vec<Conv2d>,
    /// One per conv except the first and the last.
    pub norms: Vec<InstanceNorm>,
}

fn conv4(cin: usize, cout: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [4, 4])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(gan_init())
        .init(device)
}

impl PatchDiscriminatorConfig {
    /// The side of the score grid for an input of side `input`, or `None` when the input is
    /// too small for this depth (a layer would get less than its 4x4 kernel).
    pub fn output_side(&self, input: usize) -> Option<usize> {
        let strides = std::iter::once(2)
            .chain((1..=self.layers).map(|i| if i == self.layers { 1 } else { 2 }))
            .chain(std::iter::once(1));
        let mut side = input;
        for stride in strides {
            // Kernel 4, padding 1 on each side.
            side = (side + 2).checked_sub(4)? / stride + 1;
        }
        Some(side)
    }

    /// Forward outputs per image of side `input` (conv and norm/activation), for the memory
    /// check.
    pub fn activation_floats(&self, input: usize) -> u64 {
        (0..=self.layers)
            .map(|i| {
                let side = (input >> (i + 1).min(self.layers)) as u64;
                2 * (self.width * (1usize << i.min(3))) as u64 * side * side
            })
            .sum()
    }

    /// The smallest input side this depth can score.
    pub fn min_input(&self) -> usize {
        (1..)
            .find(|&s| self.output_side(s).is_some())
            .expect("some input is large enough")
    }

    pub fn init(&self, device: &Device) -> PatchDiscriminator {
        let ch = |i: usize| self.width * (1usize << i.min(3));
        let mut convs = vec![conv4(self.in_channels, ch(0), 2, device)];
        let mut norms = Vec::new();
        for i in 1..=self.layers {
            // The last of these keeps the resolution (stride 1), as in pix2pix.
            let stride = if i == self.layers { 1 } else { 2 };
            convs.push(conv4(ch(i - 1), ch(i), stride, device));
            norms.push(InstanceNormConfig::new(ch(i)).init(device));
        }
        convs.push(conv4(ch(self.layers), 1, 1, device));
        PatchDiscriminator { convs, norms }
    }
}

impl PatchDiscriminator {
    /// One score per patch, all images' patches in one vector (what the GAN losses take).
    pub fn flat_scores(&self, x: Tensor<4>) -> Tensor<1> {
        let s = self.forward(x);
        let n: usize = s.dims().iter().product();
        s.reshape([n])
    }

    /// Scores [N, 1, H', W'] for images [N, C, H, W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.convs.len() - 1;
        let mut h = leaky_relu(self.convs[0].forward(x), 0.2);
        for (conv, norm) in self.convs[1..last].iter().zip(&self.norms) {
            h = leaky_relu(norm.forward(conv.forward(h)), 0.2);
        }
        self.convs[last].forward(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_grid_sizes() {
        let d = Device::flex();
        let dnet = PatchDiscriminatorConfig::new().with_width(8).init(&d);
        for (input, want) in [(256, 30), (128, 14), (70, 6)] {
            let x = Tensor::<4>::zeros([1, 3, input, input], &d);
            assert_eq!(dnet.forward(x).dims(), [1, 1, want, want], "input {input}");
        }
        let shallow = PatchDiscriminatorConfig::new()
            .with_width(8)
            .with_layers(1)
            .init(&d);
        // 16x16 receptive field: 256 -> 128 -> 127 -> 126.
        assert_eq!(
            shallow.forward(Tensor::zeros([2, 3, 256, 256], &d)).dims(),
            [2, 1, 126, 126]
        );
        let paired = PatchDiscriminatorConfig::new()
            .with_in_channels(6)
            .with_width(8)
            .init(&d);
        assert_eq!(
            paired.forward(Tensor::zeros([1, 6, 64, 64], &d)).dims(),
            [1, 1, 6, 6]
        );
    }

    #[test]
    fn the_size_check_agrees_with_the_network() {
        let d = Device::flex();
        for layers in 0..=5 {
            let cfg = PatchDiscriminatorConfig::new()
                .with_width(4)
                .with_layers(layers);
            let min = cfg.min_input();
            assert_eq!(cfg.output_side(min - 1), None, "layers {layers}");
            let net = cfg.init(&d);
            for input in [min, min + 1, min + 7] {
                let dims = net.forward(Tensor::zeros([1, 3, input, input], &d)).dims();
                assert_eq!(
                    Some(dims[2]),
                    cfg.output_side(input),
                    "layers {layers} input {input}"
                );
            }
        }
        // The reported case: 32 px crops cannot feed 4 or more strided layers.
        let deep = PatchDiscriminatorConfig::new().with_layers(4);
        assert_eq!(deep.output_side(32), None);
        assert_eq!(deep.min_input(), 48);
    }
}
