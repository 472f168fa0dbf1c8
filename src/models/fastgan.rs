//! A FastGAN-style generator and self-supervised discriminator (Liu et al. 2021, "Towards
//! Faster and Stabilized GAN Training for High-fidelity Few-shot Image Synthesis"), sized for
//! 32–128 px art collections on a CPU, class-conditional like DCGAN.
//!
//! Generator: z (and the class embedding) → 4×4 → per resolution a nearest up-sampling and
//! one or two 3×3 convolutions with per-pixel noise, each followed by a gated linear unit;
//! skip-layer excitation (SLE) lets a coarse feature map gate the channels of one eight
//! times larger. Discriminator: strided residual down-sampling blocks, an SLE from the
//! input-sized features to the 8×8 ones, a 1×1 + 4×4 head whose map of logits is averaged,
//! a projection term for classes, and two small decoders that must rebuild the real image
//! (from the 8×8 features) and a random quarter of it (from that quarter of the 16×16
//! features): the self-supervision that keeps D learning features of the whole painting
//! instead of memorising a few, FastGAN's answer to small datasets.
//!
//! Departures from the paper, each for a reason:
//! - G normalises with pixel norm instead of batch norm: stateless, so the EMA generator and
//!   one-image sampling behave exactly as in training (as our DCGAN).
//! - D keeps FastGAN's spectral norm *and* batch norm. Without the batch norm (tried
//!   first) every layer can only shrink the signal, D's logits stayed near zero, and G
//!   collapsed to one image per class. D only ever runs in training mode, so its running
//!   statistics are never used.
//! - The reconstructions are compared by L1 on pixels at 32 px, not LPIPS: LPIPS's VGG on
//!   every real batch would cost more than D itself on a CPU.
//! - SLE pairs are 8× apart (4→32, 8→64, 16→128) rather than 16×, so a 64 px generator still
//!   has two of them.

use burn::nn::{BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Initializer};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid, silu, tanh};
use burn::tensor::module::{adaptive_avg_pool2d, avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};

use super::generator::{
    ImageCritic, ImageGenerator, Noise, check_generator_dims, class_projection, size_log2,
    with_class_embedding,
};
use crate::error::Result;
use crate::nn::conv::gan_init;
use crate::nn::{SnConv2d, SnConv2dConfig, SnLinear, SnLinearConfig, pixel_norm};
use crate::util::rng::SeededRng;

/// `atelier.kind` of FastGAN generator files.
pub const FASTGAN_GENERATOR_KIND: &str = "fastgan-generator";

/// Side of the discriminator's reconstructions.
const RECON_SIDE: usize = 32;

fn log2_size(size: usize) -> Result<usize> {
    // 256 px: FastGAN's own scale (the paper trains at 256 to 1024); the others stop at 128.
    size_log2("FastGAN", size, 256)
}

/// Generator channels at resolution `res`: 2× `width` at the two finest resolutions,
/// doubling per halving below them, capped at 16× (FastGAN's proportions; width 16 at
/// 64 px: 256, 128, 64, 32, 32 from 4×4 up).
fn g_channels(width: usize, size: usize, res: usize) -> usize {
    width * (size / res).clamp(2, 16)
}

/// Discriminator channels at resolution `res`: 2× `width` at the input, doubling per
/// halving, capped at 16× (width 16 at 64 px: 32, 64, 128, 256 down to 8×8).
fn d_channels(width: usize, size: usize, res: usize) -> usize {
    width * (2 * size / res).min(16)
}

/// Gated linear unit over channels: the first half gated by the sigmoid of the second.
fn glu(x: Tensor<4>) -> Tensor<4> {
    let c = x.dims()[1] / 2;
    x.clone().narrow(1, 0, c) * sigmoid(x.narrow(1, c, c))
}

fn up_nearest(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
    )
}

fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, sn: bool, dev: &Device) -> SnConv2d {
    SnConv2dConfig::new([c_in, c_out], k)
        .with_stride(stride)
        .with_padding(if k == 4 && stride == 1 {
            0
        } else {
            (k - 1) / 2
        })
        .with_spectral_norm(sn)
        .init(dev)
}

