//! The run directory's policy: a new run never lands on an old one by accident, a resume
//! needs a run to continue, and the run's settings (`run.json`) are recorded only once the
//! run has really started (see `RunOptions::on_start`), so a failed resume changes nothing.

use std::path::Path;

use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;

/// The file holding the settings a run was started with, for `--resume`.
pub const SETTINGS_FILE: &str = "run.json";

/// Whether `dir` holds an Atelier training run (its settings or its checkpoints).
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join(SETTINGS_FILE).is_file() || dir.join("checkpoints").is_dir()
}

/// A run's saved settings, for `--resume`.
pub fn saved_settings<T: serde::de::DeserializeOwned>(run: &Path) -> Result<T> {
    let p = run.join(SETTINGS_FILE);
    let text = std::fs::read_to_string(&p).map_err(|e| {
        AtelierError::Config(format!(
            "--resume {}: cannot read {} ({e})",
            run.display(),
            p.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        AtelierError::Config(format!(
            "{} is not the settings file of this kind of run ({e})",
            p.display()
        ))
    })
}

/// Check the run directory before any work; return what records `settings` (the run's
/// settings as JSON) once training has really started.
///
/// A non-empty directory is refused for a new run unless `overwrite`, and even then only a
/// directory that holds a run is emptied (a folder of other files is never deleted); it is
/// emptied when the new run starts, not before. `resume` needs a directory that exists.
pub fn prepare(
    run_dir: &Path,
    resume: bool,
    overwrite: bool,
    settings: Vec<u8>,
) -> Result<Box<dyn Fn() -> Result<()>>> {
    let refuse = |m: String| Err(AtelierError::Config(m));
    if resume {
        if !run_dir.is_dir() {
            return refuse(format!(
                "--resume {}: no such run directory",
                run_dir.display()
            ));
        }
    } else if let Ok(mut entries) = std::fs::read_dir(run_dir) {
        let used = entries.next().is_some();
        if used && !overwrite {
            return refuse(format!(
                "{} is not empty{}; continue that run with --resume {0}, start it again \
                 with --overwrite (deletes what is in it), or choose a new --out",
                run_dir.display(),
                if is_run_dir(run_dir) {
                    " (it holds a training run)"
                } else {
                    ""
                }
            ));
        }
        if used && !is_run_dir(run_dir) {
            return refuse(format!(
                "{} holds files that are not an Atelier training run; --overwrite only \
                 replaces runs. Choose a new or empty --out",
                run_dir.display()
            ));
        }
    } else if run_dir.exists() {
        return refuse(format!("--out {} is not a directory", run_dir.display()));
    }
    let dir = run_dir.to_path_buf();
    let clear = overwrite && !resume;
    Ok(Box::new(move || {
        let err = |e: std::io::Error| AtelierError::Write {
            path: dir.clone(),
            reason: e.to_string(),
        };
        if clear && dir.exists() {
            for entry in std::fs::read_dir(&dir).map_err(err)? {
                let p = entry.map_err(err)?.path();
                if std::fs::symlink_metadata(&p).map_err(err)?.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(err)?;
                } else {
                    std::fs::remove_file(&p).map_err(err)?;
                }
            }
        }
        std::fs::create_dir_all(&dir).map_err(err)?;
        write_atomic(&dir.join(SETTINGS_FILE), &settings)
    }))
}
