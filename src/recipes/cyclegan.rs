//! Unpaired translation (CycleGAN, Zhu et al. 2017): G_AB and G_BA, a PatchGAN per domain,
//! LSGAN losses, cycle consistency ‖G_BA(G_AB(a)) − a‖₁ + ‖G_AB(G_BA(b)) − b‖₁ weighted
//! λ = 10, identity ‖G_AB(b) − b‖₁ + ‖G_BA(a) − a‖₁ weighted 0.5·λ, and a 50-image pool of
//! past fakes per discriminator.
//!
//! The engine sees the two generators as one module and the two discriminators as another:
//! their parameters are disjoint, so one Adam over the pair is two independent Adams, as in
//! the original code.

use std::cell::RefCell;
use std::path::Path;

use burn::prelude::*;
use image::RgbImage;

use super::image_pool::ImagePool;
use crate::data::translation::PairBatch;
use crate::error::Result;
use crate::imaging::grid::rows_sheet;
use crate::losses::PixelLoss;
use crate::losses::adversarial::{GanLoss, d_loss, g_loss, mean_score};
use crate::metrics::paired::mean_l1;
use crate::models::patchgan::PatchDiscriminator;
use crate::models::translator::Translator;
use crate::models::translator::{TranslatorMeta, save_translator, translate_batch};
use crate::nn::diff_augment::{AugmentPolicy, augment};
use crate::train::{GanRecipe, RunRecipe, StepLosses};
use crate::util::rng::SeededRng;

#[derive(Module, Debug)]
pub struct CycleGenerators {
    /// A -> B.
    pub ab: Translator,
    /// B -> A.
    pub ba: Translator,
}

#[derive(Module, Debug)]
pub struct CycleDiscriminators {
    /// Judges domain A images.
    pub a: PatchDiscriminator,
    /// Judges domain B images.
    pub b: PatchDiscriminator,
}

/// The generators' non-adversarial terms and the fakes they made.
pub struct CycleTerms {
    pub fake_a: Tensor<4>,
    pub fake_b: Tensor<4>,
    pub cycle: Tensor<1>,
    pub identity: Tensor<1>,
}

/// Fakes, cycle loss and identity loss of the generator pair (`ab`, `ba`) on real `a`, `b`.
pub fn cycle_terms(
    ab: impl Fn(Tensor<4>) -> Tensor<4>,
    ba: impl Fn(Tensor<4>) -> Tensor<4>,
    a: Tensor<4>,
    b: Tensor<4>,
) -> CycleTerms {
    let fake_b = ab(a.clone());
    let fake_a = ba(b.clone());
    let l1 = |x, y| PixelLoss::L1.of(x, y);
    let cycle = l1(ba(fake_b.clone()), a.clone()) + l1(ab(fake_a.clone()), b.clone());
    let identity = l1(ab(b.clone()), b) + l1(ba(a.clone()), a);
    CycleTerms {
        fake_a,
        fake_b,
        cycle,
        identity,
    }
}

pub struct CycleRecipe {
    pub meta: TranslatorMeta,
    pub loss: GanLoss,
    pub lambda_cycle: f64,
    /// Identity weight as a fraction of `lambda_cycle`.
    pub lambda_identity: f64,
    pub device: Device,
    /// DiffAugment for what both discriminators see (a fresh draw per judgement).
    pub augment: AugmentPolicy,
    /// Fixed images of each domain for the sample sheet.
    pub sheet_a: Vec<RgbImage>,
    pub sheet_b: Vec<RgbImage>,
    pub command: String,
    pools: RefCell<(ImagePool, ImagePool)>,
    /// The fakes of the last generator step, detached, for the next discriminator step
    /// (as in the original, D learns from the fakes G just made; it saves recomputing them).
    last_fakes: RefCell<Option<(Tensor<4>, Tensor<4>)>>,
}