#[derive(Config, Debug, PartialEq)]
pub struct FastGanGeneratorConfig {
    pub size: usize,
    #[config(default = 128)]
    pub z_dim: usize,
    /// Half the channels at the output resolution.
    #[config(default = 16)]
    pub width: usize,
    /// 0 = unconditional.
    #[config(default = 0)]
    pub n_classes: usize,
}

/// Skip-layer excitation: a coarse map, pooled to 4×4, becomes one gate in (0, 1) per
/// channel of a finer map.
#[derive(Module, Debug)]
pub struct SkipExcitation {
    pub squeeze: SnConv2d,
    pub excite: SnConv2d,
}

impl SkipExcitation {
    fn new(c_small: usize, c_big: usize, sn: bool, dev: &Device) -> Self {
        Self {
            squeeze: conv(c_small, c_big, 4, 1, sn, dev),
            excite: conv(c_big, c_big, 1, 1, sn, dev),
        }
    }

    fn forward(&self, small: Tensor<4>, big: Tensor<4>) -> Tensor<4> {
        let s = adaptive_avg_pool2d(small, [4, 4]);
        let gate = sigmoid(self.excite.forward(silu(self.squeeze.forward(s))));
        big * gate
    }
}

/// Up-sample, then one or two 3×3 convolutions, each with noise, pixel norm and a GLU.
#[derive(Module, Debug)]
pub struct UpBlock {
    pub convs: Vec<SnConv2d>,
    /// Learned noise strength per convolution (FastGAN's `NoiseInjection`, one scalar).
    pub noise_strength: Vec<burn::module::Param<Tensor<1>>>,
    /// The first noise field's index among the generator's fixed fields.
    pub noise_layer: usize,
}

impl UpBlock {
    fn new(c_in: usize, c_out: usize, double: bool, noise_layer: usize, dev: &Device) -> Self {
        let n = if double { 2 } else { 1 };
        Self {
            convs: (0..n)
                .map(|i| {
                    conv(
                        if i == 0 { c_in } else { c_out },
                        2 * c_out,
                        3,
                        1,
                        false,
                        dev,
                    )
                })
                .collect(),
            noise_strength: (0..n).map(|_| Initializer::Zeros.init([1], dev)).collect(),
            noise_layer,
        }
    }

    fn forward(&self, x: Tensor<4>, noise: &mut Noise) -> Tensor<4> {
        let mut h = up_nearest(x);
        for (i, (conv, strength)) in self.convs.iter().zip(&self.noise_strength).enumerate() {
            h = conv.forward(h);
            let [n, _, hh, ww] = h.dims();
            let field = noise.field(n, hh, ww, self.noise_layer + i, &h.device());
            h = h + field * strength.val().reshape([1, 1, 1, 1]);
            h = glu(pixel_norm(h));
        }
        h
    }
}

#[derive(Module, Debug)]
pub struct FastGanGenerator {
    pub embed: Option<Embedding>,
    /// z → 4×4 map (a 4×4 transposed convolution of a 1×1 input, as a linear layer).
    pub init: SnLinear,
    pub blocks: Vec<UpBlock>,
    /// Gates for the blocks at index `i + 3` (the resolution 8× that of block `i`'s input).
    pub excitations: Vec<SkipExcitation>,
    pub to_rgb: SnConv2d,
    pub z_dim: usize,
    pub c4: usize,
}

impl FastGanGeneratorConfig {
    pub fn validate(&self) -> Result<()> {
        log2_size(self.size)?;
        check_generator_dims(
            &[("width", self.width), ("z_dim", self.z_dim)],
            self.n_classes,
        )
    }

