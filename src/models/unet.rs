//! U-Net generator (pix2pix, Isola et al. 2017): `depth` stride-2 4x4 convs down, the same
//! number of transposed convs up, each up level concatenated with its mirror down level.
//! Instance norm (pix2pix trains at batch 1, where batch norm is instance norm), dropout 0.5
//! in the three innermost up levels. Any input size works: it is padded to a multiple of
//! 2^depth and the output cropped back.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig, InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, tanh};

use crate::nn::conv::gan_init;
use crate::nn::pad::{crop_to, pad_to_multiple};

#[derive(Config, Debug)]
pub struct UnetGeneratorConfig {
    #[config(default = 3)]
    pub in_channels: usize,
    #[config(default = 3)]
    pub out_channels: usize,
    #[config(default = 64)]
    pub width: usize,
    /// Down-samplings: 8 for 256 px (a 1x1 bottleneck), 7 for 128 px.
    #[config(default = 8)]
    pub depth: usize,
    #[config(default = 0.5)]
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct UnetGenerator {
    pub down: Vec<Conv2d>,
    /// Norms of down levels 1..depth-1 (not the outermost, not the innermost).
    pub down_norms: Vec<InstanceNorm>,
    /// Up level j (0 = outermost) maps level j's features back to level j-1's resolution.
    pub up: Vec<ConvTranspose2d>,
    /// Norms of up levels 1..depth.
    pub up_norms: Vec<InstanceNorm>,
    pub dropout: Dropout,
    pub depth: usize,
}

impl UnetGeneratorConfig {
    fn ch(&self, level: usize) -> usize {
        self.width * (1usize << level.min(3))
    }

    pub fn init(&self, device: &Device) -> UnetGenerator {
        let d = self.depth.max(1);
        let down = (0..d)
            .map(|i| {
                let cin = if i == 0 {
                    self.in_channels
                } else {
                    self.ch(i - 1)
                };
                Conv2dConfig::new([cin, self.ch(i)], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_initializer(gan_init())
                    .init(device)
            })
            .collect();
        let down_norms = (1..d.saturating_sub(1))
            .map(|i| InstanceNormConfig::new(self.ch(i)).init(device))
            .collect();
        let up = (0..d)
            .map(|j| {
                // The innermost level has no skip to concatenate.
                let cin = if j == d - 1 {
                    self.ch(j)
                } else {
                    2 * self.ch(j)
                };
                let cout = if j == 0 {
                    self.out_channels
                } else {
                    self.ch(j - 1)
                };
                ConvTranspose2dConfig::new([cin, cout], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_initializer(gan_init())
                    .init(device)
            })
            .collect();
        let up_norms = (1..d)
            .map(|j| InstanceNormConfig::new(self.ch(j - 1)).init(device))
            .collect();
        UnetGenerator {
            down,
            down_norms,
            up,
            up_norms,
            dropout: DropoutConfig::new(self.dropout).init(),
            depth: d,
        }
    }
}

impl UnetGenerator {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let d = self.depth;
        let (x, size) = pad_to_multiple(x, 1 << d);
        let mut skips: Vec<Tensor<4>> = Vec::with_capacity(d);
        let mut h = x;
        for (i, conv) in self.down.iter().enumerate() {
            h = if i == 0 {
                conv.forward(h)
            } else {
                conv.forward(leaky_relu(h, 0.2))
            };
            if i > 0 && i < d - 1 {
                h = self.down_norms[i - 1].forward(h);
            }
            skips.push(h.clone());
        }
        // Innermost first: up level d-1 takes the bottleneck, each later one its output
        // concatenated with the mirror down level.
        let mut h = skips.pop().expect("depth >= 1");
        for j in (0..d).rev() {
            h = self.up[j].forward(relu(h));
            if j == 0 {
                h = tanh(h);
            } else {
                h = self.up_norms[j - 1].forward(h);
                if j + 3 >= d {
                    h = self.dropout.forward(h);
                }
                h = Tensor::cat(vec![h, skips.pop().expect("one skip per level")], 1);
            }
        }
        crop_to(h, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_input_size_for_odd_sizes() {
        let d = Device::flex();
        let g = UnetGeneratorConfig::new()
            .with_width(4)
            .with_depth(4)
            .init(&d);
        for (h, w) in [(32, 32), (33, 17), (15, 40)] {
            assert_eq!(
                g.forward(Tensor::zeros([1, 3, h, w], &d)).dims(),
                [1, 3, h, w]
            );
        }
        let deep = UnetGeneratorConfig::new().with_width(2).init(&d);
        assert_eq!(
            deep.forward(Tensor::zeros([1, 3, 256, 256], &d)).dims(),
            [1, 3, 256, 256]
        );
    }
}
