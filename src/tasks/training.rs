//! What every training task shares: the run flags (where a run lives, how long it runs,
//! how often it saves and reports), `--resume` with the saved settings, where and how a
//! run is launched ([`Launch`]), and the run directory's preparation.
//!
//! Training options derive `clap::Args` as well as serde: one definition holds each
//! setting's default and help text for the CLI, the settings saved in `run.json` for
//! `--resume`, and what a library caller (the studio) fills in, so the three cannot drift.
//! [`from_flags`] builds them from flag lists, defaults included.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::data::translation::image_files;
use crate::device::DeviceChoice;
use crate::imaging::io::{LoadOptions, load_rgb};
use crate::train::engine::RunOptions;
use crate::train::run_dir::{prepare, saved_settings};
use crate::train::{LrSchedule, RunConfig};

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

/// A training crop size: a multiple of 4 from 32 to 1024.
pub fn parse_crop_size(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (32..=1024).contains(&n) && n % 4 == 0 => Ok(n),
        _ => Err(format!(
            "size must be a multiple of 4 from 32 to 1024 (256 is usual), got '{s}'"
        )),
    }
}

/// The image files in `paths` (folders, searched recursively, or single images), less
/// those whose file names are in `exclude`.
pub fn list_images(paths: &[PathBuf], exclude: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            files.push(p.clone());
        } else {
            files.extend(image_files(p)?);
        }
    }
    let before = files.len();
    files.retain(|f| {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        !name.is_some_and(|n| exclude.contains(&n))
    });
    if before > files.len() {
        tracing::info!("left out {} images (--exclude)", before - files.len());
    }
    Ok(files)
}

/// Every image in the content folders (or the files given), decoded.
pub fn load_content(paths: &[PathBuf], exclude: &[String]) -> anyhow::Result<Vec<image::RgbImage>> {
    let files = list_images(paths, exclude)?;
    anyhow::ensure!(!files.is_empty(), "no images found in --content");
    let opts = LoadOptions::default();
    files
        .iter()
        .map(|f| load_rgb(f, &opts).map_err(anyhow::Error::from))
        .collect()
}

/// `--fine-tune FILE`: the trained network's settings (`have`, from the file) must be the
/// ones this run's flags describe (`want`); otherwise name both, so the user sees which
/// flags to change.
pub fn check_fine_tune(
    path: &std::path::Path,
    have: &impl Serialize,
    want: &impl Serialize,
) -> anyhow::Result<()> {
    let (have, want) = (serde_json::to_value(have)?, serde_json::to_value(want)?);
    anyhow::ensure!(
        have == want,
        "--fine-tune {}: that network is {have}; this run's flags describe {want} \
         (give the flags that match the file)",
        path.display()
    );
    Ok(())
}

/// Options from flags as the CLI takes them (`["--data", "art/", "--steps", "500"]`),
/// every flag not given at its default: how a caller other than the CLI builds a task's
/// options without restating the defaults.
pub fn from_flags<T: clap::Args + clap::FromArgMatches>(flags: &[&str]) -> anyhow::Result<T> {
    let cmd = T::augment_args(clap::Command::new("atelier").no_binary_name(true));
    let matches = cmd.try_get_matches_from(flags)?;
    Ok(T::from_arg_matches(&matches)?)
}

/// Where and how a training task runs, beside its settings.
#[derive(Clone, Debug)]
pub struct Launch {
    pub run_dir: PathBuf,
    /// Continue the run in `run_dir` from its newest intact checkpoint.
    pub resume: bool,
    pub device: DeviceChoice,
    /// The command to record in the model file (the CLI passes the command line as typed).
    pub command: String,
    /// Stop after this step as if killed (tests check resume with it).
    pub stop_after: Option<u64>,
}

impl Launch {
    pub fn new(run_dir: impl Into<PathBuf>, resume: bool, device: DeviceChoice) -> Self {
        Launch {
            run_dir: run_dir.into(),
            resume,
            device,
            command: String::new(),
            stop_after: None,
        }
    }

    pub fn with_command(self, command: impl Into<String>) -> Self {
        Launch {
            command: command.into(),
            ..self
        }
    }