    pub fn init(&self, device: &Device) -> FastGanGenerator {
        let top = log2_size(self.size).expect("validated size");
        let ch = |res: usize| g_channels(self.width, self.size, res);
        let cond = self.n_classes > 0;
        let d_in = self.z_dim * if cond { 2 } else { 1 };
        let mut blocks = Vec::new();
        let mut noise_layer = 0;
        for lg in 3..=top {
            let res = 1usize << lg;
            // FastGAN alternates two-convolution blocks (8, 32, 128) with one-convolution ones.
            let double = lg % 2 == 1;
            blocks.push(UpBlock::new(
                ch(res / 2),
                ch(res),
                double,
                noise_layer,
                device,
            ));
            noise_layer += if double { 2 } else { 1 };
        }
        let excitations = (5..=top)
            .map(|lg| SkipExcitation::new(ch(1 << (lg - 3)), ch(1 << lg), false, device))
            .collect();
        FastGanGenerator {
            embed: cond.then(|| {
                EmbeddingConfig::new(self.n_classes, self.z_dim)
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: 1.0,
                    })
                    .init(device)
            }),
            init: SnLinearConfig::new(d_in, 2 * ch(4) * 16).init(device),
            blocks,
            excitations,
            to_rgb: conv(ch(self.size), 3, 3, 1, false, device),
            z_dim: self.z_dim,
            c4: ch(4),
        }
    }

    /// Forward outputs per image of G (or D, about its size), for the memory check: each
    /// convolution's doubled output, its norm and its gate, at every resolution.
    pub fn activation_floats(&self) -> u64 {
        let top = log2_size(self.size).unwrap_or(6);
        (2..=top)
            .map(|lg| {
                let res = 1u64 << lg;
                8 * g_channels(self.width, self.size, res as usize) as u64 * res * res
            })
            .sum()
    }
}

impl FastGanGenerator {
    /// Images in [-1, 1] from latents [N, z_dim] and, for a conditional model, labels [N].
    pub fn forward(
        &self,
        z: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        noise: &mut Noise,
    ) -> Tensor<4> {
        let [n, _] = z.dims();
        let x = with_class_embedding(z, &self.embed, labels);
        let h = glu(pixel_norm(self.init.forward(x).reshape([
            n,
            2 * self.c4,
            4,
            4,
        ])));
        // feats[i] is the map at 4·2^i px; block i makes feats[i + 1].
        let mut feats = vec![h];
        for (i, block) in self.blocks.iter().enumerate() {
            let mut h = block.forward(feats[i].clone(), noise);
            if i >= 2 {
                h = self.excitations[i - 2].forward(feats[i - 2].clone(), h);
            }
            feats.push(h);
        }
        tanh(
            self.to_rgb
                .forward(feats.pop().expect("at least one block")),
        )
    }
}

impl ImageGenerator for FastGanGenerator {
    fn latent_dim(&self) -> usize {
        self.z_dim
    }
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>, noise: &mut Noise) -> Tensor<4> {
        self.forward(z, labels, noise)
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct FastGanDiscriminatorConfig {
    pub size: usize,
    #[config(default = 16)]
    pub width: usize,
    #[config(default = 0)]
    pub n_classes: usize,
}

/// A spectrally normalised convolution followed by batch norm (FastGAN's D layer: the norm
/// gives back the scale spectral norm takes away, so D's logits can grow).
#[derive(Module, Debug)]
pub struct SnBnConv {
    pub conv: SnConv2d,
    pub norm: BatchNorm,
}

impl SnBnConv {
    fn new(c_in: usize, c_out: usize, k: usize, stride: usize, dev: &Device) -> Self {
        Self {
            conv: conv(c_in, c_out, k, stride, true, dev),
            norm: BatchNormConfig::new(c_out).init(dev),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.norm.forward(self.conv.forward(x))
    }
}

/// Halve the side: a strided 4×4 and a 3×3 convolution, averaged with a pooled 1×1 path.
#[derive(Module, Debug)]
pub struct DownBlock {
    pub conv0: SnBnConv,
    pub conv1: SnBnConv,
    pub skip: SnBnConv,
}

impl DownBlock {
    fn new(c_in: usize, c_out: usize, dev: &Device) -> Self {
        Self {
            conv0: SnBnConv::new(c_in, c_out, 4, 2, dev),
            conv1: SnBnConv::new(c_out, c_out, 3, 1, dev),
            skip: SnBnConv::new(c_in, c_out, 1, 1, dev),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let main = leaky_relu(self.conv0.forward(x.clone()), 0.2);
        let main = leaky_relu(self.conv1.forward(main), 0.2);
        let pooled = avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2]));
        let skip = leaky_relu(self.skip.forward(pooled), 0.2);
        (main + skip).div_scalar(2.0)
    }
}

/// Rebuilds a 32 px image from a feature map of 8×8 (or a quarter of 16×16).
#[derive(Module, Debug)]
pub struct Decoder {
    pub ups: Vec<SnBnConv>,
    pub to_rgb: SnConv2d,
}

