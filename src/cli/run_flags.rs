//! What every `train` subcommand shares: the run flags (where a run lives, how long it
//! runs, how often it saves and reports), `--resume` with the saved settings, the run
//! directory's preparation, and the report at the end.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::train::run_dir::{prepare, saved_settings};
use crate::train::{LrSchedule, RunConfig, TrainOutcome};

pub(crate) fn parse_betas(s: &str) -> Result<(f32, f32), String> {
    let parts: Vec<&str> = s.split(',').collect();
    let bad = || format!("expected two numbers like 0.5,0.999, got '{s}'");
    if parts.len() != 2 {
        return Err(bad());
    }
    let b1 = parts[0].trim().parse::<f32>().map_err(|_| bad())?;
    let b2 = parts[1].trim().parse::<f32>().map_err(|_| bad())?;
    Ok((b1, b2))
}

/// The command as typed, without the program's install path: recorded in model files.
pub(crate) fn command_line() -> String {
    std::iter::once("atelier".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Flags every training run shares: where it lives, how long it runs, how often it saves
/// and reports.
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct RunFlags {
    /// Run directory (config, metrics, samples, checkpoints, the trained model).
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its newest intact checkpoint, with its
    /// settings.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: Option<PathBuf>,
    /// Start a new run in a --out that already holds one, deleting the old run (its
    /// checkpoints, samples and model) once the new one starts.
    #[arg(long)]
    #[serde(default)]
    pub overwrite: bool,
    /// Generator steps to train for (on --resume: the new total, default the saved one).
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    #[arg(long, default_value_t = 500)]
    pub sample_every: u64,
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    #[arg(long, default_value_t = 2)]
    pub keep_checkpoints: usize,
    /// Image-decoding threads (default: half the cores, at most 4).
    #[arg(long)]
    pub workers: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl RunFlags {
    /// The engine's settings: these flags plus the run length, batch size and schedule.
    pub fn run_config(&self, steps: u64, batch_size: usize, lr_schedule: LrSchedule) -> RunConfig {
        RunConfig {
            steps,
            batch_size,
            lr_schedule,
            seed: self.seed,
            checkpoint_every: self.checkpoint_every,
            sample_every: self.sample_every,
            log_every: self.log_every,
            keep_checkpoints: self.keep_checkpoints,
        }
    }
}

/// Run settings that can be resumed.
pub(crate) trait RunArgs: Serialize + serde::de::DeserializeOwned {
    fn run_flags(&mut self) -> &mut RunFlags;
}

/// The settings to run with, the run directory and whether to resume: on --resume, the
/// run's saved settings with a new --steps if one was given.
pub(crate) fn resolve<T: RunArgs>(mut args: T) -> anyhow::Result<(T, PathBuf, bool)> {
    let given = args.run_flags().clone();
    match given.resume.clone() {
        Some(run) => {
            let mut saved: T = saved_settings(&run)?;
            let flags = saved.run_flags();
            if given.steps.is_some() {
                flags.steps = given.steps;
            }
            flags.quiet = given.quiet;
            flags.resume = None;
            flags.out = Some(run.clone());
            Ok((saved, run, true))
        }
        None => {
            let out = given.out.context("--out is required")?;
            Ok((args, out, false))
        }
    }
}

/// Check the run directory before any work (see [`crate::train::run_dir::prepare`]) and
/// return what records the settings to resume with (the total steps made explicit, no
/// --resume) once training has really started.
pub(crate) fn prepare_run_dir<T: RunArgs + Clone>(
    run_dir: &Path,
    args: &T,
    steps: u64,
    resume: bool,
) -> anyhow::Result<Box<dyn Fn() -> crate::Result<()>>> {
    let mut saved = args.clone();
    let flags = saved.run_flags();
    let overwrite = flags.overwrite;
    flags.steps = Some(steps);
    flags.resume = None;
    flags.overwrite = false;
    let json = serde_json::to_vec_pretty(&saved)?;
    Ok(prepare(run_dir, resume, overwrite, json)?)
}

pub(crate) fn report(outcome: &TrainOutcome, run_dir: &Path) {
    super::status(format_args!(
        "trained to step {}; model: {}; samples: {}",
        outcome.final_step,
        outcome.model_file.display(),
        run_dir.join("samples.png").display()
    ));
}
