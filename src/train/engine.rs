//! The training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::ProgressBar;

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::ema::{all_finite, ema_update};
use super::run_log::{MetricRow, RunLog};
use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;
use crate::util::rng::SeededRng;

/// One network update's loss and, for logging, the mean scores D gave real and fake data.
pub struct StepLosses {
    pub loss: Tensor<1>,
    pub real_score: Option<Tensor<1>>,
    pub fake_score: Option<Tensor<1>>,
}

/// An endless, resumable stream of training batches.
pub trait BatchStream {
    type Item;
    fn next_batch(&mut self) -> Self::Item;
    /// The number of the next batch; a stream rebuilt at this position continues exactly.
    fn position(&self) -> u64;
}

impl<B: Send + 'static> BatchStream for crate::data::loader::Stream<B> {
    type Item = B;
    fn next_batch(&mut self) -> B {
        crate::data::loader::Stream::next_batch(self)
    }
    fn position(&self) -> u64 {
        crate::data::loader::Stream::position(self)
    }
}

impl BatchStream for crate::data::BatchLoader {
    type Item = crate::data::Batch;
    fn next_batch(&mut self) -> Self::Item {
        crate::data::BatchLoader::next_batch(self)
    }
    fn position(&self) -> u64 {
        crate::data::BatchLoader::position(self)
    }
}

/// What a GAN family contributes to training: its losses, its sample sheet, its export.
/// Everything else (optimisers, EMA, checkpoints, logging) is the engine's.
pub trait GanRecipe {
    type G: Module;
    type D: Module;
    type Batch;

    /// The discriminator's loss on a batch (G's output must be detached).
    fn d_step(
        &self,
        g: &Self::G,
        d: &Self::D,
        batch: &Self::Batch,
        rng: &mut SeededRng,
    ) -> StepLosses;
    /// The generator's loss on a batch.
    fn g_step(
        &self,
        g: &Self::G,
        d: &Self::D,
        batch: &Self::Batch,
        rng: &mut SeededRng,
    ) -> StepLosses;
    /// A sample sheet from the (averaged) generator, from inputs fixed for the whole run.
    fn sample_sheet(&self, g: &Self::G) -> Result<image::RgbImage>;
    /// Write the averaged generator as a usable model file.
    fn export(&self, g: &Self::G, path: &Path) -> Result<()>;
    /// `n` images from the generator for FID, from latents fixed by `seed`.
    fn fid_samples(&self, g: &Self::G, n: usize, seed: u64) -> Result<Vec<image::RgbImage>> {
        let _ = (g, n, seed);
        Err(AtelierError::Config(
            "this model cannot be measured with FID during training".into(),
        ))
    }
    /// Validation numbers for the (averaged) generator, logged with each sample sheet to
    /// `eval.jsonl` and `eval.png` (e.g. pix2pix's L1 on held-out pairs).
    fn evaluate(&self, g: &Self::G) -> Result<Vec<(&'static str, f64)>> {
        let _ = g;
        Ok(vec![])
    }
    /// State the recipe carries between steps (CycleGAN's pool of past fakes); saved with
    /// every checkpoint so a resumed run continues as if never stopped.
    fn state(&self) -> Vec<(String, TensorData)> {
        vec![]
    }
    /// Put back what [`GanRecipe::state`] returned.
    fn restore_state(&self, state: Vec<(String, TensorData)>) -> Result<()> {
        let _ = state;
        Ok(())
    }
    /// The exported model's file name inside the run directory.
    fn model_file_name(&self) -> &'static str {
        "generator.safetensors"
    }
}

#[derive(Debug)]
pub struct TrainOutcome {
    /// (step, D loss, G loss) for every step this call ran.
    pub losses: Vec<(u64, f64, f64)>,
    pub final_step: u64,
    pub last_checkpoint: Option<PathBuf>,
    pub model_file: PathBuf,
}

