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
}
