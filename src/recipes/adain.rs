//! Training an AdaIN decoder (Huang & Belongie 2017) on the engine's single-network path.
//!
//! A step: photos' encoder features `f` get a random style sample's statistics, `t =
//! AdaIN(f, s)`; the decoder paints `g = D(t)`; the loss is the encoder's view of `g`
//! against `t` at the AdaIN layer (content) plus its channel means and standard deviations
//! against the style's at `relu1_1 … reluD_1` (style). The encoder is frozen, so the style
//! samples' statistics are computed once, before training, into a [`StyleBank`]: a step
//! runs the encoder only on the photos and on the output.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use super::style::{ContentCrops, StyleBatch};
use crate::data::loader::Examples;
use crate::error::{AtelierError, Result};
use crate::imaging::grid::rows_sheet;
use crate::imaging::io::{LoadOptions, load_rgb};
use crate::imaging::tensor::{Range, image_to_tensor, tensor_to_images};
use crate::losses::temporal::{RandomWarp, WarpSpec, compound_temporal_loss};
use crate::models::adain::{AdainDecoder, AdainDecoderConfig, AdainMeta, save_adain};
use crate::models::vgg::{Vgg, VggLayer};
use crate::nn::norm::{ChannelStats, NormContext, adain};
use crate::train::{RunRecipe, SingleRecipe, StepLosses};
use crate::util::rng::SeededRng;

/// The first ReLU of every block down to the AdaIN layer: where style is matched.
pub fn style_layers(depth: VggLayer) -> Vec<VggLayer> {
    (1..=depth.block + 1)
        .map(|b| VggLayer::relu(b, 1))
        .collect()
}

/// Style statistics of many painting crops, per style layer: means and standard
/// deviations [M, C].
pub struct StyleBank {
    pub means: Vec<Tensor<2>>,
    pub stds: Vec<Tensor<2>>,
}

impl StyleBank {
    /// `crops` square crops of `size` px spread evenly over the `sources` (each a list of
    /// images: one folder or file), within a source over its images in a seeded order, each
    /// at a random scale and position. Statistics come from `vgg` at `layers`; the
    /// tensors are put on `device`.
    pub fn build(
        sources: &[Vec<PathBuf>],
        crops: usize,
        size: u32,
        seed: u64,
        vgg: &Vgg,
        layers: &[VggLayer],
        device: &Device,
    ) -> Result<Self> {
        vgg.check(layers)?;
        let sources: Vec<&Vec<PathBuf>> = sources.iter().filter(|s| !s.is_empty()).collect();
        if sources.is_empty() {
            return Err(AtelierError::Config("no style images were found".into()));
        }
        let quota = crops.div_ceil(sources.len()).max(1);
        let mut files = Vec::with_capacity(quota * sources.len());
        for (k, src) in sources.iter().enumerate() {
            let mut order: Vec<usize> = (0..src.len()).collect();
            SeededRng::derived(seed, &[7, k as u64]).shuffle(&mut order);
            files.extend((0..quota).map(|j| src[order[j % src.len()]].clone()));
        }
        let mut unique = files.clone();
        unique.sort();
        unique.dedup();
        let opts = LoadOptions::default();
        let images = unique
            .iter()
            .map(|f| {
                let img = load_rgb(f, &opts)?;
                if img.width().min(img.height()) < 32 {
                    return Err(AtelierError::Config(format!(
                        "style image {} is {}x{}: too small (at least 32 px a side)",
                        f.display(),
                        img.width(),
                        img.height()
                    )));
                }
                Ok(img)
            })
            .collect::<Result<Vec<_>>>()?;
        let crops_of = ContentCrops::new(images, size, 1);
        let index: Vec<usize> = files
            .iter()
            .map(|f| unique.binary_search(f).expect("listed"))
            .collect();
        let vgg_device = vgg.device();
        let (mut means, mut stds) = (vec![vec![]; layers.len()], vec![vec![]; layers.len()]);
        let bar = crate::util::progress::bar(files.len() as u64);
        bar.set_message("style statistics");
        for (b, chunk) in index.chunks(8).enumerate() {
            let picks = chunk
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, SeededRng::derived(seed, &[8, (b * 8 + j) as u64])))
                .collect();
            let batch = crops_of.collate(picks);
            let feats = vgg.features(batch.images(&vgg_device), layers)?;
            for (l, f) in feats.into_iter().enumerate() {
                let s = ChannelStats::of(f);
                let c = s.mean.dims()[1];
                let n = chunk.len();
                means[l].push(s.mean.reshape([n, c]).to_device(device).detach());
                stds[l].push(s.std.reshape([n, c]).to_device(device).detach());
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(Self {
            means: means.into_iter().map(|m| Tensor::cat(m, 0)).collect(),
            stds: stds.into_iter().map(|s| Tensor::cat(s, 0)).collect(),
        })
    }

