//! The run loop every trainer shares: the learning-rate schedule, logs, sample sheets,
//! validation numbers, FID, checkpoints of the strategy's named parts with exact resume,
//! and the divergence watchdog. What a step does is the strategy's
//! ([`super::step::StepStrategy`]); what the trained network shows is the recipe's
//! ([`super::recipe::RunRecipe`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressBar;

use super::checkpoint::{self, TrainState};
use super::config::{GanStepConfig, RunConfig, SingleStepConfig};
use super::recipe::{BatchStream, GanRecipe, RunRecipe, SingleRecipe};
use super::run_log::{MetricRow, RunLog};
use super::step::{GanStep, SingleStep, StepStrategy};
use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;
use crate::util::rng::SeededRng;

#[derive(Debug)]
pub struct TrainOutcome {
    /// (step, first loss, second loss) for every step this call ran: (D, G) for a GAN;
    /// (loss, NaN) for a single network.
    pub losses: Vec<(u64, f64, f64)>,
    pub final_step: u64,
    pub last_checkpoint: Option<PathBuf>,
    pub model_file: PathBuf,
}

/// How the engine should run: where, and whether to show progress or stop early.
pub struct RunOptions {
    pub run_dir: PathBuf,
    /// Continue from the run directory's newest intact checkpoint.
    pub resume: bool,
    pub progress: bool,
    /// Stop after this step as if killed (after its checkpoint, if one was due). Tests use
    /// it to check resume.
    pub stop_after: Option<u64>,
    /// Measure FID every N steps and keep the best network.
    pub fid: Option<super::fid_monitor::FidSettings>,
    /// Run once the run has really started (a resume has found and loaded its checkpoint),
    /// before the engine writes anything: the CLI records the run's settings here, so a
    /// failed resume leaves `run.json` as it was.
    pub on_start: Option<Box<dyn Fn() -> Result<()>>>,
}

