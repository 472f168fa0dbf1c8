//! A StyleGAN2-style generator and residual discriminator (Karras et al. 2020), sized for
//! 32–128 px art collections on a CPU, class-conditional like DCGAN.
//!
//! Generator: a mapping network (z and the class embedding → w), a learned 4×4 constant,
//! per resolution an up-sampling and two modulated 3×3 convolutions with per-pixel noise,
//! and a skip architecture (every resolution adds its own RGB, up-sampled, to the output).
//! Discriminator: residual blocks, minibatch standard deviation at 4×4, and a projection
//! head for classes (StyleGAN2-ADA's conditioning).
//!
//! Departures from the paper, each for a reason:
//! - Up- and down-sampling are bilinear resizes and 2×2 average pools instead of FIR-
//!   filtered transposed/strided convolutions: the same anti-aliasing role, plain ops the
//!   CPU backend runs fast.
//! - Four mapping layers instead of eight (StyleGAN2-ADA uses two for small datasets).
//! - No path-length regulariser (StyleGAN2-ADA also leaves it out for small datasets).

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};

use super::generator::{ImageCritic, ImageGenerator, Noise, check_generator_dims, size_log2};
use crate::error::Result;
use crate::nn::equalized::{EqConv2d, EqLinear, ModConv2d, lrelu_gain};
use crate::util::rng::SeededRng;

/// `atelier.kind` of StyleGAN2 generator files.
pub const STYLEGAN2_GENERATOR_KIND: &str = "stylegan2-generator";

fn log2_size(size: usize) -> Result<usize> {
    size_log2("StyleGAN2", size, 128)
}

/// Channels at resolution `res`: `width` at the output, doubling per halving, capped at
/// 8× `width` (e.g. width 32 at 64 px: 256, 256, 128, 64, 32 from 4×4 up).
fn channels(width: usize, size: usize, res: usize) -> usize {
    (width * size / res).min(width * 8)
}

fn pixel_norm_2d(x: Tensor<2>) -> Tensor<2> {
    let ms = x.clone().powf_scalar(2.0).mean_dim(1).add_scalar(1e-8);
    x / ms.sqrt()
}

#[derive(Config, Debug, PartialEq)]
pub struct StyleGan2GeneratorConfig {
    pub size: usize,
    #[config(default = 128)]
    pub z_dim: usize,
    #[config(default = 256)]
    pub w_dim: usize,
    #[config(default = 4)]
    pub mapping_layers: usize,
    /// Channels at the output resolution.
    #[config(default = 32)]
    pub width: usize,
    /// 0 = unconditional.
    #[config(default = 0)]
    pub n_classes: usize,
}

impl StyleGan2GeneratorConfig {
    pub fn validate(&self) -> Result<()> {
        log2_size(self.size)?;
        check_generator_dims(
            &[
                ("width", self.width),
                ("z_dim", self.z_dim),
                ("w_dim", self.w_dim),
                ("mapping_layers", self.mapping_layers),
            ],
            self.n_classes,
        )
    }

    pub fn init(&self, device: &Device) -> StyleGan2Generator {
        let top = log2_size(self.size).expect("validated size");
        let ch = |res: usize| channels(self.width, self.size, res);
        let cond = self.n_classes > 0;
        let d_in = self.z_dim * if cond { 2 } else { 1 };
        let mapping = (0..self.mapping_layers)
            .map(|i| {
                EqLinear::new(
                    if i == 0 { d_in } else { self.w_dim },
                    self.w_dim,
                    0.01,
                    0.0,
                    device,
                )
            })
            .collect();
        let mut blocks = Vec::new();
        for lg in 3..=top {
            let res = 1 << lg;
            blocks.push(SynthesisBlock::new(
                ch(res / 2),
                ch(res),
                lg - 3,
                self.w_dim,
                device,
            ));
        }
        StyleGan2Generator {
            embed: cond.then(|| {
                EmbeddingConfig::new(self.n_classes, self.z_dim)
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: 1.0,
                    })
                    .init(device)
            }),
            mapping,
            constant: Initializer::Normal {
                mean: 0.0,
                std: 1.0,
            }
            .init([1, ch(4), 4, 4], device),
            first: NoisyModConv::new(ch(4), ch(4), 0, self.w_dim, device),
            first_rgb: ModConv2d::new(self.w_dim, ch(4), 3, 1, false, device),
            first_rgb_bias: Initializer::Zeros.init([3], device),
            blocks,
            z_dim: self.z_dim,
        }
    }

    /// Forward outputs per image of G (or D, its mirror), for the memory check: two
    /// convolutions with noise and activation per resolution.
    pub fn activation_floats(&self) -> u64 {
        let top = log2_size(self.size).unwrap_or(6);
        (2..=top)
            .map(|lg| {
                let res = 1u64 << lg;
                6 * channels(self.width, self.size, res as usize) as u64 * res * res
            })
            .sum()
    }
}

