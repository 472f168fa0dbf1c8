//! DCGAN (Radford et al. 2016) generator and discriminator for 32, 64 and 128 px, with a
//! class-conditional variant: a class embedding concatenated to the latent in G, and a
//! projection discriminator (Miyato & Koyama 2018) in D.
//!
//! Departures from the 2016 paper, each for a reason:
//! - G normalises with pixel norm instead of batch norm: stateless, so the EMA generator
//!   and single-image inference behave exactly like training.
//! - D can use spectral norm (the default) or batch norm, or none.

use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, tanh};
use serde::{Deserialize, Serialize};

use super::generator::{
    ImageCritic, ImageGenerator, Noise, class_projection, with_class_embedding,
};
use crate::error::{AtelierError, Result};
use crate::nn::conv::gan_init;
use crate::nn::{SnConv2d, SnConv2dConfig, SnLinear, SnLinearConfig, pixel_norm};

fn n_ups(size: usize) -> Result<usize> {
    match size {
        32 => Ok(3),
        64 => Ok(4),
        128 => Ok(5),
        other => Err(AtelierError::Config(format!(
            "DCGAN supports sizes 32, 64 and 128, not {other}"
        ))),
    }
}

/// Channels at each resolution step i (0 = 4x4), capped at 8x the base width.
fn channels(width: usize, size: usize, i: usize) -> usize {
    let n = n_ups(size).unwrap_or(4);
    width * (1usize << (n - 1 - i.min(n - 1))).min(8)
}

/// Forward outputs per image of a DCGAN network (G, or D, its mirror): each resolution
/// step's channels times its pixels, for the conv and its norm/activation.
pub fn activation_floats(width: usize, size: usize) -> u64 {
    let n = n_ups(size).unwrap_or(4);
    (0..n)
        .map(|i| {
            let side = 4u64 << i;
            2 * channels(width, size, i) as u64 * side * side
        })
        .sum::<u64>()
        + 3 * (size * size) as u64
}

#[derive(Config, Debug, PartialEq)]
pub struct DcganGeneratorConfig {
    pub size: usize,
    #[config(default = 128)]
    pub z_dim: usize,
    #[config(default = 64)]
    pub width: usize,
    /// 0 = unconditional.
    #[config(default = 0)]
    pub n_classes: usize,
    #[config(default = 64)]
    pub embed_dim: usize,
}

#[derive(Module, Debug)]
pub struct DcganGenerator {
    pub embed: Option<Embedding>,
    pub fc: Linear,
    pub ups: Vec<ConvTranspose2d>,
    pub to_rgb: ConvTranspose2d,
    pub base: usize,
    pub z_dim: usize,
}

impl DcganGeneratorConfig {
    pub fn validate(&self) -> Result<()> {
        n_ups(self.size)?;
        if self.width == 0 || self.z_dim == 0 {
            return Err(AtelierError::Config(
                "width and z_dim must be positive".into(),
            ));
        }
        // Far beyond any real model; keeps channel arithmetic from overflowing on a crafted
        // file. What is possible below this is decided by the memory check.
        const LIMIT: usize = 1 << 20;
        for (name, v) in [
            ("width", self.width),
            ("z_dim", self.z_dim),
            ("n_classes", self.n_classes),
            ("embed_dim", self.embed_dim),
        ] {
            if v > LIMIT {
                return Err(AtelierError::Config(format!(
                    "{name} {v} is beyond what a DCGAN can have (at most {LIMIT})"
                )));
            }
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> DcganGenerator {
        let n = n_ups(self.size).expect("validated size");
        let c0 = channels(self.width, self.size, 0);
        let cond = self.n_classes > 0;
        let d_in = self.z_dim + if cond { self.embed_dim } else { 0 };
        let up = |cin: usize, cout: usize| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_initializer(gan_init())
                .init(device)
        };
        DcganGenerator {
            embed: cond.then(|| {
                EmbeddingConfig::new(self.n_classes, self.embed_dim)
                    .with_initializer(burn::nn::Initializer::Normal {
                        mean: 0.0,
                        std: 1.0,
                    })
                    .init(device)
            }),
            fc: LinearConfig::new(d_in, c0 * 16)
                .with_initializer(gan_init())
                .init(device),
            ups: (0..n - 1)
                .map(|i| {
                    up(
                        channels(self.width, self.size, i),
                        channels(self.width, self.size, i + 1),
                    )
                })
                .collect(),
            to_rgb: up(channels(self.width, self.size, n - 1), 3),
            base: c0,
            z_dim: self.z_dim,
        }
    }
}

impl DcganGenerator {
    /// `z`: [N, z_dim]; `labels`: [N] class indices for a conditional model.
    /// Returns images [N, 3, S, S] in [-1, 1].
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let [n, _] = z.dims();
        let x = with_class_embedding(z, &self.embed, labels);
        let mut h = relu(pixel_norm(self.fc.forward(x).reshape([n, self.base, 4, 4])));
        for up in &self.ups {
            h = relu(pixel_norm(up.forward(h)));
        }
        tanh(self.to_rgb.forward(h))
    }

