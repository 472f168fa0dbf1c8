//! What every image generator family (DCGAN, StyleGAN2, FastGAN) shares: the traits the
//! generation recipe trains through, sampling helpers (sheets, seeded images for FID), and
//! the model file as `generate`, `interpolate`, `eval` and the studio load it, whatever its
//! family.

use std::path::Path;

use burn::nn::Embedding;
use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::dcgan::{DCGAN_GENERATOR_KIND, DcganGenerator, DcganGeneratorConfig};
use super::fastgan::{FASTGAN_GENERATOR_KIND, FastGanGenerator, FastGanGeneratorConfig};
use super::model_file::{ModelMeta, load_into, model_kind, open_model};
use super::stylegan2::{STYLEGAN2_GENERATOR_KIND, StyleGan2Generator, StyleGan2GeneratorConfig};
use crate::error::{AtelierError, Result};
use crate::imaging::grid::{make_grid, square_cols};
use crate::imaging::tensor::{Range, tensor_to_images};
use crate::util::rng::SeededRng;

/// The generator families `train gan --arch` offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GanArch {
    /// DCGAN (2016): transposed convolutions, pixel norm; the fast baseline.
    #[default]
    Dcgan,
    /// StyleGAN2-style: mapping network, modulated convolutions, noise, skip outputs,
    /// residual discriminator, lazy R1.
    Stylegan2,
    /// FastGAN-style: gated up-sampling blocks with skip-layer excitation, a discriminator
    /// that must also rebuild real images; quick to train on small collections.
    Fastgan,
}

/// Where a generator's per-pixel noise comes from (StyleGAN2 has noise inputs; DCGAN
/// ignores it).
pub enum Noise<'a> {
    /// Fresh Gaussian noise from the run's generator (training: resumable exactly).
    Random(&'a mut SeededRng),
    /// One fixed field per resolution, the same for every sample and every call
    /// (sampling: a latent always gives the same image).
    Fixed,
}

impl Noise<'_> {
    /// A noise field [n, 1, h, w] (fixed noise: [1, 1, h, w], shared by the batch); `layer`
    /// picks the fixed field.
    pub fn field(
        &mut self,
        n: usize,
        h: usize,
        w: usize,
        layer: usize,
        device: &Device,
    ) -> Tensor<4> {
        match self {
            Noise::Random(rng) => Tensor::from_data(
                TensorData::new(rng.normal_vec(n * h * w), [n, 1, h, w]),
                device,
            ),
            Noise::Fixed => {
                let v = SeededRng::derived(0x5EED_0015E, &[layer as u64]).normal_vec(h * w);
                Tensor::from_data(TensorData::new(v, [1, 1, h, w]), device)
            }
        }
    }
}

/// A generator the generation recipe can train: latents (and classes) to images in [-1, 1].
pub trait ImageGenerator: burn::module::Module {
    fn latent_dim(&self) -> usize;
    /// Images [N, 3, S, S] from `z` [N, latent_dim] and, for a conditional model, labels [N].
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>, noise: &mut Noise) -> Tensor<4>;
}

