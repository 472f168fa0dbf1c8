//! Paired translation (pix2pix, Isola et al. 2017): G maps A to B; a PatchGAN judges
//! (A, B) pairs; G's loss is adversarial plus λ·L1 to the true B (λ = 100).
//!
//! The same recipe runs the `plain-mse` preset: a plain conv generator, a PatchGAN judging
//! B alone with BCE, and G's loss = adversarial + λ·MSE to the target.

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;

use crate::data::translation::PairBatch;
use crate::error::Result;
use crate::imaging::grid::rows_sheet;
pub use crate::losses::PixelLoss;
use crate::losses::adversarial::{GanLoss, d_loss, g_loss, mean_score};
use crate::metrics::paired::mean_l1;
use crate::models::patchgan::PatchDiscriminator;
use crate::models::translator::Translator;
use crate::models::translator::{TranslatorMeta, save_translator, translate_batch};
use crate::nn::diff_augment::{AugmentDraw, AugmentPolicy, augment};
use crate::train::{GanRecipe, RunRecipe, StepLosses};
use crate::util::rng::SeededRng;

pub struct PairedRecipe {
    pub meta: TranslatorMeta,
    pub loss: GanLoss,
    pub pixel: PixelLoss,
    pub pixel_weight: f64,
    /// D sees (A, B) concatenated (pix2pix) rather than B alone (the plain-mse preset).
    pub conditional_d: bool,
    /// DiffAugment for what D sees: one draw per judgement, applied alike to A and to B
    /// (real or generated), so a pair stays aligned.
    pub augment: AugmentPolicy,
    pub device: Device,
    /// Fixed pairs for the sample sheet.
    pub sheet: Vec<(RgbImage, RgbImage)>,
    /// Held-out pairs for the validation L1.
    pub val: Vec<(RgbImage, RgbImage)>,
    pub command: String,
}

impl PairedRecipe {
    fn judge(
        &self,
        d: &PatchDiscriminator,
        a: Tensor<4>,
        b: Tensor<4>,
        draw: &Option<AugmentDraw>,
    ) -> Tensor<1> {
        let (a, b) = (augment(draw, a), augment(draw, b));
        if self.conditional_d {
            d.flat_scores(Tensor::cat(vec![a, b], 1))
        } else {
            d.flat_scores(b)
        }
    }

    fn inference_device(&self) -> Device {
        self.device.clone().without_autodiff()
    }

    /// Mean |G(A) - B| over the held-out pairs, in pixel units of [0, 1].
    pub fn val_l1(&self, g: &Translator) -> Result<f64> {
        let (inputs, targets): (Vec<RgbImage>, Vec<RgbImage>) = self.val.iter().cloned().unzip();
        mean_l1(
            &translate_batch(g, &inputs, &self.inference_device()),
            &targets,
        )
    }
}

impl GanRecipe for PairedRecipe {
    type D = PatchDiscriminator;
    type Batch = PairBatch;

    fn d_step(
        &self,
        g: &Translator,
        d: &PatchDiscriminator,
        batch: &PairBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (a, b) = (batch.a(&self.device), batch.b(&self.device));
        let fake = g.forward(a.clone()).detach();
        let draw = self.augment.draw(a.dims(), rng);
        let sr = self.judge(d, a.clone(), b, &draw);
        let sf = self.judge(d, a, fake, &draw);
        // Halved, as in pix2pix, so D learns more slowly than G.
        StepLosses {
            loss: d_loss(self.loss, sr.clone(), sf.clone()).mul_scalar(0.5),
            real_score: Some(mean_score(self.loss, sr)),
            fake_score: Some(mean_score(self.loss, sf)),
        }
    }

    fn g_step(
        &self,
        g: &Translator,
        d: &PatchDiscriminator,
        batch: &PairBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (a, b) = (batch.a(&self.device), batch.b(&self.device));
        let fake = g.forward(a.clone());
        let draw = self.augment.draw(a.dims(), rng);
        let sf = self.judge(d, a, fake.clone(), &draw);
        let loss =
            g_loss(self.loss, sf.clone()) + self.pixel.of(fake, b).mul_scalar(self.pixel_weight);
        StepLosses {
            loss,
            real_score: None,
            fake_score: Some(mean_score(self.loss, sf)),
        }
    }
}

impl RunRecipe for PairedRecipe {
    type Net = Translator;

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "translator": self.meta,
            "loss": self.loss,
            "pixel": self.pixel,
            "pixel_weight": self.pixel_weight,
            "conditional_d": self.conditional_d,
            "augment": self.augment,
        })
    }

    fn sample_sheet(&self, g: &Translator) -> Result<RgbImage> {
        let inputs: Vec<RgbImage> = self.sheet.iter().map(|p| p.0.clone()).collect();
        let outputs = translate_batch(g, &inputs, &self.inference_device());
        let rows: Vec<Vec<RgbImage>> = self
            .sheet
            .iter()
            .zip(outputs)
            .map(|((a, b), out)| vec![a.clone(), out, b.clone()])
            .collect();
        Ok(rows_sheet(&rows))
    }

    fn evaluate(&self, g: &Translator) -> Result<Vec<(&'static str, f64)>> {
        if self.val.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![("val_l1", self.val_l1(g)?)])
    }

    fn export(&self, g: &Translator, path: &Path) -> Result<()> {
        save_translator(g, &self.meta, &self.command, path)
    }
}