/// How the engine should run: where, and whether to show progress or stop early.
pub struct RunOptions {
    pub run_dir: PathBuf,
    /// Continue from the run directory's latest checkpoint.
    pub resume: bool,
    pub progress: bool,
    /// Stop after this step as if killed (after its checkpoint, if one was due). Tests use
    /// it to check resume.
    pub stop_after: Option<u64>,
    /// Measure FID every N steps and keep the best generator.
    pub fid: Option<super::fid_monitor::FidSettings>,
    /// Run once the run has really started (a resume has found and loaded its checkpoint),
    /// before the engine writes anything: the CLI records the run's settings here, so a
    /// failed resume leaves `run.json` as it was.
    pub on_start: Option<Box<dyn Fn() -> Result<()>>>,
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// One training step: `n_critic` discriminator updates, each on a fresh batch, then one
/// generator update on the last batch. Returns the updated networks and the last losses.
#[allow(clippy::too_many_arguments)]
pub fn gan_step<R: GanRecipe>(
    recipe: &R,
    g: R::G,
    mut d: R::D,
    opt_g: &mut ModuleOptimizer,
    opt_d: &mut ModuleOptimizer,
    next_batch: &mut dyn FnMut() -> R::Batch,
    n_critic: usize,
    (lr_g, lr_d): (f64, f64),
    rng: &mut SeededRng,
) -> (R::G, R::D, StepLosses, StepLosses) {
    let mut last = None;
    for _ in 0..n_critic.max(1) {
        let b = next_batch();
        let out = recipe.d_step(&g, &d, &b, rng);
        let grads = GradientsParams::from_grads(out.loss.backward(), &d);
        d = opt_d.step(lr_d, d, grads);
        last = Some((out, b));
    }
    let (d_out, batch) = last.expect("at least one critic step");
    let g_out = recipe.g_step(&g, &d, &batch, rng);
    let grads = GradientsParams::from_grads(g_out.loss.backward(), &g);
    let g = opt_g.step(lr_g, g, grads);
    (g, d, d_out, g_out)
}

/// Adam with the given betas, as every GAN here uses it.
pub fn adam(betas: (f32, f32)) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(betas.0)
        .with_beta_2(betas.1)
        .with_epsilon(1e-8)
        .init()
}

/// Load the newest checkpoint of `run` that verifies and fits, passing over damaged ones
/// with a warning that names each. `None` only when the run has no checkpoint at all; when
/// checkpoints exist but none loads, an error lists why, and nothing is changed.
fn resume_newest_intact<R: GanRecipe>(
    recipe: &R,
    cfg: &TrainConfig,
    run: &Path,
    g0: &R::G,
    d0: &R::D,
    ema0: &R::G,
) -> Result<Option<checkpoint::Loaded<R::G, R::D>>> {
    let candidates = checkpoint::candidates(run);
    if candidates.is_empty() {
        tracing::warn!(
            "no checkpoint in {} yet (the run stopped before its first one); starting from \
             step 0",
            run.display()
        );
        return Ok(None);
    }
    let mut failures = Vec::new();
    for dir in candidates {
        let loaded = checkpoint::load(
            &dir,
            g0.clone(),
            d0.clone(),
            ema0.clone(),
            adam(cfg.betas_g),
            adam(cfg.betas_d),
        )
        .and_then(|l| {
            recipe.restore_state(l.recipe_state.clone())?;
            Ok(l)
        });
        match loaded {
            Ok(l) => {
                tracing::info!("resuming from {} (step {})", dir.display(), l.state.step);
                return Ok(Some(l));
            }
            Err(e) => {
                tracing::warn!(
                    "skipping checkpoint {}: {e}; trying an older one",
                    dir.display()
                );
                failures.push(e.to_string());
            }
        }
    }
    Err(AtelierError::Checkpoint {
        path: checkpoint::checkpoints_dir(run),
        reason: format!(
            "no checkpoint could be loaded, so the run was not resumed and nothing was \
             changed: {}",
            failures.join("; ")
        ),
    })
}