/// A discriminator the generation recipe can train: raw scores (logits) [N].
pub trait ImageCritic: burn::module::Module {
    fn score(&self, x: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1>;

    /// Scores of real images, and a loss of D's own on them if it has one (FastGAN's
    /// self-supervised reconstruction), added to D's loss in the same pass. `rng` is the
    /// run's, so a critic that draws (which part to rebuild) resumes exactly.
    fn score_real(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        _rng: &mut SeededRng,
    ) -> (Tensor<1>, Option<Tensor<1>>) {
        (self.score(x, labels), None)
    }
}

/// log2 of a generator's output side, for the sizes a family builds: powers of two from 32
/// up to `largest`; `family` names it in the error.
pub fn size_log2(family: &str, size: usize, largest: usize) -> Result<usize> {
    if size.is_power_of_two() && (32..=largest).contains(&size) {
        return Ok(size.trailing_zeros() as usize);
    }
    let sizes: Vec<String> = (5..=largest.trailing_zeros())
        .map(|lg| (1usize << lg).to_string())
        .collect();
    Err(AtelierError::Config(format!(
        "{family} supports sizes {}, not {size}",
        sizes.join(", ")
    )))
}

/// Refuse generator settings out of range before anything is built: each named size
/// (width, latent sizes, layer counts) in 1..=65,536, and at most as many classes.
pub fn check_generator_dims(sizes: &[(&str, usize)], n_classes: usize) -> Result<()> {
    const LIMIT: usize = 1 << 16;
    for &(name, v) in sizes {
        if v == 0 || v > LIMIT {
            return Err(AtelierError::Config(format!(
                "{name} must be between 1 and {LIMIT}, got {v}"
            )));
        }
    }
    if n_classes > LIMIT {
        return Err(AtelierError::Config(format!(
            "{n_classes} classes is beyond what this generator can have"
        )));
    }
    Ok(())
}

/// The generator's input for latents `z` [N, z_dim]: `z` alone, or with a conditional
/// model's class embedding appended (DCGAN's and FastGAN's conditioning).
pub fn with_class_embedding(
    z: Tensor<2>,
    embed: &Option<Embedding>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    let [n, _] = z.dims();
    match (embed, labels) {
        (Some(embed), Some(y)) => {
            let e = embed.forward(y.reshape([n, 1]));
            let [_, _, d] = e.dims();
            Tensor::cat(vec![z, e.reshape([n, d])], 1)
        }
        (Some(_), None) => panic!("conditional generator needs labels"),
        (None, _) => z,
    }
}

/// A projection discriminator's class term (Miyato & Koyama 2018): ⟨embed(y), features⟩
/// per sample, for features [N, C] pooled from D's last map; `None` without classes.
pub fn class_projection(
    embed: &Option<Embedding>,
    labels: Option<Tensor<1, Int>>,
    pooled: Tensor<2>,
) -> Option<Tensor<1>> {
    let (Some(embed), Some(y)) = (embed, labels) else {
        return None;
    };
    let [n, c] = pooled.dims();
    let e = embed.forward(y.reshape([n, 1])).reshape([n, c]);
    Some((pooled * e).sum_dim(1).reshape([n]))
}

pub fn labels_for(n: usize, n_classes: usize, class: Option<usize>) -> Option<Vec<i64>> {
    (n_classes > 0).then(|| {
        (0..n)
            .map(|i| class.unwrap_or(i % n_classes) as i64)
            .collect()
    })
}

/// Images from latents `z` (rows of `z_dim`) and optional labels, 64 at a time so large
/// counts stay in bounded memory. `forward` maps one chunk (latents, labels) to images.
fn render_chunks(
    z_dim: usize,
    z: &[f32],
    labels: Option<&[i64]>,
    device: &Device,
    mut forward: impl FnMut(Tensor<2>, Option<&[i64]>) -> Tensor<4>,
) -> Vec<RgbImage> {
    let n = z.len() / z_dim;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(64) {
        let m = (n - start).min(64);
        let zt = Tensor::from_data(
            TensorData::new(z[start * z_dim..(start + m) * z_dim].to_vec(), [m, z_dim]),
            device,
        );
        out.extend(tensor_to_images(
            forward(zt, labels.map(|l| &l[start..start + m])),
            Range::Signed,
        ));
    }
    out
}

fn label_tensor(labels: Option<&[i64]>, device: &Device) -> Option<Tensor<1, Int>> {
    labels.map(|l| Tensor::from_data(TensorData::new(l.to_vec(), [l.len()]), device))
}

/// Images from latents and optional labels, with fixed noise.
pub fn render_images<G: ImageGenerator>(
    g: &G,
    z: &[f32],
    labels: Option<&[i64]>,
    device: &Device,
) -> Vec<RgbImage> {
    render_chunks(g.latent_dim(), z, labels, device, |zt, l| {
        g.images(zt, label_tensor(l, device), &mut Noise::Fixed)
    })
}

/// `n` images from seeded latents, classes cycling (what FID during training measures).
pub fn seeded_images<G: ImageGenerator>(
    g: &G,
    n_classes: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> Vec<RgbImage> {
    let z = SeededRng::new(seed).normal_vec(n * g.latent_dim());
    let labels = labels_for(n, n_classes, None);
    render_images(g, &z, labels.as_deref(), device)
}

/// The training-time sample sheet: fixed latents from `seed`; a conditional model gets
/// one row per class (classes cycle along each row when there are more classes than rows).
pub fn sample_sheet<G: ImageGenerator>(
    g: &G,
    n_classes: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> RgbImage {
    let cols = if n_classes > 0 {
        n.div_ceil(n_classes.min(n))
    } else {
        square_cols(n)
    };
    let z = SeededRng::new(seed).normal_vec(n * g.latent_dim());
    let labels = (n_classes > 0).then(|| {
        (0..n)
            .map(|i| ((i / cols) % n_classes) as i64)
            .collect::<Vec<_>>()
    });
    make_grid(&render_images(g, &z, labels.as_deref(), device), cols, 2)
}

/// A loaded generator network of any family. One exists per loaded model, so the
/// variants' different sizes cost nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum GeneratorNet {
    Dcgan(DcganGenerator),
    Stylegan2(StyleGan2Generator),
    Fastgan(FastGanGenerator),
}

/// What loading needs of a family's generator settings.
trait FamilyConfig: serde::de::DeserializeOwned {
    type Net: burn::module::Module;
    /// The model file's `atelier.kind`.
    const KIND: &'static str;
    fn check(&self) -> Result<()>;
    fn build(&self, device: &Device) -> Self::Net;
    /// (latent size, classes, output side).
    fn dims(&self) -> (usize, usize, usize);
}

impl FamilyConfig for DcganGeneratorConfig {
    type Net = DcganGenerator;
    const KIND: &'static str = DCGAN_GENERATOR_KIND;
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn build(&self, device: &Device) -> DcganGenerator {
        self.init(device)
    }
    fn dims(&self) -> (usize, usize, usize) {
        (self.z_dim, self.n_classes, self.size)
    }
}

impl FamilyConfig for StyleGan2GeneratorConfig {
    type Net = StyleGan2Generator;
    const KIND: &'static str = STYLEGAN2_GENERATOR_KIND;
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn build(&self, device: &Device) -> StyleGan2Generator {
        self.init(device)
    }
    fn dims(&self) -> (usize, usize, usize) {
        (self.z_dim, self.n_classes, self.size)
    }
}

impl FamilyConfig for FastGanGeneratorConfig {
    type Net = FastGanGenerator;
    const KIND: &'static str = FASTGAN_GENERATOR_KIND;
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn build(&self, device: &Device) -> FastGanGenerator {
        self.init(device)
    }
    fn dims(&self) -> (usize, usize, usize) {
        (self.z_dim, self.n_classes, self.size)
    }
}

/// Open a generator file of family `C`: its settings (checked, and matching its class
/// names), the network with the file's weights, and the metadata.
fn open_family<C: FamilyConfig>(path: &Path, device: &Device) -> Result<(C, C::Net, ModelMeta)> {
    let bad = |reason: String| AtelierError::BadModel {
        path: path.to_path_buf(),
        reason,
    };
    let (meta, tensors) = open_model(
        path,
        C::KIND,
        "generate needs a generator model (train gan makes one)",
    )?;
    let config: C = serde_json::from_str(&meta.config_json).map_err(|e| {
        bad(format!(
            "its settings do not describe a {} ({e})",
            meta.kind
        ))
    })?;
    config.check().map_err(|e| bad(e.to_string()))?;
    let (_, n_classes, _) = config.dims();
    if n_classes != meta.classes.len() && n_classes > 0 {
        return Err(bad(format!(
            "config has {} classes but the file names {}",
            n_classes,
            meta.classes.len()
        )));
    }
    let net = load_into(config.build(device), tensors, device, path)?;
    Ok((config, net, meta))
}

/// A generator model file as loaded: the network, its settings and class names.
pub struct LoadedGenerator {
    pub net: GeneratorNet,
    pub z_dim: usize,
    pub n_classes: usize,
    /// Output side in pixels.
    pub size: usize,
    pub classes: Vec<String>,
    pub trained_with: Option<String>,
    pub device: Device,
}

impl LoadedGenerator {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        if !path.exists() {
            return Err(AtelierError::BadModel {
                path: path.to_path_buf(),
                reason: "no such file (pass --model FILE or set ATELIER_MODEL; the default model \
                         ships in the source tree's models/ folder)"
                    .into(),
            });
        }
        let kind = model_kind(path)?;
        let (net, (z_dim, n_classes, size), meta) = if kind == STYLEGAN2_GENERATOR_KIND {
            let (c, g, meta) = open_family::<StyleGan2GeneratorConfig>(path, device)?;
            (GeneratorNet::Stylegan2(g), c.dims(), meta)
        } else if kind == FASTGAN_GENERATOR_KIND {
            let (c, g, meta) = open_family::<FastGanGeneratorConfig>(path, device)?;
            (GeneratorNet::Fastgan(g), c.dims(), meta)
        } else {
            let (c, g, meta) = open_family::<DcganGeneratorConfig>(path, device)?;
            (GeneratorNet::Dcgan(g), c.dims(), meta)
        };
        Ok(Self {
            net,
            z_dim,
            n_classes,
            size,
            classes: meta.classes,
            trained_with: meta.trained_with,
            device: device.clone(),
        })
    }

    pub fn class_index(&self, name: &str) -> Result<usize> {
        let unknown = || AtelierError::UnknownClass {
            name: name.to_string(),
            known: if self.classes.is_empty() {
                "no classes (an unconditional model)".into()
            } else {
                self.classes.join(", ")
            },
        };
        self.classes
            .iter()
            .position(|c| c == name)
            .ok_or_else(unknown)
    }

    /// `n` latents for sampling. The truncation trick differs by family: DCGAN redraws
    /// (and FastGAN) latent entries beyond ±`truncation`; StyleGAN2 draws plain latents and pulls w
    /// towards its class mean by ψ = `truncation` in [`Self::render`].
    pub fn draw_latents(&self, rng: &mut SeededRng, n: usize, truncation: Option<f32>) -> Vec<f32> {
        match (&self.net, truncation) {
            (GeneratorNet::Dcgan(_) | GeneratorNet::Fastgan(_), Some(t)) => {
                rng.truncated_normal_vec(n * self.z_dim, t)
            }
            _ => rng.normal_vec(n * self.z_dim),
        }
    }

    /// Images from latents (rows of `z_dim`) and optional labels; `truncation` is ψ for a
    /// StyleGAN2 model (DCGAN's truncation is in [`Self::draw_latents`]).
    pub fn render(
        &self,
        z: Vec<f32>,
        labels: Option<Vec<i64>>,
        truncation: Option<f32>,
    ) -> Vec<RgbImage> {
        let device = &self.device;
        match &self.net {
            GeneratorNet::Dcgan(g) => render_images(g, &z, labels.as_deref(), device),
            GeneratorNet::Fastgan(g) => render_images(g, &z, labels.as_deref(), device),
            GeneratorNet::Stylegan2(g) => {
                render_chunks(self.z_dim, &z, labels.as_deref(), device, |zt, l| {
                    let [n, _] = zt.dims();
                    let trunc = truncation.map(|psi| (psi, g.mean_w(l, n, device)));
                    g.forward(zt, label_tensor(l, device), trunc, &mut Noise::Fixed)
                })
            }
        }
    }

    /// StyleGAN2 style mixing: each image takes its coarse layers (those before
    /// `from_layer`) from `coarse` and the rest from `fine`. `None` for DCGAN.
    pub fn mix(
        &self,
        coarse: Vec<f32>,
        fine: Vec<f32>,
        labels: Option<Vec<i64>>,
        from_layer: usize,
        truncation: Option<f32>,
    ) -> Option<Vec<RgbImage>> {
        let GeneratorNet::Stylegan2(g) = &self.net else {
            return None;
        };
        let device = &self.device;
        let n = coarse.len() / self.z_dim;
        let l = labels.as_deref();
        let trunc = truncation.map(|psi| (psi, g.mean_w(l, n, device)));
        let to_w = |z: Vec<f32>| {
            let zt = Tensor::<2>::from_data(TensorData::new(z, [n, self.z_dim]), device);
            g.map_latents(zt, label_tensor(l, device), trunc.clone())
        };
        let (a, b) = (to_w(coarse), to_w(fine));
        let cut = from_layer.min(g.num_ws());
        let ws: Vec<Tensor<2>> = (0..g.num_ws())
            .map(|i| if i < cut { a.clone() } else { b.clone() })
            .collect();
        Some(tensor_to_images(
            g.synthesize(&ws, &mut Noise::Fixed),
            Range::Signed,
        ))
    }

    /// The number of per-layer latents a StyleGAN2 model takes (style mixing's layer range).
    pub fn num_layers(&self) -> Option<usize> {
        match &self.net {
            GeneratorNet::Stylegan2(g) => Some(g.num_ws()),
            GeneratorNet::Dcgan(_) | GeneratorNet::Fastgan(_) => None,
        }
    }
}

/// The model-file metadata of a generator: its family's kind, settings and class names,
/// and the command that trained it.
pub fn generator_meta(
    kind: &str,
    config: &impl Serialize,
    classes: &[String],
    command: &str,
) -> ModelMeta {
    ModelMeta {
        kind: kind.into(),
        config_json: serde_json::to_string(config).expect("config serialises"),
        classes: classes.to_vec(),
        trained_with: Some(command.to_string()),
    }
}