    pub fn is_conditional(&self) -> bool {
        self.embed.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DNorm {
    None,
    Batch,
    #[default]
    Spectral,
}

#[derive(Config, Debug, PartialEq)]
pub struct DcganDiscriminatorConfig {
    pub size: usize,
    #[config(default = 64)]
    pub width: usize,
    #[config(default = 0)]
    pub n_classes: usize,
    #[config(default = "DNorm::Spectral")]
    pub norm: DNorm,
}

#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    pub convs: Vec<SnConv2d>,
    pub norms: Vec<BatchNorm>,
    pub head: SnLinear,
    /// Projection: one feature-sized vector per class.
    pub embed: Option<Embedding>,
    #[module(skip)]
    pub norm: DNorm,
}

impl DcganDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> DcganDiscriminator {
        let n = n_ups(self.size).expect("validated size");
        let sn = self.norm == DNorm::Spectral;
        // Mirror of G: 3 -> c(n-1) -> ... -> c(0) at 4x4.
        let chans: Vec<usize> = (0..n)
            .rev()
            .map(|i| channels(self.width, self.size, i))
            .collect();
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut cin = 3;
        for (i, &cout) in chans.iter().enumerate() {
            convs.push(
                SnConv2dConfig::new([cin, cout], 4)
                    .with_stride(2)
                    .with_padding(1)
                    .with_spectral_norm(sn)
                    .init(device),
            );
            // No norm on the first layer, as in DCGAN.
            if self.norm == DNorm::Batch && i > 0 {
                norms.push(BatchNormConfig::new(cout).init(device));
            }
            cin = cout;
        }
        DcganDiscriminator {
            convs,
            norms,
            head: SnLinearConfig::new(cin * 16, 1)
                .with_spectral_norm(sn)
                .init(device),
            embed: (self.n_classes > 0).then(|| {
                EmbeddingConfig::new(self.n_classes, cin)
                    .with_initializer(gan_init())
                    .init(device)
            }),
            norm: self.norm,
        }
    }
}

impl DcganDiscriminator {
    /// Raw scores (logits) [N].
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        let mut h = x;
        for (i, conv) in self.convs.iter().enumerate() {
            h = conv.forward(h);
            if !self.norms.is_empty() && i > 0 {
                h = self.norms[i - 1].forward(h);
            }
            h = leaky_relu(h, 0.2);
        }
        let [n, c, hh, ww] = h.dims();
        let out = self
            .head
            .forward(h.clone().reshape([n, c * hh * ww]))
            .reshape([n]);
        match class_projection(&self.embed, labels, h.mean_dims(&[2, 3]).reshape([n, c])) {
            Some(class) => out + class,
            None => out,
        }
    }
}

/// `atelier.kind` of DCGAN generator files.
pub const DCGAN_GENERATOR_KIND: &str = "dcgan-generator";

impl ImageGenerator for DcganGenerator {
    fn latent_dim(&self) -> usize {
        self.z_dim
    }
    fn images(
        &self,
        z: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        _noise: &mut Noise,
    ) -> Tensor<4> {
        self.forward(z, labels)
    }
}

impl ImageCritic for DcganDiscriminator {
    fn score(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        self.forward(x, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_for_every_size_conditional_or_not() {
        let dev = Device::flex();
        for size in [32, 64, 128] {
            for classes in [0, 3] {
                let g = DcganGeneratorConfig::new(size)
                    .with_width(8)
                    .with_z_dim(16)
                    .with_n_classes(classes)
                    .init(&dev);
                let labels = (classes > 0).then(|| {
                    Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &dev)
                });
                let img = g.forward(Tensor::zeros([2, 16], &dev), labels.clone());
                assert_eq!(img.dims(), [2, 3, size, size]);
                for norm in [DNorm::None, DNorm::Batch, DNorm::Spectral] {
                    let d = DcganDiscriminatorConfig::new(size)
                        .with_width(8)
                        .with_n_classes(classes)
                        .with_norm(norm)
                        .init(&dev);
                    assert_eq!(d.forward(img.clone(), labels.clone()).dims(), [2]);
                }
            }
        }
        assert!(DcganGeneratorConfig::new(48).validate().is_err());
    }

    #[test]
    fn class_label_changes_the_output() {
        let dev = Device::flex();
        dev.seed(3);
        let g = DcganGeneratorConfig::new(32)
            .with_width(8)
            .with_z_dim(8)
            .with_n_classes(2)
            .init(&dev);
        let z = Tensor::<2>::ones([1, 8], &dev);
        let a = g.forward(
            z.clone(),
            Some(Tensor::from_data(TensorData::new(vec![0i64], [1]), &dev)),
        );
        let b = g.forward(
            z,
            Some(Tensor::from_data(TensorData::new(vec![1i64], [1]), &dev)),
        );
        let diff: f32 = (a - b).abs().sum().into_scalar();
        assert!(diff > 1e-3);
    }
}
