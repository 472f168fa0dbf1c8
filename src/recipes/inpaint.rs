//! Inpainting on the GAN engine (DeepFill v2's recipe, with LaMa's perceptual term): a
//! gated-convolution generator fills the holes; an SN-PatchGAN judges the filled image
//! with its mask (hinge loss).
//!
//! The generator's loss, for both its coarse and its refined output:
//! - L1 on the holes, a mean over hole pixels (so a thin crack counts as much as a big
//!   loss); the generator returns every other pixel unchanged by construction, so there is
//!   no loss on the rest;
//! - perceptual: L1 between VGG16 features (relu1_2, relu2_2, relu3_3) of the refined
//!   output and the original, each layer divided by the original's mean activation;
//! - adversarial (hinge) on the composite: the original outside the holes, the fill inside.

use std::path::Path;

use burn::prelude::*;
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::data::inpaint::InpaintBatch;
use crate::error::Result;
use crate::imaging::grid::rows_sheet;
use crate::losses::adversarial::{GanLoss, d_loss, g_loss, mean_score};
use crate::metrics::paired::{hole_l1, psnr};
use crate::models::inpaint::{
    Fill, InpaintGenerator, InpaintMeta, SnPatchDiscriminator, composite, inpaint_batch,
    save_inpainter, show_holes,
};
use crate::models::vgg::{Vgg, VggLayer};
use crate::nn::diff_augment::{AugmentPolicy, augment};
use crate::train::{GanRecipe, RunRecipe, StepLosses};
use crate::util::atomic::write_atomic;
use crate::util::rng::SeededRng;

/// The held-out paintings' list, written beside the model (one path per line, as given).
pub const HELDOUT_FILE: &str = "heldout.txt";

/// Loss weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InpaintLossWeights {
    pub hole: f64,
    pub perceptual: f64,
    pub adversarial: f64,
}

pub struct InpaintRecipe {
    pub meta: InpaintMeta,
    pub weights: InpaintLossWeights,
    /// Differentiable augmentation of what D sees: the image gets the whole draw, its mask
    /// the same translation and cutout.
    pub augment: AugmentPolicy,
    /// The perceptual loss network (absent when its weight is 0).
    pub vgg: Option<Vgg>,
    pub device: Device,
    /// Fixed (painting, mask) examples for the sample sheet.
    pub sheet: Vec<(RgbImage, GrayImage)>,
    /// Held-out examples with fixed masks: validation numbers and FID samples.
    pub val: Vec<(RgbImage, GrayImage)>,
    /// The held-out paintings' files, listed in `heldout.txt` beside the model.
    pub heldout: Vec<std::path::PathBuf>,
    pub command: String,
}

/// The perceptual layers (VGG16 names; all within its first 7 convolutions).
fn perceptual_layers() -> Vec<VggLayer> {
    ["relu1_2", "relu2_2", "relu3_3"]
        .iter()
        .map(|l| l.parse().expect("valid layer names"))
        .collect()
}

/// Mean |a − b| over the pixels where `weight` is 1, for a [N, 1, H, W] 0/1 weight.
fn masked_l1(a: Tensor<4>, b: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    let channels = a.dims()[1] as f64;
    let area = weight.clone().sum().mul_scalar(channels).add_scalar(1.0);
    ((a - b).abs() * weight).sum() / area
}

impl InpaintRecipe {
    /// The batch's originals and masks on the training device, and G's fill of it.
    fn fill(&self, g: &InpaintGenerator, batch: &InpaintBatch) -> (Tensor<4>, Tensor<4>, Fill) {
        let (real, mask) = (batch.images(&self.device), batch.masks(&self.device));
        let fill = g.forward(batch.prefilled(&self.device), mask.clone());
        (real, mask, fill)
    }

    /// D's patch scores for `image` with its `mask`, through a fresh augmentation draw when
    /// augmentation is on.
    fn scores(
        &self,
        d: &SnPatchDiscriminator,
        image: Tensor<4>,
        mask: Tensor<4>,
        rng: &mut SeededRng,
    ) -> Tensor<1> {
        let draw = self.augment.draw(image.dims(), rng);
        let mask_draw = draw.as_ref().map(|d| d.geometric());
        d.flat_scores(augment(&draw, image), augment(&mask_draw, mask))
    }

    fn inference_device(&self) -> Device {
        self.device.clone().without_autodiff()
    }

    fn pixel_loss(&self, out: Tensor<4>, real: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
        masked_l1(out, real, mask).mul_scalar(self.weights.hole)
    }