    /// How many style samples the bank holds.
    pub fn len(&self) -> usize {
        self.means.first().map_or(0, |m| m.dims()[0])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The statistics at layer `l` of the samples `picks`, as [N, C, 1, 1].
    fn stats(&self, l: usize, picks: &[usize]) -> ChannelStats {
        let device = self.means[l].device();
        let idx = Tensor::<1, Int>::from_data(
            TensorData::new(picks.iter().map(|&i| i as i64).collect(), [picks.len()]),
            &device,
        );
        let c = self.means[l].dims()[1];
        let n = picks.len();
        ChannelStats {
            mean: self.means[l]
                .clone()
                .select(0, idx.clone())
                .reshape([n, c, 1, 1]),
            std: self.stds[l].clone().select(0, idx).reshape([n, c, 1, 1]),
        }
    }
}

/// Loss weights.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdainLossWeights {
    pub content: f64,
    pub style: f64,
    /// Compound temporal regularisation (`losses::temporal`), for video; 0 = off.
    #[serde(default)]
    pub temporal: f64,
}

pub struct AdainRecipe {
    vgg: Vgg,
    config: AdainDecoderConfig,
    layers: Vec<VggLayer>,
    bank: StyleBank,
    weights: AdainLossWeights,
    meta: AdainMeta,
    /// Sample sheet: photos (rows) and paintings (columns), already at the training size.
    sheet_content: Vec<RgbImage>,
    sheet_styles: Vec<RgbImage>,
    command: String,
    device: Device,
}

impl AdainRecipe {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vgg: Vgg,
        bank: StyleBank,
        weights: AdainLossWeights,
        meta: AdainMeta,
        sheet_content: Vec<RgbImage>,
        sheet_styles: Vec<RgbImage>,
        command: String,
        device: Device,
    ) -> Result<Self> {
        let config = meta.decoder.clone();
        let depth = config.layer().map_err(AtelierError::Config)?;
        let layers = style_layers(depth);
        vgg.check(&layers)?;
        if bank.is_empty() {
            return Err(AtelierError::Config("the style bank is empty".into()));
        }
        Ok(Self {
            vgg,
            config,
            layers,
            bank,
            weights,
            meta,
            sheet_content,
            sheet_styles,
            command,
            device,
        })
    }

    /// How many style samples the bank holds (what a batch's style indices pick from).
    pub fn style_samples(&self) -> usize {
        self.bank.len()
    }

    /// The AdaIN target (the photos' deepest features given the style's statistics).
    fn target(&self, photos: Tensor<4>, want: &ChannelStats) -> Tensor<4> {
        let deepest = self.layers.len() - 1;
        let f = self
            .vgg
            .features(photos, &self.layers[deepest..])
            .expect("layers checked when the recipe was built")
            .remove(0)
            .detach();
        adain(f, want, &mut NormContext::own()).detach()
    }

    /// (content, style) loss terms of a batch whose style indices pick bank samples, and
    /// the decoded images.
    pub fn terms(&self, decoder: &AdainDecoder, batch: &StyleBatch) -> ([Tensor<1>; 2], Tensor<4>) {
        let d = &self.device;
        let checked = "layers checked when the recipe was built";
        let deepest = self.layers.len() - 1;
        // The style's statistics at every style layer; the deepest is also AdaIN's target.
        let wants: Vec<ChannelStats> = (0..self.layers.len())
            .map(|l| self.bank.stats(l, &batch.styles))
            .collect();
        let t = self.target(batch.images(d), &wants[deepest]);
        let g = decoder.forward(t.clone());
        let feats = self.vgg.features(g.clone(), &self.layers).expect(checked);
        let mse = |a: Tensor<4>, b: Tensor<4>| {
            let diff = a - b;
            (diff.clone() * diff).mean()
        };
        let content = mse(feats[deepest].clone(), t);
        let mut style = Tensor::<1>::zeros([1], d);
        for (fl, want) in feats.into_iter().zip(wants) {
            let got = ChannelStats::of(fl);
            style = style + mse(got.mean, want.mean) + mse(got.std, want.std);
        }
        ([content, style], g)
    }
}