impl CycleRecipe {
    pub fn new(
        meta: TranslatorMeta,
        pool_size: usize,
        device: Device,
        sheet: (Vec<RgbImage>, Vec<RgbImage>),
        command: String,
    ) -> Self {
        Self {
            meta,
            loss: GanLoss::Lsgan,
            lambda_cycle: 10.0,
            lambda_identity: 0.5,
            device,
            augment: AugmentPolicy::default(),
            sheet_a: sheet.0,
            sheet_b: sheet.1,
            command,
            pools: RefCell::new((ImagePool::new(pool_size), ImagePool::new(pool_size))),
            last_fakes: RefCell::new(None),
        }
    }

    fn inference_device(&self) -> Device {
        self.device.clone().without_autodiff()
    }

    /// `d`'s scores for `x`, through a fresh augmentation draw when augmentation is on.
    fn judge(&self, d: &PatchDiscriminator, x: Tensor<4>, rng: &mut SeededRng) -> Tensor<1> {
        d.flat_scores(augment(&self.augment.draw(x.dims(), rng), x))
    }

    /// The B -> A generator's file beside the A -> B one.
    pub fn reverse_path(path: &Path) -> std::path::PathBuf {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        path.with_file_name(format!("{stem}-b2a.safetensors"))
    }
}

impl GanRecipe for CycleRecipe {
    type D = CycleDiscriminators;
    type Batch = PairBatch;

    fn d_step(
        &self,
        g: &CycleGenerators,
        d: &CycleDiscriminators,
        batch: &PairBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (a, b) = (batch.a(&self.device), batch.b(&self.device));
        let (fake_a, fake_b) = self
            .last_fakes
            .borrow_mut()
            .take()
            .filter(|(fa, _)| fa.dims() == a.dims())
            .unwrap_or_else(|| {
                (
                    g.ba.forward(b.clone()).detach(),
                    g.ab.forward(a.clone()).detach(),
                )
            });
        let mut pools = self.pools.borrow_mut();
        let fake_a = pools.0.query(fake_a, rng);
        let fake_b = pools.1.query(fake_b, rng);
        let (ra, fa) = (self.judge(&d.a, a, rng), self.judge(&d.a, fake_a, rng));
        let (rb, fb) = (self.judge(&d.b, b, rng), self.judge(&d.b, fake_b, rng));
        let loss =
            d_loss(self.loss, ra.clone(), fa.clone()) + d_loss(self.loss, rb.clone(), fb.clone());
        StepLosses {
            loss,
            real_score: Some(
                (mean_score(self.loss, ra) + mean_score(self.loss, rb)).div_scalar(2.0),
            ),
            fake_score: Some(
                (mean_score(self.loss, fa) + mean_score(self.loss, fb)).div_scalar(2.0),
            ),
        }
    }

    fn g_step(
        &self,
        g: &CycleGenerators,
        d: &CycleDiscriminators,
        batch: &PairBatch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let (a, b) = (batch.a(&self.device), batch.b(&self.device));
        let t = cycle_terms(|x| g.ab.forward(x), |x| g.ba.forward(x), a, b);
        let (sa, sb) = (
            self.judge(&d.a, t.fake_a.clone(), rng),
            self.judge(&d.b, t.fake_b.clone(), rng),
        );
        // Our LSGAN generator loss is ½E[(s-1)²]; CycleGAN's is E[(s-1)²], relative to
        // which its λ were tuned.
        let adv_scale = if self.loss == GanLoss::Lsgan {
            2.0
        } else {
            1.0
        };
        let adv =
            (g_loss(self.loss, sa.clone()) + g_loss(self.loss, sb.clone())).mul_scalar(adv_scale);
        let loss = adv
            + t.cycle.mul_scalar(self.lambda_cycle)
            + t.identity
                .mul_scalar(self.lambda_cycle * self.lambda_identity);
        *self.last_fakes.borrow_mut() = Some((t.fake_a.detach(), t.fake_b.detach()));
        StepLosses {
            loss,
            real_score: None,
            fake_score: Some(
                (mean_score(self.loss, sa) + mean_score(self.loss, sb)).div_scalar(2.0),
            ),
        }
    }
}