/// A modulated convolution, then per-pixel noise (learned strength), bias and activation.
#[derive(Module, Debug)]
pub struct NoisyModConv {
    pub conv: ModConv2d,
    pub noise_strength: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    /// Which fixed noise field this layer takes when sampling.
    pub layer: usize,
}

impl NoisyModConv {
    fn new(c_in: usize, c_out: usize, layer: usize, w_dim: usize, device: &Device) -> Self {
        Self {
            conv: ModConv2d::new(w_dim, c_in, c_out, 3, true, device),
            noise_strength: Initializer::Zeros.init([1], device),
            bias: Initializer::Zeros.init([c_out], device),
            layer,
        }
    }

    fn forward(&self, x: Tensor<4>, w: Tensor<2>, noise: &mut Noise) -> Tensor<4> {
        let y = self.conv.forward(x, w);
        let [n, c, h, wd] = y.dims();
        let device = y.device();
        let field = noise.field(n, h, wd, self.layer, &device);
        let y = y
            + field * self.noise_strength.val().reshape([1, 1, 1, 1])
            + self.bias.val().reshape([1, c, 1, 1]);
        lrelu_gain(y)
    }
}

/// One resolution of the synthesis network: up-sample, two noisy modulated convolutions,
/// and this resolution's RGB contribution.
#[derive(Module, Debug)]
pub struct SynthesisBlock {
    pub conv0: NoisyModConv,
    pub conv1: NoisyModConv,
    pub to_rgb: ModConv2d,
    pub rgb_bias: Param<Tensor<1>>,
}

impl SynthesisBlock {
    /// `index`: the block's position (0 at 8×8), which numbers its noise layers.
    fn new(c_in: usize, c_out: usize, index: usize, w_dim: usize, device: &Device) -> Self {
        Self {
            conv0: NoisyModConv::new(c_in, c_out, 1 + 2 * index, w_dim, device),
            conv1: NoisyModConv::new(c_out, c_out, 2 + 2 * index, w_dim, device),
            to_rgb: ModConv2d::new(w_dim, c_out, 3, 1, false, device),
            rgb_bias: Initializer::Zeros.init([3], device),
        }
    }
}

fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([2 * h, 2 * w]),
    )
}

#[derive(Module, Debug)]
pub struct StyleGan2Generator {
    pub embed: Option<Embedding>,
    pub mapping: Vec<EqLinear>,
    pub constant: Param<Tensor<4>>,
    pub first: NoisyModConv,
    pub first_rgb: ModConv2d,
    pub first_rgb_bias: Param<Tensor<1>>,
    pub blocks: Vec<SynthesisBlock>,
    pub z_dim: usize,
}

impl StyleGan2Generator {
    /// The mapping network: `z` [N, z_dim] (and class labels) → w [N, w_dim], optionally
    /// truncated towards `mean` (w = w̄ + ψ(w − w̄)). (Not `map`: that is burn's
    /// `Module::map`.)
    pub fn map_latents(
        &self,
        z: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        truncation: Option<(f32, Tensor<2>)>,
    ) -> Tensor<2> {
        let w = self.mapping_network(z, labels);
        match truncation {
            Some((psi, mean)) => mean.clone() + (w - mean).mul_scalar(psi),
            None => w,
        }
    }