impl RunRecipe for AdainRecipe {
    type Net = AdainDecoder;

    /// A header row of the paintings, then one row per photo: the photo and it in each.
    fn sample_sheet(&self, decoder: &AdainDecoder) -> Result<RgbImage> {
        let d = self.device.clone().without_autodiff();
        let vgg = self.vgg.valid();
        let model = crate::models::adain::AdainModel {
            encoder: &vgg,
            decoder,
            config: &self.config,
        };
        let targets: Vec<ChannelStats> = self
            .sheet_styles
            .iter()
            .map(|s| model.style_stats(image_to_tensor(s, Range::Unit, &d)))
            .collect();
        let size = self.meta.size as u32;
        let mut rows = vec![
            std::iter::once(RgbImage::from_pixel(
                size,
                size,
                image::Rgb([128, 128, 128]),
            ))
            .chain(self.sheet_styles.iter().cloned())
            .collect::<Vec<_>>(),
        ];
        for img in &self.sheet_content {
            let x = image_to_tensor(img, Range::Unit, &d);
            let mut row = vec![img.clone()];
            for t in &targets {
                let target = crate::models::adain::StyleTarget::Uniform(t.clone());
                let y = model.stylize_with(x.clone(), &target, 1.0, &mut NormContext::own());
                row.extend(tensor_to_images(y, Range::Unit));
            }
            rows.push(row);
        }
        Ok(rows_sheet(&rows))
    }

    fn export(&self, decoder: &AdainDecoder, path: &Path) -> Result<()> {
        save_adain(decoder, &self.meta, &self.command, path)
    }

    fn model_file_name(&self) -> &'static str {
        "adain-decoder.safetensors"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "weights": self.weights,
            "decoder": self.config,
            "style_layers": self.layers.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            "style_samples": self.bank.len(),
            "vgg": self.vgg.source(),
        })
    }
}

impl SingleRecipe for AdainRecipe {
    type Batch = StyleBatch;

    fn loss(&self, decoder: &AdainDecoder, batch: &StyleBatch, rng: &mut SeededRng) -> StepLosses {
        let ([content, style], g) = self.terms(decoder, batch);
        let w = self.weights;
        let mut loss = content * w.content + style * w.style;
        if w.temporal > 0.0 {
            // The same photos moved a little and grained, given the same style.
            let d = &self.device;
            let x = batch.images(d);
            let warp = RandomWarp::sample(x.dims(), WarpSpec::default(), rng, d);
            let deepest = self.layers.len() - 1;
            let t2 = self.target(warp.perturb(x), &self.bank.stats(deepest, &batch.styles));
            loss = loss + compound_temporal_loss(g, decoder.forward(t2), &warp) * w.temporal;
        }
        StepLosses::loss(loss)
    }
}
