//! Training a feed-forward style network (Johnson et al. 2016; many styles in one network
//! through conditional instance norm, Dumoulin et al. 2017) on the engine's
//! single-network path.
//!
//! Loss on a frozen VGG16: the output's Gram matrices at the style layers against its
//! style's painting, its features at the content layers against the photo's, and total
//! variation. Each style layer's term is divided by its target's own magnitude ‖A‖² and the
//! content term by the target features' mean square, as in `stylize --method optimize`, so
//! the weights mean the same for every painting and the defaults carry over.

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;

use crate::data::loader::Examples;
use crate::error::{AtelierError, Result};
use crate::imaging::grid::rows_sheet;
use crate::imaging::io::resize_short_side;
use crate::imaging::tensor::{Range, image_to_tensor, push_chw, tensor_to_images};
use crate::losses::style_objective::LayerChoice;
use crate::losses::temporal::{RandomWarp, WarpSpec, compound_temporal_loss};
use crate::losses::{gram_matrix, tv_loss};
use crate::models::style_net::{StyleNet, StyleNetMeta, save_style_net, style_mix};
use crate::models::vgg::Vgg;
use crate::train::{RunRecipe, SingleRecipe, StepLosses};
use crate::util::rng::SeededRng;

/// Loss weights (relative terms; see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StyleLossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// Compound temporal regularisation (`losses::temporal`), for video; 0 = off.
    #[serde(default)]
    pub temporal: f64,
}

/// Content crops, each with the style it is to be painted in.
pub struct StyleBatch {
    pub pixels: Vec<f32>,
    pub styles: Vec<usize>,
    pub size: usize,
}

impl StyleBatch {
    /// The crops [N, 3, S, S] in [0, 1].
    pub fn images(&self, device: &Device) -> Tensor<4> {
        let (n, s) = (self.styles.len(), self.size);
        Tensor::from_data(TensorData::new(self.pixels.clone(), [n, 3, s, s]), device)
    }

    /// One-hot style weights [N, styles].
    pub fn mix(&self, styles: usize, device: &Device) -> Tensor<2> {
        Tensor::cat(
            self.styles
                .iter()
                .map(|&s| style_mix(styles, &[(s, 1.0)], device))
                .collect(),
            0,
        )
    }
}

/// Photos (and video frames) held in memory at a reduced size, cut into square crops at
/// random scales (a crop covers from `size` pixels up to the whole short side), flipped at
/// random, each given a random style.
pub struct ContentCrops {
    pub images: Vec<RgbImage>,
    pub size: u32,
    pub styles: usize,
}

impl ContentCrops {
    /// Keep `images` with their short side at most `2 × size` (larger crops add nothing
    /// a 2× downscale loses, and memory stays small).
    pub fn new(images: Vec<RgbImage>, size: u32, styles: usize) -> Self {
        let images = images
            .into_iter()
            .map(|img| {
                if img.width().min(img.height()) > 2 * size {
                    resize_short_side(&img, 2 * size)
                } else {
                    img
                }
            })
            .collect();
        Self {
            images,
            size,
            styles,
        }
    }

    fn crop(&self, index: usize, rng: &mut SeededRng) -> RgbImage {
        let img = &self.images[index];
        let (w, h) = img.dimensions();
        let short = w.min(h);
        let side = if short <= self.size {
            short
        } else {
            // Log-uniform in [size, short]: small and large scales equally often.
            let t = rng.uniform() as f64;
            let s = (self.size as f64) * (short as f64 / self.size as f64).powf(t);
            (s.round() as u32).clamp(self.size, short)
        };
        let x = rng.below((w - side + 1) as usize) as u32;
        let y = rng.below((h - side + 1) as usize) as u32;
        let crop = image::imageops::crop_imm(img, x, y, side, side).to_image();
        let mut out = if side == self.size {
            crop
        } else {
            image::imageops::resize(
                &crop,
                self.size,
                self.size,
                image::imageops::FilterType::Triangle,
            )
        };
        if rng.coin() {
            image::imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }
}

impl Examples for ContentCrops {
    type Batch = StyleBatch;