impl RunRecipe for CycleRecipe {
    type Net = CycleGenerators;

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "translator": self.meta,
            "loss": self.loss,
            "lambda_cycle": self.lambda_cycle,
            "lambda_identity": self.lambda_identity,
            "pool": self.pools.borrow().0.capacity(),
            "augment": self.augment,
        })
    }

    fn sample_sheet(&self, g: &CycleGenerators) -> Result<RgbImage> {
        let dev = self.inference_device();
        let mut rows = vec![];
        for (imgs, there, back) in [(&self.sheet_a, &g.ab, &g.ba), (&self.sheet_b, &g.ba, &g.ab)] {
            let out = translate_batch(there, imgs, &dev);
            let rec = translate_batch(back, &out, &dev);
            for ((x, y), z) in imgs.iter().zip(out).zip(rec) {
                rows.push(vec![x.clone(), y, z]);
            }
        }
        Ok(rows_sheet(&rows))
    }

    fn evaluate(&self, g: &CycleGenerators) -> Result<Vec<(&'static str, f64)>> {
        // How well A comes back from B, on the fixed sheet images, in [0, 1] pixel units.
        let dev = self.inference_device();
        let rec = translate_batch(&g.ba, &translate_batch(&g.ab, &self.sheet_a, &dev), &dev);
        Ok(vec![("cycle_l1_a", mean_l1(&self.sheet_a, &rec)?)])
    }

    fn export(&self, g: &CycleGenerators, path: &Path) -> Result<()> {
        let mut meta = self.meta.clone();
        save_translator(&g.ab, &meta, &self.command, path)?;
        meta.task = format!("{} (reverse)", meta.task);
        save_translator(&g.ba, &meta, &self.command, &Self::reverse_path(path))
    }

    fn state(&self) -> Vec<(String, TensorData)> {
        let pools = self.pools.borrow();
        let mut out = vec![];
        for (name, pool) in [("pool_a", &pools.0), ("pool_b", &pools.1)] {
            for (i, t) in pool.to_data().into_iter().enumerate() {
                out.push((format!("{name}.{i:03}"), t));
            }
        }
        if let Some((fa, fb)) = &*self.last_fakes.borrow() {
            out.push(("last_fake_a".into(), fa.to_data()));
            out.push(("last_fake_b".into(), fb.to_data()));
        }
        out
    }

    fn restore_state(&self, state: Vec<(String, TensorData)>) -> Result<()> {
        let (mut pa, mut pb, mut fa, mut fb) = (vec![], vec![], None, None);
        // Names sort in pool order (zero-padded indices).
        for (name, data) in state {
            match name.split('.').next() {
                Some("pool_a") => pa.push(data),
                Some("pool_b") => pb.push(data),
                Some("last_fake_a") => fa = Some(data),
                Some("last_fake_b") => fb = Some(data),
                _ => {}
            }
        }
        let mut pools = self.pools.borrow_mut();
        pools.0.restore(pa, &self.device);
        pools.1.restore(pb, &self.device);
        let t = |d: TensorData| Tensor::<4>::from_data(d, &self.device);
        *self.last_fakes.borrow_mut() = fa.zip(fb).map(|(a, b)| (t(a), t(b)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn cycle_loss_is_zero_for_identity_generators() {
        let d = Device::flex();
        let a = Tensor::<4>::random(
            [2, 3, 8, 8],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &d,
        );
        let b = Tensor::<4>::random(
            [2, 3, 8, 8],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &d,
        );
        let same = cycle_terms(|x| x, |x| x, a.clone(), b.clone());
        assert_eq!(value(same.cycle), 0.0);
        assert_eq!(value(same.identity), 0.0);
        // Negation undoes itself: no cycle loss, but it changes images, so identity loss.
        let neg = cycle_terms(|x| x.neg(), |x| x.neg(), a.clone(), b.clone());
        assert!(value(neg.cycle) < 1e-6);
        assert!(value(neg.identity) > 0.5);
        // A pair that does not invert: both terms positive.
        let half = cycle_terms(|x| x.mul_scalar(0.5), |x| x.mul_scalar(0.5), a, b);
        assert!(value(half.cycle) > 0.1);
    }
}