    fn perceptual(&self, out: Tensor<4>, real: Tensor<4>) -> Option<Tensor<1>> {
        let vgg = self.vgg.as_ref()?;
        let layers = perceptual_layers();
        let unit = |x: Tensor<4>| x.add_scalar(1.0).mul_scalar(0.5);
        let fo = vgg
            .features(unit(out), &layers)
            .expect("layers checked at start");
        let fr = vgg
            .features(unit(real).detach(), &layers)
            .expect("layers checked at start");
        let mut total: Option<Tensor<1>> = None;
        for (o, r) in fo.into_iter().zip(fr) {
            let r = r.detach();
            let scale = r.clone().abs().mean().add_scalar(1e-6);
            let term = (o - r).abs().mean() / scale;
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        total.map(|t| t.div_scalar(3.0))
    }

    /// Held-out paintings filled: (L1 on the holes in [0, 1] units, PSNR of the whole
    /// composite in dB).
    pub fn validate(&self, g: &InpaintGenerator) -> Result<(f64, f64)> {
        let filled = inpaint_batch(g, &self.val, &self.inference_device());
        let (mut l1, mut holes, mut db) = (0.0, 0.0, 0.0);
        for ((orig, mask), out) in self.val.iter().zip(&filled) {
            let (sum, n) = hole_l1(orig, out, mask);
            (l1, holes) = (l1 + sum, holes + n);
            db += psnr(orig, out)?;
        }
        Ok((l1 / f64::max(holes, 1.0), db / self.val.len().max(1) as f64))
    }
}

impl GanRecipe for InpaintRecipe {
    type D = SnPatchDiscriminator;
    type Batch = InpaintBatch;

    fn d_step(
        &self,
        g: &InpaintGenerator,
        d: &SnPatchDiscriminator,
        batch: &InpaintBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (real, mask, fill) = self.fill(g, batch);
        let fake = composite(real.clone(), fill.fine.detach(), mask.clone());
        let sr = self.scores(d, real, mask.clone(), rng);
        let sf = self.scores(d, fake, mask, rng);
        StepLosses {
            loss: d_loss(GanLoss::Hinge, sr.clone(), sf.clone()),
            real_score: Some(mean_score(GanLoss::Hinge, sr)),
            fake_score: Some(mean_score(GanLoss::Hinge, sf)),
        }
    }

    fn g_step(
        &self,
        g: &InpaintGenerator,
        d: &SnPatchDiscriminator,
        batch: &InpaintBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (real, mask, fill) = self.fill(g, batch);
        let mut loss = self.pixel_loss(fill.coarse, real.clone(), mask.clone())
            + self.pixel_loss(fill.fine.clone(), real.clone(), mask.clone());
        if let Some(p) = self.perceptual(fill.fine.clone(), real.clone()) {
            loss = loss + p.mul_scalar(self.weights.perceptual);
        }
        let sf = self.scores(d, composite(real, fill.fine, mask.clone()), mask, rng);
        loss = loss + g_loss(GanLoss::Hinge, sf.clone()).mul_scalar(self.weights.adversarial);
        StepLosses {
            loss,
            real_score: None,
            fake_score: Some(mean_score(GanLoss::Hinge, sf)),
        }
    }
}

impl RunRecipe for InpaintRecipe {
    type Net = InpaintGenerator;

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "inpainter": self.meta,
            "weights": self.weights,
            "augment": self.augment,
        })
    }

    fn sample_sheet(&self, g: &InpaintGenerator) -> Result<RgbImage> {
        let filled = inpaint_batch(g, &self.sheet, &self.inference_device());
        let rows: Vec<Vec<RgbImage>> = self
            .sheet
            .iter()
            .zip(filled)
            .map(|((orig, mask), out)| vec![show_holes(orig, mask), out, orig.clone()])
            .collect();
        Ok(rows_sheet(&rows))
    }

    fn evaluate(&self, g: &InpaintGenerator) -> Result<Vec<(&'static str, f64)>> {
        if self.val.is_empty() {
            return Ok(vec![]);
        }
        let (l1, db) = self.validate(g)?;
        Ok(vec![("val_l1_holes", l1), ("val_psnr", db)])
    }

    fn fid_samples(&self, g: &InpaintGenerator, n: usize, _seed: u64) -> Result<Vec<RgbImage>> {
        let val: Vec<_> = self.val.iter().take(n).cloned().collect();
        Ok(inpaint_batch(g, &val, &self.inference_device()))
    }

    fn model_file_name(&self) -> &'static str {
        "inpainter.safetensors"
    }

    /// The model, and beside it `heldout.txt`: the paintings it never trained on (for
    /// `atelier eval inpaint --data RUN/heldout.txt`).
    fn export(&self, g: &InpaintGenerator, path: &Path) -> Result<()> {
        save_inpainter(g, &self.meta, &self.command, path)?;
        let list: String = self
            .heldout
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect();
        write_atomic(&path.with_file_name(HELDOUT_FILE), list.as_bytes())
    }
}
