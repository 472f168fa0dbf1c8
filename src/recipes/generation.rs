//! New images from noise, unconditional or class-conditional: one recipe for every
//! generator family (DCGAN, StyleGAN2, FastGAN), generic over the networks.
//!
//! The discriminator's loss, optional differentiable augmentation of everything D sees
//! (DiffAugment), and penalties: R1 on real images (lazily, every `r1_every` D steps on
//! average, with its weight scaled up to match) and WGAN-GP.

use std::path::Path;

use burn::prelude::*;

use crate::data::Batch;
use crate::error::{AtelierError, Result};
use crate::losses::adversarial::{
    GanLoss, d_loss, diversity_loss, g_loss, grad_norm_sq, gradient_penalty, mean_score,
    paired_labels, r1_penalty,
};
use crate::models::generator::{ImageCritic, ImageGenerator, Noise, sample_sheet, seeded_images};
use crate::models::model_file::{ModelMeta, save_model};
use crate::nn::diff_augment::{AugmentPolicy, augment};
use crate::train::{GanRecipe, RunRecipe, StepLosses};
use crate::util::rng::SeededRng;

/// Step size of the finite-difference gradient-norm estimate, in [-1, 1] pixel units.
const PENALTY_EPS: f64 = 1e-3;

pub struct GenerationRecipe<G, D> {
    /// The exported model file's kind, settings and class names.
    pub meta: ModelMeta,
    pub n_classes: usize,
    pub loss: GanLoss,
    pub r1_gamma: f64,
    /// Lazy regularisation (StyleGAN2): R1 on one D step in `r1_every` on average, weighted
    /// `r1_every` times, so it costs 1/`r1_every` as much for about the same effect.
    pub r1_every: u64,
    pub gp_weight: f64,
    pub penalty_dirs: usize,
    /// DiffAugment for everything D sees (none: D sees images as they are).
    pub augment: AugmentPolicy,
    /// Weight of the diversity term on G (0: off) and its ceiling; see `diversity_loss`.
    pub diversity: f64,
    pub diversity_ceiling: f64,
    pub device: Device,
    pub sample_count: usize,
    pub sample_seed: u64,
    /// The networks' settings, recorded in `config.json`.
    pub settings: serde_json::Value,
    pub _nets: std::marker::PhantomData<(G, D)>,
}

/// Refuse penalty settings that make no sense, before a run starts.
pub fn check_penalties(
    r1_gamma: f64,
    gp_weight: f64,
    penalty_dirs: usize,
    r1_every: u64,
) -> Result<()> {
    if r1_gamma < 0.0 || gp_weight < 0.0 {
        return Err(AtelierError::Config(
            "penalty weights cannot be negative".into(),
        ));
    }
    if penalty_dirs == 0 {
        return Err(AtelierError::Config(
            "--penalty-dirs must be at least 1".into(),
        ));
    }
    if r1_every == 0 {
        return Err(AtelierError::Config("--r1-every must be at least 1".into()));
    }
    Ok(())
}

/// The diversity term's ceiling τ unless `--diversity-ceiling` says otherwise (chosen by
/// the probes in docs/generators.md).
pub const DEFAULT_DIVERSITY_CEILING: f64 = 0.5;

/// Refuse diversity settings that make no sense, before a run starts.
pub fn check_diversity(weight: f64, ceiling: f64) -> Result<()> {
    if !(weight >= 0.0 && weight.is_finite()) {
        return Err(AtelierError::Config(format!(
            "--diversity must be a finite weight of at least 0, got {weight}"
        )));
    }
    if !(ceiling > 0.0 && ceiling.is_finite()) {
        return Err(AtelierError::Config(format!(
            "--diversity-ceiling must be a finite number above 0, got {ceiling}"
        )));
    }
    Ok(())
}

impl<G, D> GenerationRecipe<G, D> {
    /// A recipe with no penalties and no augmentation (set those fields to add them).
    pub fn new(meta: ModelMeta, n_classes: usize, loss: GanLoss, device: &Device) -> Self {
        Self {
            meta,
            n_classes,
            loss,
            r1_gamma: 0.0,
            r1_every: 1,
            gp_weight: 0.0,
            penalty_dirs: 1,
            augment: AugmentPolicy::default(),
            diversity: 0.0,
            diversity_ceiling: DEFAULT_DIVERSITY_CEILING,
            device: device.clone(),
            sample_count: 64,
            sample_seed: 0,
            settings: serde_json::Value::Null,
            _nets: std::marker::PhantomData,
        }
    }

    fn labels(&self, batch: &Batch) -> Option<Tensor<1, Int>> {
        (self.n_classes > 0).then(|| batch.labels(&self.device))
    }

    fn latents(&self, n: usize, z_dim: usize, rng: &mut SeededRng) -> Tensor<2> {
        let z = rng.normal_vec(n * z_dim);
        Tensor::from_data(TensorData::new(z, [n, z_dim]), &self.device)
    }

    fn directions(&self, like: &Tensor<4>, rng: &mut SeededRng) -> Vec<Tensor<4>> {
        let dims = like.dims();
        let n: usize = dims.iter().product();
        (0..self.penalty_dirs)
            .map(|_| Tensor::from_data(TensorData::new(rng.normal_vec(n), dims), &self.device))
            .collect()
    }