impl Decoder {
    fn new(c_in: usize, width: usize, dev: &Device) -> Self {
        let (c1, c2) = (4 * width, 2 * width);
        Self {
            ups: vec![
                SnBnConv::new(c_in, 2 * c1, 3, 1, dev),
                SnBnConv::new(c1, 2 * c2, 3, 1, dev),
            ],
            to_rgb: conv(c2, 3, 3, 1, true, dev),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = adaptive_avg_pool2d(x, [RECON_SIDE / 4, RECON_SIDE / 4]);
        for up in &self.ups {
            h = glu(up.forward(up_nearest(h)));
        }
        tanh(self.to_rgb.forward(h))
    }
}

#[derive(Module, Debug)]
pub struct FastGanDiscriminator {
    pub from_rgb: SnConv2d,
    /// Down to 8×8.
    pub downs: Vec<DownBlock>,
    /// The input-sized features gate the 8×8 ones.
    pub excitation: SkipExcitation,
    pub head_mix: SnBnConv,
    pub head_out: SnConv2d,
    /// Projection: one vector per class, against the pooled 8×8 features.
    pub embed: Option<Embedding>,
    pub decode_whole: Decoder,
    pub decode_part: Decoder,
}

impl FastGanDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> FastGanDiscriminator {
        let top = log2_size(self.size).expect("validated size");
        let ch = |res: usize| d_channels(self.width, self.size, res);
        let downs = (4..=top)
            .rev()
            .map(|lg| DownBlock::new(ch(1 << lg), ch(1 << (lg - 1)), device))
            .collect();
        let c8 = ch(8);
        FastGanDiscriminator {
            from_rgb: conv(3, ch(self.size), 3, 1, true, device),
            downs,
            excitation: SkipExcitation::new(ch(self.size), c8, true, device),
            head_mix: SnBnConv::new(c8, c8 / 2, 1, 1, device),
            head_out: conv(c8 / 2, 1, 4, 1, true, device),
            embed: (self.n_classes > 0).then(|| {
                EmbeddingConfig::new(self.n_classes, c8)
                    .with_initializer(gan_init())
                    .init(device)
            }),
            decode_whole: Decoder::new(c8, self.width, device),
            decode_part: Decoder::new(ch(16), self.width, device),
        }
    }
}

/// What the discriminator computed on a batch: scores, and the maps its decoders read.
struct Features {
    scores: Tensor<1>,
    f8: Tensor<4>,
    f16: Tensor<4>,
}

impl FastGanDiscriminator {
    fn features(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Features {
        let first = leaky_relu(self.from_rgb.forward(x), 0.2);
        let mut h = first.clone();
        let mut f16 = None;
        for down in &self.downs {
            h = down.forward(h);
            if h.dims()[2] == 16 {
                f16 = Some(h.clone());
            }
        }
        let f8 = self.excitation.forward(first, h);
        let logits = self
            .head_out
            .forward(leaky_relu(self.head_mix.forward(f8.clone()), 0.2));
        let [n, ..] = logits.dims();
        let mut scores = logits.mean_dims(&[1, 2, 3]).reshape([n]);
        let c = f8.dims()[1];
        if let Some(class) = class_projection(
            &self.embed,
            labels,
            f8.clone().mean_dims(&[2, 3]).reshape([n, c]),
        ) {
            scores = scores + class;
        }
        Features {
            scores,
            f8,
            f16: f16.expect("every size passes 16×16"),
        }
    }

    /// Raw scores (logits) [N].
    pub fn forward(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        self.features(x, labels).scores
    }

    /// Scores, and the self-supervised loss: L1 between the decoders' images and the input
    /// (whole, at 32 px) and its quarter `quarter` (0–3, row-major, at 32 px).
    pub fn forward_with_reconstruction(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        quarter: usize,
    ) -> (Tensor<1>, Tensor<1>) {
        let [_, _, side, _] = x.dims();
        let f = self.features(x.clone(), labels);
        let resize = |t: Tensor<4>| {
            interpolate(
                t,
                InterpolateOptions::new(InterpolateMode::Bilinear)
                    .with_output_size([RECON_SIDE, RECON_SIDE]),
            )
        };
        let (qy, qx) = (quarter / 2, quarter % 2);
        let whole = (self.decode_whole.forward(f.f8) - resize(x.clone()))
            .abs()
            .mean();
        let part_feat = f.f16.narrow(2, qy * 8, 8).narrow(3, qx * 8, 8);
        let half = side / 2;
        let part_img = resize(x.narrow(2, qy * half, half).narrow(3, qx * half, half));
        let part = (self.decode_part.forward(part_feat) - part_img)
            .abs()
            .mean();
        (f.scores, whole + part)
    }
}

impl ImageCritic for FastGanDiscriminator {
    fn score(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        self.forward(x, labels)
    }

