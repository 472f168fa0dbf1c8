//! Step strategies: what one training step does to the networks being trained, and which
//! named parts (modules, optimiser states) a checkpoint holds. The run loop
//! ([`super::engine::run`]) is the same for every strategy.
//!
//! - [`GanStep`]: `n_critic` discriminator updates, one generator update, an EMA of G.
//! - [`SingleStep`]: one network, one loss, Adam.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::checkpoint::{Loaded, Part, module_part, optimizer_part};
use super::config::{GanStepConfig, SingleStepConfig};
use super::ema::{all_finite, ema_update};
use super::recipe::{GanRecipe, SingleRecipe, StepLosses};
use crate::error::Result;
use crate::util::rng::SeededRng;

/// What a step reports to the run loop.
pub struct StepReport {
    /// Losses, checked by the watchdog, logged and plotted (e.g. `d_loss`, `g_loss`).
    pub losses: Vec<(&'static str, f64)>,
    /// Other numbers logged when a log row is due (e.g. `d_real`); read only then, since
    /// reading a tensor waits for the device.
    pub scores: Vec<(&'static str, Tensor<1>)>,
    /// The learning rates the step used.
    pub lrs: Vec<(&'static str, f64)>,
    /// Batches the step consumed.
    pub batches: usize,
}

/// The networks being trained, their optimisers, and how one step updates them.
pub trait StepStrategy: Sized {
    /// The network the run produces (samples, exports, FID).
    type Net: Module;
    type Batch;

    /// One step; `lr_factor` scales every learning rate (the schedule).
    fn step(
        self,
        next_batch: &mut dyn FnMut() -> Self::Batch,
        lr_factor: f64,
        rng: &mut SeededRng,
    ) -> (Self, StepReport);
    /// The produced network, without autodiff.
    fn output(&self) -> Self::Net;
    /// Named parts for a checkpoint.
    fn parts(&self) -> Result<Vec<Part>>;
    /// The same strategy with its parts taken from a checkpoint.
    fn restore(self, ckpt: &Loaded) -> Result<Self>;
    /// Whether every trained weight is finite (the watchdog's check before saving).
    fn all_finite(&self) -> bool;
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// Adam with the given betas, as every network here trains with it.
pub fn adam(betas: (f32, f32)) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(betas.0)
        .with_beta_2(betas.1)
        .with_epsilon(1e-8)
        .init()
}

/// One optimiser update of `net` down the gradient of `loss`.
fn descend<M: Module>(opt: &mut ModuleOptimizer, lr: f64, net: M, loss: &Tensor<1>) -> M {
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    opt.step(lr, net, grads)
}

/// One GAN training step: `n_critic` discriminator updates, each on a fresh batch, then one
/// generator update on the last batch. Returns the updated networks and the last losses.
#[allow(clippy::too_many_arguments)]
pub fn gan_step<R: GanRecipe>(
    recipe: &R,
    g: R::Net,
    mut d: R::D,
    opt_g: &mut ModuleOptimizer,
    opt_d: &mut ModuleOptimizer,
    next_batch: &mut dyn FnMut() -> R::Batch,
    n_critic: usize,
    (lr_g, lr_d): (f64, f64),
    rng: &mut SeededRng,
) -> (R::Net, R::D, StepLosses, StepLosses) {
    let mut last = None;
    for _ in 0..n_critic.max(1) {
        let b = next_batch();
        let out = recipe.d_step(&g, &d, &b, rng);
        d = descend(opt_d, lr_d, d, &out.loss);
        last = Some((out, b));
    }
    let (d_out, batch) = last.expect("at least one critic step");
    // G's loss goes through D, but D's own weight gradients there are thrown away: a
    // gradient-free view of D skips their computation (about a third of D's backward pass).
    let d_judge = d.clone().no_grad();
    let g_out = recipe.g_step(&g, &d_judge, &batch, rng);
    let g = descend(opt_g, lr_g, g, &g_out.loss);
    (g, d, d_out, g_out)
}

/// The GAN step strategy: G and D with their Adam states, and the EMA of G (checkpoint
/// parts `g`, `d`, `ema`, `opt_g`, `opt_d`).
pub struct GanStep<'r, R: GanRecipe> {
    recipe: &'r R,
    cfg: GanStepConfig,
    g: R::Net,
    d: R::D,
    ema: R::Net,
    opt_g: ModuleOptimizer,
    opt_d: ModuleOptimizer,
    /// Generator steps taken so far (restored from a checkpoint): the EMA's warm-up.
    steps_done: u64,
}

impl<'r, R: GanRecipe> GanStep<'r, R> {
    /// Fresh optimisers; the EMA starts as a copy of `g`.
    pub fn new(recipe: &'r R, cfg: GanStepConfig, g: R::Net, d: R::D) -> Self {
        // The EMA copy must not build autodiff graphs: an autodiff-free copy.
        let ema = g.clone().valid();
        Self {
            opt_g: adam(cfg.betas_g),
            opt_d: adam(cfg.betas_d),
            recipe,
            cfg,
            g,
            d,
            ema,
            steps_done: 0,
        }
    }

    /// The EMA decay for the next update: warmed up as (1 + t)/(10 + t) after t steps,
    /// capped at the configured decay. Without the warm-up a short run's average would
    /// still be mostly the random initial weights (0.999^1000 = 37% of it after 1,000
    /// steps); with it the average starts short and lengthens as training settles.
    fn ema_decay(&self) -> f64 {
        let t = self.steps_done as f64;
        self.cfg.ema_decay.min((1.0 + t) / (10.0 + t))
    }
}

impl<R: GanRecipe> StepStrategy for GanStep<'_, R> {
    type Net = R::Net;
    type Batch = R::Batch;

    fn step(
        mut self,
        next_batch: &mut dyn FnMut() -> R::Batch,
        lr_factor: f64,
        rng: &mut SeededRng,
    ) -> (Self, StepReport) {
        let (lr_g, lr_d) = (self.cfg.lr_g * lr_factor, self.cfg.lr_d * lr_factor);
        let decay = self.ema_decay();
        let (g, d, d_out, g_out) = gan_step(
            self.recipe,
            self.g,
            self.d,
            &mut self.opt_g,
            &mut self.opt_d,
            next_batch,
            self.cfg.n_critic,
            (lr_g, lr_d),
            rng,
        );
        self.ema = if self.cfg.ema_decay > 0.0 {
            ema_update(self.ema, &g, decay)
        } else {
            g.valid()
        };
        self.steps_done += 1;
        (self.g, self.d) = (g, d);
        let mut scores = vec![];
        if let Some(s) = d_out.real_score {
            scores.push(("d_real", s));
        }
        if let Some(s) = d_out.fake_score {
            scores.push(("d_fake", s));
        }
        let report = StepReport {
            losses: vec![
                ("d_loss", scalar(d_out.loss)),
                ("g_loss", scalar(g_out.loss)),
            ],
            scores,
            lrs: vec![("lr_g", lr_g), ("lr_d", lr_d)],
            batches: self.cfg.n_critic.max(1),
        };
        (self, report)
    }

    fn output(&self) -> R::Net {
        self.ema.clone()
    }

    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![
            module_part("g", &self.g)?,
            module_part("d", &self.d)?,
            module_part("ema", &self.ema)?,
            optimizer_part("opt_g", &self.opt_g)?,
            optimizer_part("opt_d", &self.opt_d)?,
        ])
    }

    fn restore(self, ckpt: &Loaded) -> Result<Self> {
        Ok(Self {
            g: ckpt.module(self.g, "g")?,
            d: ckpt.module(self.d, "d")?,
            ema: ckpt.module(self.ema, "ema")?.valid(),
            opt_g: ckpt.optimizer(self.opt_g, "opt_g")?,
            opt_d: ckpt.optimizer(self.opt_d, "opt_d")?,
            steps_done: ckpt.state.step,
            ..self
        })
    }

    fn all_finite(&self) -> bool {
        all_finite(&self.g) && all_finite(&self.d)
    }
}