/// Load the newest checkpoint of `run` that verifies and fits, passing over damaged ones
/// with a warning that names each. `None` only when the run has no checkpoint at all; when
/// checkpoints exist but none loads, an error lists why, and nothing is changed.
fn resume_newest_intact<S: StepStrategy, R: RunRecipe>(
    recipe: &R,
    run: &Path,
    fresh: &impl Fn() -> S,
) -> Result<Option<(S, checkpoint::Loaded)>> {
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
        let loaded = checkpoint::load(&dir).and_then(|mut ckpt| {
            let strategy = fresh().restore(&ckpt)?;
            recipe.restore_state(std::mem::take(&mut ckpt.recipe_state))?;
            Ok((strategy, ckpt))
        });
        match loaded {
            Ok((strategy, ckpt)) => {
                tracing::info!("resuming from {} (step {})", dir.display(), ckpt.state.step);
                return Ok(Some((strategy, ckpt)));
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

/// Run a training run: `fresh()` builds the strategy with freshly initialised networks on
/// the training device (called again for each checkpoint a resume tries), `stream_at(b)`
/// the data stream starting at batch `b`. `step_settings` (the strategy's config) and the
/// recipe's own settings are recorded in `config.json` beside the engine's.
pub fn run<S, R, B>(
    recipe: &R,
    cfg: &RunConfig,
    step_settings: serde_json::Value,
    opts: &RunOptions,
    fresh: impl Fn() -> S,
    stream_at: impl FnOnce(u64) -> Result<B>,
) -> Result<TrainOutcome>
where
    S: StepStrategy,
    R: RunRecipe<Net = S::Net>,
    B: BatchStream<Item = S::Batch>,
{
    cfg.validate()?;
    let run = &opts.run_dir;
    // Every step re-allocates the same buffers: keep freed memory mapped for them.
    let _keep = crate::alloc::KeepFreedMemory::new();

    let resumed = if opts.resume {
        resume_newest_intact(recipe, run, &fresh)?
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
    let (mut strategy, mut state, mut last_ckpt) = match resumed {
        Some((s, ckpt)) => (s, ckpt.state, Some(ckpt.dir)),
        None => {
            let state = TrainState {
                step: 0,
                batch_position: 0,
                rng: SeededRng::derived(cfg.seed, &[3]).state(),
                train_seconds: 0.0,
            };
            (fresh(), state, None)
        }
    };
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
    let config_json = serde_json::json!({
        "run": cfg,
        "step": step_settings,
        "recipe": recipe.settings(),
    });
    write_atomic(
        &run.join("config.json"),
        &serde_json::to_vec_pretty(&config_json).expect("config serialises"),
    )?;

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
        let step_start = Instant::now();
        let (next, report) = strategy.step(&mut || stream.next_batch(), factor, &mut rng);
        strategy = next;
        state.train_seconds += step_start.elapsed().as_secs_f64();
        window_images += cfg.batch_size * report.batches;
        state.step += 1;

        for &(what, v) in &report.losses {
            if !v.is_finite() {
                bar.abandon();
                return Err(diverged(state.step, what, v, &last_ckpt));
            }
        }
        let loss_at = |i: usize| report.losses.get(i).map_or(f64::NAN, |l| l.1);
        losses.push((state.step, loss_at(0), loss_at(1)));

        let out_of_time = cfg
            .max_minutes
            .is_some_and(|m| state.train_seconds >= m * 60.0);
        let last = state.step == cfg.steps || Some(state.step) == opts.stop_after || out_of_time;
        if state.step % cfg.log_every == 0 || last {
            let secs = window_start.elapsed().as_secs_f64().max(1e-9);
            let mut values: Vec<(String, f64)> = report
                .losses
                .iter()
                .map(|&(k, v)| (k.to_string(), v))
                .collect();
            for (k, t) in report.scores {
                values.push((k.to_string(), t.into_scalar::<f32>() as f64));
            }
            // The bar shows losses and scores; the log row adds the learning rates.
            let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
            values.extend(report.lrs.iter().map(|&(k, v)| (k.to_string(), v)));
            let row = MetricRow {
                step: state.step,
                values: values.into_iter().collect(),
                images_per_sec: window_images as f64 / secs,
            };
            bar.set_message(format!(
                "{}  {:.1} img/s",
                shown.join("  "),
                row.images_per_sec
            ));
            log.push(row)?;
            window_images = 0;
            window_start = Instant::now();
        }
        bar.set_position(state.step);

        if state.step % cfg.sample_every == 0 || last {
            let net = strategy.output();
            let sheet = recipe.sample_sheet(&net)?;
            crate::imaging::save_image(
                &sheet,
                &run.join("samples")
                    .join(format!("step-{:08}.png", state.step)),
            )?;
            crate::imaging::save_image(&sheet, &run.join("samples.png"))?;
            log.plot(&run.join("loss.png"))?;
            let values = recipe.evaluate(&net)?;
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
            let net = strategy.output();
            let images = recipe.fid_samples(&net, s.samples, s.seed)?;
            let (value, best) = tracker.record(state.step, state.train_seconds, &images)?;
            bar.println(format!(
                "step {}: FID {value:.2} ({} samples){}",
                state.step,
                s.samples,
                if best { ", best so far" } else { "" }
            ));
            if best {
                recipe.export(&net, &tracker.best_model_path())?;
            }
        }
        if state.step % cfg.checkpoint_every == 0 || last {
            if !strategy.all_finite() {
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
                &strategy.parts()?,
                &state,
                &recipe.state(),
                cfg.keep_checkpoints,
            )?);
            recipe.export(&strategy.output(), &model_file)?;
        }
        if Some(state.step) == opts.stop_after {
            break;
        }
        if out_of_time {
            bar.println(format!(
                "stopped at step {}: {:.1} minutes of training (--minutes)",
                state.step,
                state.train_seconds / 60.0
            ));
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

fn step_settings(cfg: &impl serde::Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(cfg).map_err(|e| AtelierError::Config(e.to_string()))
}

/// Start (or resume) a GAN run: [`run`] with [`GanStep`]. `nets()` builds fresh G and D on
/// `device`, which is seeded with the run's seed first (weight initialisation is the only
/// use of burn's device RNG), so a fresh run and every resume attempt start alike.
pub fn run_gan<R, B>(
    recipe: &R,
    cfg: &RunConfig,
    step: &GanStepConfig,
    opts: &RunOptions,
    device: &burn::prelude::Device,
    nets: impl Fn() -> (R::Net, R::D),
    stream_at: impl FnOnce(u64) -> Result<B>,
) -> Result<TrainOutcome>
where
    R: GanRecipe,
    B: BatchStream<Item = <R as GanRecipe>::Batch>,
{
    let fresh = || {
        device.seed(cfg.seed);
        let (g, d) = nets();
        GanStep::new(recipe, step.clone(), g, d)
    };
    run(recipe, cfg, step_settings(step)?, opts, fresh, stream_at)
}

/// Start (or resume) a single-network run: [`run`] with [`SingleStep`]; `net()` builds the
/// network fresh on `device`, seeded with the run's seed first.
pub fn run_single<R, B>(
    recipe: &R,
    cfg: &RunConfig,
    step: &SingleStepConfig,
    opts: &RunOptions,
    device: &burn::prelude::Device,
    net: impl Fn() -> R::Net,
    stream_at: impl FnOnce(u64) -> Result<B>,
) -> Result<TrainOutcome>
where
    R: SingleRecipe,
    B: BatchStream<Item = <R as SingleRecipe>::Batch>,
{
    let fresh = || {
        device.seed(cfg.seed);
        SingleStep::new(recipe, step.clone(), net())
    };
    run(recipe, cfg, step_settings(step)?, opts, fresh, stream_at)
}