    fn mapping_network(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let [n, _] = z.dims();
        let mut x = pixel_norm_2d(z);
        match (&self.embed, labels) {
            (Some(embed), Some(y)) => {
                let e = embed.forward(y.reshape([n, 1])).reshape([n, self.z_dim]);
                x = Tensor::cat(vec![x, pixel_norm_2d(e)], 1);
            }
            (Some(_), None) => panic!("conditional generator needs labels"),
            (None, _) => {}
        }
        for layer in &self.mapping {
            x = burn::tensor::activation::leaky_relu(layer.forward(x), 0.2)
                .mul_scalar(std::f64::consts::SQRT_2);
        }
        x
    }

    /// How many w inputs the synthesis network takes (one per modulated layer): style
    /// mixing swaps them from some layer on.
    pub fn num_ws(&self) -> usize {
        2 + 3 * self.blocks.len()
    }

    /// Images [N, 3, S, S] in [-1, 1] (not clamped) from one w per layer.
    pub fn synthesize(&self, ws: &[Tensor<2>], noise: &mut Noise) -> Tensor<4> {
        assert_eq!(ws.len(), self.num_ws(), "one w per modulated layer");
        let [n, _] = ws[0].dims();
        let [_, c, h, w] = self.constant.dims();
        let x = self.constant.val().expand([n, c, h, w]);
        let mut x = self.first.forward(x, ws[0].clone(), noise);
        let bias = |b: &Param<Tensor<1>>| b.val().reshape([1, 3, 1, 1]);
        let mut rgb = self.first_rgb.forward(x.clone(), ws[1].clone()) + bias(&self.first_rgb_bias);
        for (i, block) in self.blocks.iter().enumerate() {
            let w = &ws[2 + 3 * i..5 + 3 * i];
            x = block.conv0.forward(upsample(x), w[0].clone(), noise);
            x = block.conv1.forward(x, w[1].clone(), noise);
            rgb = upsample(rgb)
                + block.to_rgb.forward(x.clone(), w[2].clone())
                + bias(&block.rgb_bias);
        }
        rgb
    }

    /// Images from latents: mapping, optional truncation towards `w_mean` (w = w̄ + ψ(w − w̄)),
    /// synthesis with the same w at every layer.
    pub fn forward(
        &self,
        z: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        truncation: Option<(f32, Tensor<2>)>,
        noise: &mut Noise,
    ) -> Tensor<4> {
        let w = self.map_latents(z, labels, truncation);
        let ws = vec![w; self.num_ws()];
        self.synthesize(&ws, noise)
    }

    /// The mean w of `labels`' classes (or of all latents for an unconditional model), from
    /// a fixed set of 2,048 latents: the truncation trick's centre, [N, w_dim].
    pub fn mean_w(&self, labels: Option<&[i64]>, n: usize, device: &Device) -> Tensor<2> {
        const DRAWS: usize = 2048;
        let z = SeededRng::new(0x3EA9).normal_vec(DRAWS * self.z_dim);
        let z = Tensor::<2>::from_data(TensorData::new(z, [DRAWS, self.z_dim]), device);
        let mean_of = |label: Option<i64>| {
            let l =
                label.map(|l| Tensor::from_data(TensorData::new(vec![l; DRAWS], [DRAWS]), device));
            self.map_latents(z.clone(), l, None).mean_dim(0)
        };
        match labels {
            None => {
                let m = mean_of(None);
                let [_, d] = m.dims();
                m.expand([n, d])
            }
            Some(ls) => {
                let mut cache: std::collections::HashMap<i64, Tensor<2>> = Default::default();
                let rows: Vec<Tensor<2>> = ls
                    .iter()
                    .map(|&l| cache.entry(l).or_insert_with(|| mean_of(Some(l))).clone())
                    .collect();
                Tensor::cat(rows, 0)
            }
        }
    }

    pub fn is_conditional(&self) -> bool {
        self.embed.is_some()
    }
}

impl ImageGenerator for StyleGan2Generator {
    fn latent_dim(&self) -> usize {
        self.z_dim
    }
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>, noise: &mut Noise) -> Tensor<4> {
        self.forward(z, labels, None, noise)
    }
}