    /// This D step's R1 weight: γ, or with lazy regularisation γ·`r1_every` on a random
    /// one step in `r1_every` and 0 otherwise.
    fn r1_weight(&self, rng: &mut SeededRng) -> f64 {
        if self.r1_gamma <= 0.0 {
            return 0.0;
        }
        if self.r1_every <= 1 {
            return self.r1_gamma;
        }
        if rng.below(self.r1_every as usize) == 0 {
            self.r1_gamma * self.r1_every as f64
        } else {
            0.0
        }
    }
}

impl<G: ImageGenerator, D: ImageCritic> GanRecipe for GenerationRecipe<G, D> {
    type D = D;
    type Batch = Batch;

    fn d_step(&self, g: &G, d: &D, batch: &Batch, rng: &mut SeededRng) -> StepLosses {
        let real = batch.images(&self.device);
        let labels = self.labels(batch);
        let z = self.latents(batch.n, g.latent_dim(), rng);
        let fake = g
            .images(z, labels.clone(), &mut Noise::Random(rng))
            .detach();
        let aug_real = self.augment.draw(real.dims(), rng);
        let aug_fake = self.augment.draw(fake.dims(), rng);
        let (sr, own_loss) = d.score_real(augment(&aug_real, real.clone()), labels.clone(), rng);
        let sf = d.score(augment(&aug_fake, fake.clone()), labels.clone());
        let mut loss = d_loss(self.loss, sr.clone(), sf.clone());
        if let Some(own) = own_loss {
            loss = loss + own;
        }
        let r1 = self.r1_weight(rng);
        if r1 > 0.0 {
            // The gradient through the same augmentation D just saw (as StyleGAN2-ADA).
            let critic = |x: Tensor<4>| d.score(augment(&aug_real, x), labels.clone());
            let dirs = self.directions(&real, rng);
            loss = loss + r1_penalty(grad_norm_sq(critic, real.clone(), &dirs, PENALTY_EPS), r1);
        }
        if self.loss == GanLoss::WganGp && self.gp_weight > 0.0 {
            let alpha: Vec<f32> = (0..batch.n).map(|_| rng.uniform()).collect();
            let a =
                Tensor::<4>::from_data(TensorData::new(alpha, [batch.n, 1, 1, 1]), &self.device);
            let mixed = real.clone() * a.clone() + fake * (a.neg().add_scalar(1.0));
            let critic = |x: Tensor<4>| d.score(augment(&aug_fake, x), labels.clone());
            let dirs = self.directions(&mixed, rng);
            loss = loss
                + gradient_penalty(
                    grad_norm_sq(critic, mixed, &dirs, PENALTY_EPS),
                    self.gp_weight,
                );
        }
        StepLosses {
            loss,
            real_score: Some(mean_score(self.loss, sr)),
            fake_score: Some(mean_score(self.loss, sf)),
        }
    }

    fn g_step(&self, g: &G, d: &D, batch: &Batch, rng: &mut SeededRng) -> StepLosses {
        let seek = self.diversity > 0.0 && batch.n >= 2;
        let mut labels = self.labels(batch);
        if seek {
            labels = labels.map(paired_labels);
        }
        let z = self.latents(batch.n, g.latent_dim(), rng);
        let fake = g.images(z.clone(), labels.clone(), &mut Noise::Random(rng));
        let aug = self.augment.draw(fake.dims(), rng);
        let sf = d.score(augment(&aug, fake.clone()), labels);
        let mut loss = g_loss(self.loss, sf.clone());
        if seek {
            loss = loss + diversity_loss(fake, z, self.diversity, self.diversity_ceiling);
        }
        StepLosses {
            loss,
            real_score: None,
            fake_score: Some(mean_score(self.loss, sf)),
        }
    }
}

impl<G: ImageGenerator, D> RunRecipe for GenerationRecipe<G, D> {
    type Net = G;

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "networks": self.settings,
            "kind": self.meta.kind,
            "classes": self.meta.classes,
            "loss": self.loss,
            "r1_gamma": self.r1_gamma,
            "r1_every": self.r1_every,
            "gp_weight": self.gp_weight,
            "penalty_dirs": self.penalty_dirs,
            "augment": self.augment,
            "diversity": self.diversity,
            "diversity_ceiling": self.diversity_ceiling,
            "sample_count": self.sample_count,
        })
    }

    fn sample_sheet(&self, g: &G) -> Result<image::RgbImage> {
        Ok(sample_sheet(
            g,
            self.n_classes,
            self.sample_count,
            self.sample_seed,
            &self.device.clone().without_autodiff(),
        ))
    }

    fn fid_samples(&self, g: &G, n: usize, seed: u64) -> Result<Vec<image::RgbImage>> {
        Ok(seeded_images(
            g,
            self.n_classes,
            n,
            seed,
            &self.device.clone().without_autodiff(),
        ))
    }

    fn export(&self, g: &G, path: &Path) -> Result<()> {
        save_model(g, &self.meta, path)
    }
}
