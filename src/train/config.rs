//! Training settings, saved as `config.json` in the run directory.

use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::losses::GanLoss;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LrSchedule {
    Constant,
    /// Constant, then linear decay to zero from `start` (a fraction of the steps).
    LinearDecay {
        start: f64,
    },
}

impl LrSchedule {
    /// Multiplier on the base learning rate at `step` of `steps`.
    pub fn factor(&self, step: u64, steps: u64) -> f64 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::LinearDecay { start } => {
                let s0 = (start.clamp(0.0, 1.0) * steps as f64) as u64;
                if step < s0 || steps <= s0 {
                    1.0
                } else {
                    1.0 - (step - s0) as f64 / (steps - s0) as f64
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub steps: u64,
    pub batch_size: usize,
    pub loss: GanLoss,
    /// Discriminator updates per generator update.
    pub n_critic: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub betas_g: (f32, f32),
    pub betas_d: (f32, f32),
    /// R1 penalty weight γ on real data; 0 disables it.
    pub r1_gamma: f64,
    /// Gradient-penalty weight λ for `wgan-gp`.
    pub gp_weight: f64,
    /// Random directions for the finite-difference gradient-norm estimate.
    pub penalty_dirs: usize,
    /// EMA decay of the generator weights; 0 keeps no average.
    pub ema_decay: f64,
    pub lr_schedule: LrSchedule,
    pub seed: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub log_every: u64,
    /// Checkpoints kept on disk (oldest removed first).
    pub keep_checkpoints: usize,
    /// Images in the sample grid.
    pub sample_count: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 10_000,
            batch_size: 64,
            loss: GanLoss::Ns,
            n_critic: 1,
            lr_g: 2e-4,
            lr_d: 2e-4,
            betas_g: (0.5, 0.999),
            betas_d: (0.5, 0.999),
            r1_gamma: 0.0,
            gp_weight: 10.0,
            penalty_dirs: 4,
            ema_decay: 0.999,
            lr_schedule: LrSchedule::Constant,
            seed: 0,
            checkpoint_every: 1000,
            sample_every: 500,
            log_every: 10,
            keep_checkpoints: 2,
            sample_count: 64,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(AtelierError::Config(m.to_string()));
        if self.steps == 0 {
            return bad("--steps must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1");
        }
        if self.n_critic == 0 {
            return bad("--n-critic must be at least 1");
        }
        for (name, lr) in [("--lr-g", self.lr_g), ("--lr-d", self.lr_d)] {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(AtelierError::Config(format!(
                    "{name} must be a positive number, got {lr}"
                )));
            }
        }
        for (b1, b2) in [self.betas_g, self.betas_d] {
            if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
                return bad("Adam betas must lie in [0, 1)");
            }
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return bad("--ema must lie in [0, 1)");
        }
        if self.r1_gamma < 0.0 || self.gp_weight < 0.0 {
            return bad("penalty weights cannot be negative");
        }
        if self.penalty_dirs == 0 {
            return bad("--penalty-dirs must be at least 1");
        }
        if self.checkpoint_every == 0 || self.sample_every == 0 || self.log_every == 0 {
            return bad("--checkpoint-every, --sample-every and --log-every must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_decay_reaches_zero() {
        let s = LrSchedule::LinearDecay { start: 0.5 };
        assert_eq!(s.factor(0, 100), 1.0);
        assert_eq!(s.factor(50, 100), 1.0);
        assert!((s.factor(75, 100) - 0.5).abs() < 1e-9);
        assert_eq!(LrSchedule::Constant.factor(99, 100), 1.0);
    }

    #[test]
    fn bad_values_are_refused() {
        let c = TrainConfig {
            lr_g: -1.0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--lr-g"));
        let c = TrainConfig {
            n_critic: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert!(TrainConfig::default().validate().is_ok());
    }
}