impl ImageCritic for ResidualDiscriminator {
    fn score(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        self.forward(x, labels)
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct ResidualDiscriminatorConfig {
    pub size: usize,
    #[config(default = 32)]
    pub width: usize,
    #[config(default = 0)]
    pub n_classes: usize,
}

#[derive(Module, Debug)]
pub struct DiscriminatorBlock {
    pub conv0: EqConv2d,
    pub conv1: EqConv2d,
    pub skip: EqConv2d,
}

impl DiscriminatorBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = self.skip.forward(downsample(x.clone()));
        let h = lrelu_gain(self.conv0.forward(x));
        let h = lrelu_gain(downsample(self.conv1.forward(h)));
        (skip + h).div_scalar(std::f64::consts::SQRT_2)
    }
}

fn downsample(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2]))
}

#[derive(Module, Debug)]
pub struct ResidualDiscriminator {
    pub from_rgb: EqConv2d,
    pub blocks: Vec<DiscriminatorBlock>,
    pub conv: EqConv2d,
    pub fc: EqLinear,
    pub out: EqLinear,
    /// Projection: one feature-sized vector per class.
    pub embed: Option<Embedding>,
}

impl ResidualDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> ResidualDiscriminator {
        let top = log2_size(self.size).expect("validated size");
        let ch = |res: usize| channels(self.width, self.size, res);
        let blocks = (3..=top)
            .rev()
            .map(|lg| {
                let res = 1 << lg;
                DiscriminatorBlock {
                    conv0: EqConv2d::new(ch(res), ch(res), 3, true, device),
                    conv1: EqConv2d::new(ch(res), ch(res / 2), 3, true, device),
                    skip: EqConv2d::new(ch(res), ch(res / 2), 1, false, device),
                }
            })
            .collect();
        let c4 = ch(4);
        let cond = self.n_classes > 0;
        ResidualDiscriminator {
            from_rgb: EqConv2d::new(3, ch(self.size), 1, true, device),
            blocks,
            conv: EqConv2d::new(c4 + 1, c4, 3, true, device),
            fc: EqLinear::new(c4 * 16, c4, 1.0, 0.0, device),
            out: EqLinear::new(c4, if cond { c4 } else { 1 }, 1.0, 0.0, device),
            embed: cond.then(|| {
                EmbeddingConfig::new(self.n_classes, c4)
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: 1.0,
                    })
                    .init(device)
            }),
        }
    }
}

/// One extra feature map: the standard deviation of each feature across a group of up to 4
/// samples, averaged (Karras et al. 2018), so D can see a batch's lack of variety.
pub fn minibatch_stddev(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let mut group = n.min(4);
    while n % group != 0 {
        group -= 1;
    }
    let m = n / group;
    // Sample g·m + j belongs to group j (as StyleGAN's reshape).
    let y = x.clone().reshape([group, m, c, h, w]);
    let centred = y.clone() - y.mean_dim(0);
    let std = centred
        .powf_scalar(2.0)
        .mean_dim(0)
        .add_scalar(1e-8)
        .sqrt()
        .reshape([m, c * h * w])
        .mean_dim(1)
        .reshape([m, 1, 1, 1]);
    let stat = std.repeat_dim(0, group).expand([n, 1, h, w]);
    Tensor::cat(vec![x, stat], 1)
}