    pub fn with_stop_after(self, step: u64) -> Self {
        Launch {
            stop_after: Some(step),
            ..self
        }
    }

    /// Check the run directory before any other work and return the engine's options for
    /// this launch (without FID; a task that measures it sets `fid`). `settings` (the
    /// task's options) are recorded in `run.json` once the run has really started.
    pub(crate) fn prepare<T: RunArgs + Clone>(
        &self,
        settings: &T,
        steps: u64,
    ) -> anyhow::Result<RunOptions> {
        // What `--resume` will read: the total steps made explicit, no --resume/--overwrite.
        let mut saved = settings.clone();
        let flags = saved.run_flags();
        let (progress, overwrite) = (!flags.quiet, flags.overwrite);
        flags.steps = Some(steps);
        flags.resume = None;
        flags.overwrite = false;
        let json = serde_json::to_vec_pretty(&saved)?;
        let on_start = prepare(&self.run_dir, self.resume, overwrite, json)?;
        Ok(RunOptions {
            run_dir: self.run_dir.clone(),
            resume: self.resume,
            progress,
            stop_after: self.stop_after,
            fid: None,
            on_start: Some(on_start),
        })
    }
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
    /// Stop after this many minutes of training steps (samples, FID and checkpoints not
    /// counted; a resumed run counts its earlier time), or at --steps, whichever comes first
    /// (on --resume: the new limit, default the saved one).
    #[arg(long)]
    #[serde(default)]
    pub minutes: Option<f64>,
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
            max_minutes: self.minutes,
        }
    }
}

/// Training options that can be resumed: they hold the [`RunFlags`].
pub trait RunArgs: Serialize + serde::de::DeserializeOwned {
    fn run_flags(&mut self) -> &mut RunFlags;
}