    fn score_real(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        rng: &mut SeededRng,
    ) -> (Tensor<1>, Option<Tensor<1>>) {
        let (scores, recon) = self.forward_with_reconstruction(x, labels, rng.below(4));
        (scores, Some(recon))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[i64], dev: &Device) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), dev)
    }

    #[test]
    fn shapes_for_every_size_conditional_or_not() {
        let dev = Device::flex();
        for size in [32, 64, 128, 256] {
            for classes in [0, 3] {
                let g = FastGanGeneratorConfig::new(size)
                    .with_width(4)
                    .with_z_dim(16)
                    .with_n_classes(classes)
                    .init(&dev);
                let y = (classes > 0).then(|| labels(&[0, 2], &dev));
                let z = Tensor::random([2, 16], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
                let img = g.forward(z, y.clone(), &mut Noise::Fixed);
                assert_eq!(img.dims(), [2, 3, size, size]);
                let d = FastGanDiscriminatorConfig::new(size)
                    .with_width(4)
                    .with_n_classes(classes)
                    .init(&dev);
                let (s, rec) = d.forward_with_reconstruction(img, y, 3);
                assert_eq!(s.dims(), [2]);
                let rec: f32 = rec.into_scalar();
                assert!(rec.is_finite() && rec > 0.0, "reconstruction loss {rec}");
            }
        }
        assert_eq!(
            FastGanGeneratorConfig::new(64).init(&dev).excitations.len(),
            2
        );
        assert_eq!(
            FastGanGeneratorConfig::new(256)
                .init(&dev)
                .excitations
                .len(),
            4
        );
        for bad in [16, 48, 512] {
            let e = FastGanGeneratorConfig::new(bad).validate().unwrap_err();
            assert!(e.to_string().contains("sizes 32, 64, 128, 256, not"), "{e}");
        }
        assert!(
            FastGanGeneratorConfig::new(64)
                .with_width(0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn excitation_gates_each_channel_by_the_coarse_map() {
        let dev = Device::flex();
        dev.seed(5);
        let se = SkipExcitation::new(4, 6, false, &dev);
        let small = Tensor::<4>::random([2, 4, 8, 8], burn::tensor::Distribution::Default, &dev);
        let big = Tensor::<4>::ones([2, 6, 16, 16], &dev);
        let out = se.forward(small.clone(), big);
        // One gate per sample and channel, constant over the map, strictly inside (0, 1).
        let spread: f32 = (out.clone().max_dims(&[2, 3]) - out.clone().min_dims(&[2, 3]))
            .max()
            .into_scalar();
        assert!(spread < 1e-6);
        let v = out.into_data().try_to_vec::<f32>().unwrap();
        assert!(v.iter().all(|&g| g > 0.0 && g < 1.0));
        // A different coarse map gives different gates.
        let other = se.forward(small.neg(), Tensor::ones([2, 6, 16, 16], &dev));
        let moved: f32 = (other.into_data().try_to_vec::<f32>().unwrap())
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(moved > 1e-3);
    }

    #[test]
    fn fixed_noise_repeats_and_random_noise_varies_once_it_has_strength() {
        let dev = Device::flex();
        dev.seed(7);
        let mut g = FastGanGeneratorConfig::new(32)
            .with_width(4)
            .with_z_dim(8)
            .init(&dev);
        for b in &mut g.blocks {
            for s in &mut b.noise_strength {
                *s = burn::module::Param::from_tensor(Tensor::ones([1], &dev));
            }
        }
        let z = Tensor::<2>::ones([1, 8], &dev);
        let run = |noise: &mut Noise| {
            g.forward(z.clone(), None, noise)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(run(&mut Noise::Fixed), run(&mut Noise::Fixed));
        let mut rng = SeededRng::new(1);
        let a = run(&mut Noise::Random(&mut rng));
        let b = run(&mut Noise::Random(&mut rng));
        assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4));
    }
}
