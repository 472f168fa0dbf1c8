//! Training settings, saved as `config.json` in the run directory: the engine's own
//! ([`RunConfig`]) and each step strategy's.

use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};

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

/// The engine's own settings, shared by every run whatever it trains: how long, how often
/// it logs, samples and saves, and the learning-rate schedule. What a step does is set in
/// its strategy's config ([`GanStepConfig`], [`SingleStepConfig`]); what a model family
/// needs (losses, penalties, sample counts) in its recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub steps: u64,
    /// Images per batch (for the images/s the log reports).
    pub batch_size: usize,
    pub lr_schedule: LrSchedule,
    pub seed: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub log_every: u64,
    /// Checkpoints kept on disk (oldest removed first).
    pub keep_checkpoints: usize,
    /// Stop once this many minutes went into training steps (samples, FID and checkpoints
    /// not counted; a resumed run counts the time it had already spent): runs compared at
    /// equal compute.
    #[serde(default)]
    pub max_minutes: Option<f64>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            steps: 10_000,
            batch_size: 64,
            lr_schedule: LrSchedule::Constant,
            seed: 0,
            checkpoint_every: 1000,
            sample_every: 500,
            log_every: 10,
            keep_checkpoints: 2,
            max_minutes: None,
        }
    }
}

impl RunConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(AtelierError::Config(m.to_string()));
        if self.steps == 0 {
            return bad("--steps must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size must be at least 1");
        }
        if self.checkpoint_every == 0 || self.sample_every == 0 || self.log_every == 0 {
            return bad("--checkpoint-every, --sample-every and --log-every must be at least 1");
        }
        if self.max_minutes.is_some_and(|m| m.is_nan() || m <= 0.0) {
            return bad("--minutes must be a positive number");
        }
        Ok(())
    }
}

fn check_lr(name: &str, lr: f64) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(AtelierError::Config(format!(
            "{name} must be a positive number, got {lr}"
        )));
    }
    Ok(())
}

fn check_betas((b1, b2): (f32, f32)) -> Result<()> {
    if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
        return Err(AtelierError::Config("Adam betas must lie in [0, 1)".into()));
    }
    Ok(())
}

/// Settings of the GAN step: alternating updates with Adam per network and an EMA of G.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanStepConfig {
    /// Discriminator updates per generator update.
    pub n_critic: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub betas_g: (f32, f32),
    pub betas_d: (f32, f32),
    /// EMA decay of the generator weights; 0 keeps no average.
    pub ema_decay: f64,
}

impl Default for GanStepConfig {
    fn default() -> Self {
        Self {
            n_critic: 1,
            lr_g: 2e-4,
            lr_d: 2e-4,
            betas_g: (0.5, 0.999),
            betas_d: (0.5, 0.999),
            ema_decay: 0.999,
        }
    }
}

impl GanStepConfig {
    pub fn validate(&self) -> Result<()> {
        if self.n_critic == 0 {
            return Err(AtelierError::Config("--n-critic must be at least 1".into()));
        }
        check_lr("--lr-g", self.lr_g)?;
        check_lr("--lr-d", self.lr_d)?;
        check_betas(self.betas_g)?;
        check_betas(self.betas_d)?;
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(AtelierError::Config("--ema must lie in [0, 1)".into()));
        }
        Ok(())
    }
}

/// Settings of the single-network step: one network, Adam, any loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SingleStepConfig {
    pub lr: f64,
    pub betas: (f32, f32),
}

impl Default for SingleStepConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
        }
    }
}

impl SingleStepConfig {
    pub fn validate(&self) -> Result<()> {
        check_lr("--lr", self.lr)?;
        check_betas(self.betas)
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
        let c = GanStepConfig {
            lr_g: -1.0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--lr-g"));
        let c = GanStepConfig {
            n_critic: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert!(GanStepConfig::default().validate().is_ok());
        assert!(RunConfig::default().validate().is_ok());
        let r = RunConfig {
            steps: 0,
            ..Default::default()
        };
        assert!(r.validate().unwrap_err().to_string().contains("--steps"));
        let single = SingleStepConfig {
            lr: f64::NAN,
            ..Default::default()
        };
        assert!(single.validate().unwrap_err().to_string().contains("--lr"));
    }
}