impl ResidualDiscriminator {
    /// Raw scores (logits) [N].
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        let mut h = lrelu_gain(self.from_rgb.forward(x));
        for block in &self.blocks {
            h = block.forward(h);
        }
        let h = lrelu_gain(self.conv.forward(minibatch_stddev(h)));
        let [n, c, hh, ww] = h.dims();
        let h =
            burn::tensor::activation::leaky_relu(self.fc.forward(h.reshape([n, c * hh * ww])), 0.2)
                .mul_scalar(std::f64::consts::SQRT_2);
        let out = self.out.forward(h);
        match (&self.embed, labels) {
            (Some(embed), Some(y)) => {
                let [_, d] = out.dims();
                let e = embed.forward(y.reshape([n, 1])).reshape([n, d]);
                (out * e)
                    .sum_dim(1)
                    .reshape([n])
                    .div_scalar((d as f64).sqrt())
            }
            (Some(_), None) => panic!("conditional discriminator needs labels"),
            (None, _) => out.reshape([n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_for_every_size_conditional_or_not() {
        let dev = Device::flex();
        for size in [32, 64] {
            for classes in [0, 3] {
                let cfg = StyleGan2GeneratorConfig::new(size)
                    .with_width(4)
                    .with_z_dim(8)
                    .with_w_dim(8)
                    .with_mapping_layers(2)
                    .with_n_classes(classes);
                cfg.validate().unwrap();
                let g = cfg.init(&dev);
                let labels = (classes > 0).then(|| {
                    Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &dev)
                });
                let img = g.forward(
                    Tensor::ones([2, 8], &dev),
                    labels.clone(),
                    None,
                    &mut Noise::Fixed,
                );
                assert_eq!(img.dims(), [2, 3, size, size]);
                let d = ResidualDiscriminatorConfig::new(size)
                    .with_width(4)
                    .with_n_classes(classes)
                    .init(&dev);
                assert_eq!(d.forward(img, labels).dims(), [2]);
            }
        }
        assert!(StyleGan2GeneratorConfig::new(48).validate().is_err());
    }

    #[test]
    fn minibatch_stddev_is_zero_for_identical_samples_and_grouped_like_stylegan() {
        let dev = Device::flex();
        let same = Tensor::<4>::ones([4, 2, 3, 3], &dev);
        let out = minibatch_stddev(same);
        assert_eq!(out.dims(), [4, 3, 3, 3]);
        let stat: f32 = out.slice(s![.., 2..3]).abs().max().into_scalar();
        assert!(stat < 1e-3);
        // Batch of 6 → groups of 3 (6 % 4 != 0): samples 0, 2, 4 form group 0.
        let v: Vec<f32> = (0..6)
            .map(|i| if i % 2 == 0 { i as f32 } else { 1.0 })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [6, 1, 1, 1]), &dev);
        let s = minibatch_stddev(x)
            .slice(s![.., 1..2])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let expect = (8.0f32 / 3.0).sqrt(); // std of {0, 2, 4}
        assert!(
            (s[0] - expect).abs() < 1e-3 && (s[2] - expect).abs() < 1e-3,
            "{s:?}"
        );
        assert!(s[1] < 1e-3 && s[3] < 1e-3, "{s:?}");
    }

    #[test]
    fn truncation_pulls_towards_the_class_mean_and_fixed_noise_repeats() {
        let dev = Device::flex();
        dev.seed(5);
        let g = StyleGan2GeneratorConfig::new(32)
            .with_width(4)
            .with_z_dim(8)
            .with_w_dim(8)
            .with_mapping_layers(2)
            .with_n_classes(2)
            .init(&dev);
        let z = Tensor::<2>::random([2, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
        let labels = || {
            Some(Tensor::<1, Int>::from_data(
                TensorData::new(vec![0i64, 1], [2]),
                &dev,
            ))
        };
        let a = g.forward(z.clone(), labels(), None, &mut Noise::Fixed);
        let b = g.forward(z.clone(), labels(), None, &mut Noise::Fixed);
        let same: f32 = (a.clone() - b).abs().max().into_scalar();
        assert_eq!(same, 0.0);
        let mean = g.mean_w(Some(&[0, 1]), 2, &dev);
        let at_mean = g.forward(
            z.clone(),
            labels(),
            Some((0.0, mean.clone())),
            &mut Noise::Fixed,
        );
        let ws = vec![mean; g.num_ws()];
        let direct = g.synthesize(&ws, &mut Noise::Fixed);
        let err: f32 = (at_mean - direct).abs().max().into_scalar();
        assert!(err < 1e-5);
        // Random noise changes the image once noise strengths are non-zero.
        let mut g = g;
        g.blocks[0].conv0.noise_strength = Param::from_tensor(Tensor::ones([1], &dev));
        let mut rng = SeededRng::new(1);
        let c = g.forward(z.clone(), labels(), None, &mut Noise::Random(&mut rng));
        let d = g.forward(z, labels(), None, &mut Noise::Fixed);
        let diff: f32 = (c - d).abs().max().into_scalar();
        assert!(diff > 1e-4);
    }
}