    fn len(&self) -> usize {
        self.images.len()
    }

    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> StyleBatch {
        let mut pixels = Vec::with_capacity(picks.len() * 3 * (self.size * self.size) as usize);
        let mut styles = Vec::with_capacity(picks.len());
        for (i, mut rng) in picks {
            styles.push(rng.below(self.styles));
            push_chw(&self.crop(i, &mut rng), Range::Unit, &mut pixels);
        }
        StyleBatch {
            pixels,
            styles,
            size: self.size as usize,
        }
    }
}

pub struct StyleRecipe {
    vgg: Vgg,
    layers: LayerChoice,
    /// Per style, per style layer: the painting's Gram matrix [1, C, C].
    grams: Vec<Vec<Tensor<3>>>,
    /// Per style, per style layer: 1 / ‖A‖².
    gram_norms: Vec<Vec<f32>>,
    weights: StyleLossWeights,
    meta: StyleNetMeta,
    /// Fixed content images for the sample sheet.
    sheet: Vec<RgbImage>,
    command: String,
    device: Device,
}

impl StyleRecipe {
    /// Compute every style's Gram targets once. `vgg` lives on the training device;
    /// `paintings` are already at the size their statistics are taken at.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vgg: Vgg,
        layers: LayerChoice,
        paintings: &[RgbImage],
        weights: StyleLossWeights,
        meta: StyleNetMeta,
        sheet: Vec<RgbImage>,
        command: String,
        device: Device,
    ) -> Result<Self> {
        vgg.check(&layers.all())?;
        let mut grams = Vec::with_capacity(paintings.len());
        let mut gram_norms = Vec::with_capacity(paintings.len());
        for p in paintings {
            let x = image_to_tensor(p, Range::Unit, &device);
            let g: Vec<Tensor<3>> = vgg
                .features(x, &layers.style)?
                .into_iter()
                .map(|f| gram_matrix(f).detach())
                .collect();
            gram_norms.push(
                g.iter()
                    .map(|t| {
                        1.0 / (t.clone() * t.clone())
                            .sum()
                            .into_scalar::<f32>()
                            .max(1e-12)
                    })
                    .collect(),
            );
            grams.push(g);
        }
        if grams.is_empty() {
            return Err(AtelierError::Config(
                "at least one style image is needed".into(),
            ));
        }
        Ok(Self {
            vgg,
            layers,
            grams,
            gram_norms,
            weights,
            meta,
            sheet,
            command,
            device,
        })
    }

    fn styles(&self) -> usize {
        self.grams.len()
    }

    /// The loss terms (content, style, tv) of a batch, and its outputs.
    pub fn terms(&self, net: &StyleNet, batch: &StyleBatch) -> ([Tensor<1>; 3], Tensor<4>) {
        let d = &self.device;
        let x = batch.images(d);
        let y = net.forward(x.clone(), &batch.mix(self.styles(), d));
        let n_style = self.layers.style.len();
        let checked = "layers checked when the recipe was built";
        let mut fy = self
            .vgg
            .features(y.clone(), &self.layers.all())
            .expect(checked);
        let fy_content = fy.split_off(n_style);
        let fx = self
            .vgg
            .features(x.detach(), &self.layers.content)
            .expect(checked);
        let mut content = Tensor::<1>::zeros([1], d);
        for (f, t) in fy_content.into_iter().zip(fx) {
            let t = t.detach();
            let scale = (t.clone() * t.clone()).mean().detach().add_scalar(1e-12);
            let diff = f - t;
            content = content + (diff.clone() * diff).mean() / scale;
        }
        let n = batch.styles.len();
        let mut style = Tensor::<1>::zeros([1], d);
        for (l, f) in fy.into_iter().enumerate() {
            let g = gram_matrix(f);
            let target = Tensor::cat(
                batch
                    .styles
                    .iter()
                    .map(|&s| self.grams[s][l].clone())
                    .collect(),
                0,
            );
            let norms: Vec<f32> = batch
                .styles
                .iter()
                .map(|&s| self.gram_norms[s][l])
                .collect();
            let norms = Tensor::<1>::from_data(TensorData::new(norms, [n]), d);
            let diff = g - target;
            let per_image = (diff.clone() * diff).sum_dim(2).sum_dim(1).reshape([n]);
            style = style + (per_image * norms).mean() * self.layers.style_weights[l] as f64;
        }
        ([content, style, tv_loss(y.clone())], y)
    }
}

impl RunRecipe for StyleRecipe {
    type Net = StyleNet;

    /// One row per sheet photo: the photo, then it in every style.
    fn sample_sheet(&self, net: &StyleNet) -> Result<RgbImage> {
        let d = self.device.clone().without_autodiff();
        let rows = self
            .sheet
            .iter()
            .map(|img| {
                let x = image_to_tensor(img, Range::Unit, &d);
                let mut row = vec![img.clone()];
                for s in 0..self.styles() {
                    let y = net.forward(x.clone(), &style_mix(self.styles(), &[(s, 1.0)], &d));
                    row.extend(tensor_to_images(y, Range::Unit));
                }
                row
            })
            .collect::<Vec<_>>();
        Ok(rows_sheet(&rows))
    }

    fn export(&self, net: &StyleNet, path: &Path) -> Result<()> {
        save_style_net(net, &self.meta, &self.command, path)
    }

    fn model_file_name(&self) -> &'static str {
        "style-network.safetensors"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "weights": self.weights,
            "style_layers": self.layers.style.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            "content_layers": self.layers.content.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            "vgg": self.vgg.source(),
            "styles": self.meta.styles,
        })
    }
}

impl SingleRecipe for StyleRecipe {
    type Batch = StyleBatch;

    fn loss(&self, net: &StyleNet, batch: &StyleBatch, rng: &mut SeededRng) -> StepLosses {
        let ([content, style, tv], y) = self.terms(net, batch);
        let w = self.weights;
        let mut loss = content * w.content + style * w.style + tv * w.tv;
        if w.temporal > 0.0 {
            // The same photos moved a little and grained: their stylisation must move along.
            let d = &self.device;
            let x = batch.images(d);
            let warp = RandomWarp::sample(x.dims(), WarpSpec::default(), rng, d);
            let y2 = net.forward(warp.perturb(x), &batch.mix(self.styles(), d));
            loss = loss + compound_temporal_loss(y, y2, &warp) * w.temporal;
        }
        StepLosses::loss(loss)
    }
}