/// The settings to run with, the run directory and whether to resume: on --resume, the
/// run's saved settings with a new --steps if one was given.
pub fn resolve<T: RunArgs + clap::Args + clap::FromArgMatches>(
    mut args: T,
) -> anyhow::Result<(T, PathBuf, bool)> {
    let given = args.run_flags().clone();
    match given.resume.clone() {
        Some(run) => {
            let mut saved: T = saved_settings(&run)?;
            let ignored = flags_resume_would_ignore(&args, &saved, &run)?;
            anyhow::ensure!(
                ignored.is_empty(),
                "--resume continues {} with its saved settings, but these flags differ from \
                 them: {}. Drop them (only --steps, --minutes and --quiet may change on a \
                 resume), or start a new run with --out",
                run.display(),
                ignored.join(", ")
            );
            let flags = saved.run_flags();
            if given.steps.is_some() {
                flags.steps = given.steps;
            }
            flags.quiet = given.quiet;
            if given.minutes.is_some() {
                flags.minutes = given.minutes;
            }
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

/// The flags given beside `--resume` (those that differ from their defaults) whose values
/// differ from the run's saved settings, as `--flag value (saved: value)`. Resuming uses the
/// saved settings, so these would be ignored silently; only the length of the run and the
/// progress bar may change. A flag given at its default value is not seen: harmless, as the
/// saved value is used either way.
fn flags_resume_would_ignore<T: RunArgs + clap::Args + clap::FromArgMatches>(
    given: &T,
    saved: &T,
    run: &Path,
) -> anyhow::Result<Vec<String>> {
    const MAY_CHANGE: [&str; 6] = ["steps", "minutes", "quiet", "resume", "out", "overwrite"];
    let defaults: T = from_flags(&["--resume", &run.to_string_lossy()])?;
    let [given, saved, defaults] = [
        serde_json::to_value(given)?,
        serde_json::to_value(saved)?,
        serde_json::to_value(&defaults)?,
    ];
    let show = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "unset".into(),
    };
    let Some(given) = given.as_object() else {
        return Ok(Vec::new());
    };
    Ok(given
        .iter()
        .filter(|(k, v)| {
            !MAY_CHANGE.contains(&k.as_str())
                && defaults.get(k.as_str()) != Some(*v)
                && saved.get(k.as_str()) != Some(*v)
        })
        .map(|(k, v)| {
            format!(
                "--{} {} (saved: {})",
                k.replace('_', "-"),
                show(Some(v)),
                show(saved.get(k.as_str()))
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::train_gan::GanTrainOptions;
    use crate::tasks::train_translate::{Preset, TranslateTrainOptions};

    #[test]
    fn a_run_saved_before_the_diversity_term_resumes_without_it() {
        let new: GanTrainOptions = from_flags(&[
            "--data",
            "a",
            "--out",
            "r",
            "--arch",
            "fastgan",
            "--conditional",
        ])
        .unwrap();
        assert_eq!(new.resolved().arch_settings().diversity, 4.0);
        let mut old = serde_json::to_value(new.resolved()).unwrap();
        old.as_object_mut().unwrap().remove("diversity");
        let old: GanTrainOptions = serde_json::from_value(old).unwrap();
        assert_eq!(old.resolved().arch_settings().diversity, 0.0);
    }

    #[test]
    fn flags_that_resume_would_ignore_are_named() {
        let run = Path::new("r");
        let saved: GanTrainOptions = from_flags(&[
            "--data",
            "a",
            "--out",
            "r",
            "--lr-g",
            "1e-4",
            "--conditional",
        ])
        .unwrap();
        let saved = saved.resolved();
        let given = |flags: &[&str]| -> GanTrainOptions {
            from_flags(&[&["--resume", "r"], flags].concat()).unwrap()
        };
        let none = |flags: &[&str]| flags_resume_would_ignore(&given(flags), &saved, run).unwrap();
        // The same values as saved, a new length, or defaults: nothing is ignored.
        assert!(none(&["--lr-g", "1e-4", "--conditional", "--loss", "ns"]).is_empty());
        assert!(none(&["--steps", "9", "--minutes", "2", "--quiet"]).is_empty());
        assert_eq!(
            none(&["--lr-g", "2e-4", "--steps", "9", "--arch", "fastgan"]),
            vec![
                "--arch fastgan (saved: dcgan)",
                "--lr-g 0.0002 (saved: 0.0001)"
            ]
        );
    }

    #[test]
    fn options_from_flags_take_the_cli_defaults() {
        let o: GanTrainOptions = from_flags(&["--data", "art", "--out", "run"]).unwrap();
        assert_eq!(o.size, 64);
        assert_eq!(o.batch_size, 64);
        assert_eq!(o.arch_settings().betas_g, (0.5, 0.999));
        assert_eq!(o.run.checkpoint_every, 1000);
        assert_eq!(o.run.steps, None);
        let t: TranslateTrainOptions =
            from_flags(&["--a", "x", "--mode", "unpaired", "--b", "y", "--out", "r"]).unwrap();
        assert_eq!(t.preset(), Preset::Cyclegan);
        assert_eq!(t.size, 256);
    }

    #[test]
    fn bad_flags_are_errors_that_name_them() {
        let e = from_flags::<GanTrainOptions>(&["--data", "a", "--out", "r", "--size", "48"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("size must be 32, 64, 128 or 256"), "{e}");
        let e = from_flags::<GanTrainOptions>(&["--out", "r", "--colour", "red"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--colour"), "{e}");
    }

    #[test]
    fn resume_takes_the_saved_settings_and_a_new_step_count() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let first: GanTrainOptions = from_flags(&[
            "--data",
            "art",
            "--out",
            run.to_str().unwrap(),
            "--width",
            "8",
        ])
        .unwrap();
        let launch = Launch::new(&run, false, DeviceChoice::Cpu);
        let opts = launch.prepare(&first, 500).unwrap();
        (opts.on_start.unwrap())().unwrap();
        let again: GanTrainOptions =
            from_flags(&["--resume", run.to_str().unwrap(), "--steps", "900"]).unwrap();
        let (saved, dir, resume) = resolve(again).unwrap();
        assert!(resume);
        assert_eq!(dir, run);
        assert_eq!(saved.width, Some(8));
        assert_eq!(saved.run.steps, Some(900));
    }
}