/// The single-network step strategy: one network and its Adam state (checkpoint parts
/// `net`, `opt`), any loss the recipe computes.
pub struct SingleStep<'r, R: SingleRecipe> {
    recipe: &'r R,
    cfg: SingleStepConfig,
    net: R::Net,
    opt: ModuleOptimizer,
}

impl<'r, R: SingleRecipe> SingleStep<'r, R> {
    pub fn new(recipe: &'r R, cfg: SingleStepConfig, net: R::Net) -> Self {
        Self {
            opt: adam(cfg.betas),
            recipe,
            cfg,
            net,
        }
    }
}

impl<R: SingleRecipe> StepStrategy for SingleStep<'_, R> {
    type Net = R::Net;
    type Batch = R::Batch;

    fn step(
        mut self,
        next_batch: &mut dyn FnMut() -> R::Batch,
        lr_factor: f64,
        rng: &mut SeededRng,
    ) -> (Self, StepReport) {
        let lr = self.cfg.lr * lr_factor;
        let batch = next_batch();
        let out = self.recipe.loss(&self.net, &batch, rng);
        self.net = descend(&mut self.opt, lr, self.net, &out.loss);
        let report = StepReport {
            losses: vec![("loss", scalar(out.loss))],
            scores: vec![],
            lrs: vec![("lr", lr)],
            batches: 1,
        };
        (self, report)
    }

    fn output(&self) -> R::Net {
        self.net.clone().valid()
    }

    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![
            module_part("net", &self.net)?,
            optimizer_part("opt", &self.opt)?,
        ])
    }

    fn restore(self, ckpt: &Loaded) -> Result<Self> {
        Ok(Self {
            net: ckpt.module(self.net, "net")?,
            opt: ckpt.optimizer(self.opt, "opt")?,
            ..self
        })
    }

    fn all_finite(&self) -> bool {
        all_finite(&self.net)
    }
}