/// Train `recipe`'s networks. `init` builds fresh networks on the training device;
/// `stream_at(b)` builds the data stream starting at batch `b`.
pub fn train<R, S>(
    recipe: &R,
    cfg: &TrainConfig,
    opts: &RunOptions,
    init: impl FnOnce() -> (R::G, R::D),
    stream_at: impl FnOnce(u64) -> Result<S>,
) -> Result<TrainOutcome>
where
    R: GanRecipe,
    S: BatchStream<Item = R::Batch>,
{
    cfg.validate()?;
    let run = &opts.run_dir;

    let (g0, d0) = init();
    let ema0 = g0.clone();
    let resumed = if opts.resume {
        resume_newest_intact(recipe, cfg, run, &g0, &d0, &ema0)?
    } else {
        None
    };
    if let Some(start) = &opts.on_start {
        start()?;
    }
    std::fs::create_dir_all(run.join("samples")).map_err(|e| AtelierError::Write {
        path: run.clone(),
        reason: e.to_string(),
    })?;
    let (mut g, mut d, mut ema, mut opt_g, mut opt_d, mut state, mut last_ckpt) = match resumed {
        Some(l) => (l.g, l.d, l.ema, l.opt_g, l.opt_d, l.state, Some(l.dir)),
        None => {
            let state = TrainState {
                step: 0,
                batch_position: 0,
                rng: SeededRng::derived(cfg.seed, &[3]).state(),
            };
            (
                g0,
                d0,
                ema0,
                adam(cfg.betas_g),
                adam(cfg.betas_d),
                state,
                None,
            )
        }
    };
    // The EMA copy must not build autodiff graphs: an autodiff-free copy, made once.
    ema = ema.valid();
    let diverged =
        |step: u64, what: &str, value: f64, last: &Option<PathBuf>| AtelierError::Diverged {
            step,
            what: what.into(),
            value,
            checkpoint: last
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none yet".into()),
        };
    let mut rng = SeededRng::from_state(&state.rng).map_err(AtelierError::Config)?;
    let mut stream = stream_at(state.batch_position)?;
    let mut log = RunLog::open(run, state.step)?;
    let mut eval_log = super::eval_log::EvalLog::open(run, state.step)?;
    let mut fid = opts
        .fid
        .as_ref()
        .map(|f| super::fid_monitor::FidTracker::open(f, run, state.step))
        .transpose()?;
    let config_json = serde_json::to_vec_pretty(cfg).expect("config serialises");
    write_atomic(&run.join("config.json"), &config_json)?;

    let bar = if opts.progress {
        let b = crate::util::progress::bar(cfg.steps);
        b.set_position(state.step);
        b
    } else {
        ProgressBar::hidden()
    };

    let model_file = run.join(recipe.model_file_name());
    let mut losses = Vec::new();
    let mut window_images = 0usize;
    let mut window_start = Instant::now();
    while state.step < cfg.steps {
        let factor = cfg.lr_schedule.factor(state.step, cfg.steps);
        let (lr_g, lr_d) = (cfg.lr_g * factor, cfg.lr_d * factor);

        let (g_new, d_new, d_out, g_out) = gan_step(
            recipe,
            g,
            d,
            &mut opt_g,
            &mut opt_d,
            &mut || stream.next_batch(),
            cfg.n_critic,
            (lr_g, lr_d),
            &mut rng,
        );
        (g, d) = (g_new, d_new);
        window_images += cfg.batch_size * cfg.n_critic;
        ema = if cfg.ema_decay > 0.0 {
            ema_update(ema, &g, cfg.ema_decay)
        } else {
            g.valid()
        };
        state.step += 1;

        let d_loss = scalar(d_out.loss);
        let g_loss = scalar(g_out.loss);
        for (what, v) in [
            ("the discriminator loss", d_loss),
            ("the generator loss", g_loss),
        ] {
            if !v.is_finite() {
                bar.abandon();
                return Err(diverged(state.step, what, v, &last_ckpt));
            }
        }
        losses.push((state.step, d_loss, g_loss));

        let last = state.step == cfg.steps || Some(state.step) == opts.stop_after;
        if state.step % cfg.log_every == 0 || last {
            let secs = window_start.elapsed().as_secs_f64().max(1e-9);
            let row = MetricRow {
                step: state.step,
                d_loss,
                g_loss,
                d_real: d_out.real_score.map(scalar).unwrap_or(f64::NAN),
                d_fake: d_out.fake_score.map(scalar).unwrap_or(f64::NAN),
                images_per_sec: window_images as f64 / secs,
                lr_g,
                lr_d,
            };
            bar.set_message(format!(
                "D {:.3}  G {:.3}  D(x) {:.2}  D(G(z)) {:.2}  {:.1} img/s",
                row.d_loss, row.g_loss, row.d_real, row.d_fake, row.images_per_sec
            ));
            log.push(row)?;
            window_images = 0;
            window_start = Instant::now();
        }
        bar.set_position(state.step);

        if state.step % cfg.sample_every == 0 || last {
            let sheet = recipe.sample_sheet(&ema)?;
            crate::imaging::save_image(
                &sheet,
                &run.join("samples")
                    .join(format!("step-{:08}.png", state.step)),
            )?;
            crate::imaging::save_image(&sheet, &run.join("samples.png"))?;
            log.plot(&run.join("loss.png"))?;
            let values = recipe.evaluate(&ema)?;
            if !values.is_empty() {
                let text: Vec<String> = values.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
                bar.println(format!("step {}: {}", state.step, text.join("  ")));
                eval_log.push(state.step, &values)?;
            }
        }
        if let Some(tracker) = &mut fid
            && tracker.due(state.step, last)
        {
            let s = tracker.settings;
            let images = recipe.fid_samples(&ema, s.samples, s.seed)?;
            let (value, best) = tracker.record(state.step, &images)?;
            bar.println(format!(
                "step {}: FID {value:.2} ({} samples){}",
                state.step,
                s.samples,
                if best { ", best so far" } else { "" }
            ));
            if best {
                recipe.export(&ema, &tracker.best_model_path())?;
            }
        }
        if state.step % cfg.checkpoint_every == 0 || last {
            if !all_finite(&g) || !all_finite(&d) {
                bar.abandon();
                return Err(diverged(
                    state.step,
                    "a network weight",
                    f64::NAN,
                    &last_ckpt,
                ));
            }
            state.batch_position = stream.position();
            state.rng = rng.state();
            last_ckpt = Some(checkpoint::save(
                run,
                &g,
                &d,
                &ema,
                &opt_g,
                &opt_d,
                &state,
                &recipe.state(),
                cfg.keep_checkpoints,
            )?);
            recipe.export(&ema, &model_file)?;
        }
        if Some(state.step) == opts.stop_after {
            break;
        }
    }
    bar.finish();
    Ok(TrainOutcome {
        losses,
        final_step: state.step,
        last_checkpoint: last_ckpt,
        model_file,
    })
}
