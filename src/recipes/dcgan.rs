//! Unconditional and class-conditional image generation with DCGAN networks.

use std::path::Path;

use burn::prelude::*;

use crate::data::Batch;
use crate::error::{AtelierError, Result};
use crate::losses::adversarial::{
    GanLoss, d_loss, g_loss, grad_norm_sq, gradient_penalty, mean_score, r1_penalty,
};
use crate::models::dcgan::{sample_sheet, save_generator, seeded_images};
use crate::models::{DcganDiscriminator, DcganGenerator, DcganGeneratorConfig};
use crate::train::{GanRecipe, RunRecipe, StepLosses};
use crate::util::rng::SeededRng;

/// Step size of the finite-difference gradient-norm estimate, in [-1, 1] pixel units.
const PENALTY_EPS: f64 = 1e-3;

pub struct DcganRecipe {
    pub g_config: DcganGeneratorConfig,
    pub classes: Vec<String>,
    pub loss: GanLoss,
    pub r1_gamma: f64,
    pub gp_weight: f64,
    pub penalty_dirs: usize,
    pub device: Device,
    pub sample_count: usize,
    pub sample_seed: u64,
    /// Recorded in the exported model file.
    pub command: String,
}

impl DcganRecipe {
    /// Refuse penalty settings that make no sense, before a run starts.
    pub fn check_penalties(r1_gamma: f64, gp_weight: f64, penalty_dirs: usize) -> Result<()> {
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
        Ok(())
    }

    fn conditional(&self) -> bool {
        self.g_config.n_classes > 0
    }

    fn labels(&self, batch: &Batch) -> Option<Tensor<1, Int>> {
        self.conditional().then(|| batch.labels(&self.device))
    }

    fn latents(&self, n: usize, rng: &mut SeededRng) -> Tensor<2> {
        let z = rng.normal_vec(n * self.g_config.z_dim);
        Tensor::from_data(TensorData::new(z, [n, self.g_config.z_dim]), &self.device)
    }

    fn directions(&self, like: &Tensor<4>, rng: &mut SeededRng) -> Vec<Tensor<4>> {
        let dims = like.dims();
        let n: usize = dims.iter().product();
        (0..self.penalty_dirs)
            .map(|_| Tensor::from_data(TensorData::new(rng.normal_vec(n), dims), &self.device))
            .collect()
    }
}

impl GanRecipe for DcganRecipe {
    type D = DcganDiscriminator;
    type Batch = Batch;

    fn d_step(
        &self,
        g: &DcganGenerator,
        d: &DcganDiscriminator,
        batch: &Batch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let real = batch.images(&self.device);
        let labels = self.labels(batch);
        let z = self.latents(batch.n, rng);
        let fake = g.forward(z, labels.clone()).detach();
        let sr = d.forward(real.clone(), labels.clone());
        let sf = d.forward(fake.clone(), labels.clone());
        let mut loss = d_loss(self.loss, sr.clone(), sf.clone());
        let critic = |x: Tensor<4>| d.forward(x, labels.clone());
        if self.r1_gamma > 0.0 {
            let dirs = self.directions(&real, rng);
            loss = loss
                + r1_penalty(
                    grad_norm_sq(critic, real.clone(), &dirs, PENALTY_EPS),
                    self.r1_gamma,
                );
        }
        if self.loss == GanLoss::WganGp && self.gp_weight > 0.0 {
            let alpha: Vec<f32> = (0..batch.n).map(|_| rng.uniform()).collect();
            let a =
                Tensor::<4>::from_data(TensorData::new(alpha, [batch.n, 1, 1, 1]), &self.device);
            let mixed = real.clone() * a.clone() + fake * (a.neg().add_scalar(1.0));
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

    fn g_step(
        &self,
        g: &DcganGenerator,
        d: &DcganDiscriminator,
        batch: &Batch,
        rng: &mut SeededRng,
    ) -> StepLosses {
        let labels = self.labels(batch);
        let z = self.latents(batch.n, rng);
        let sf = d.forward(g.forward(z, labels.clone()), labels);
        StepLosses {
            loss: g_loss(self.loss, sf.clone()),
            real_score: None,
            fake_score: Some(mean_score(self.loss, sf)),
        }
    }
}

impl RunRecipe for DcganRecipe {
    type Net = DcganGenerator;

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "generator": self.g_config,
            "classes": self.classes,
            "loss": self.loss,
            "r1_gamma": self.r1_gamma,
            "gp_weight": self.gp_weight,
            "penalty_dirs": self.penalty_dirs,
            "sample_count": self.sample_count,
        })
    }

    fn sample_sheet(&self, g: &DcganGenerator) -> Result<image::RgbImage> {
        let n_classes = self.g_config.n_classes;
        Ok(sample_sheet(
            g,
            self.g_config.z_dim,
            n_classes,
            self.sample_count,
            self.sample_seed,
            &self.device.clone().without_autodiff(),
        ))
    }

    fn fid_samples(&self, g: &DcganGenerator, n: usize, seed: u64) -> Result<Vec<image::RgbImage>> {
        Ok(seeded_images(
            g,
            &self.g_config,
            n,
            seed,
            &self.device.clone().without_autodiff(),
        ))
    }

    fn export(&self, g: &DcganGenerator, path: &Path) -> Result<()> {
        save_generator(g, &self.g_config, &self.classes, &self.command, path)
    }
}
