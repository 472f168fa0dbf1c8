//! Safe file writes. A regular file is written atomically: a temporary file in the same
//! directory, flushed to disk, then renamed over the target, so a killed process never
//! leaves a half-written file. What the path names is looked at first, because a rename
//! replaces whatever was there:
//! - a symlink is followed: the file it points to is replaced and the link is kept;
//! - a device, FIFO or socket is written through (`--grid /dev/stdout` works, a FIFO
//!   reaches its reader) and never replaced by a file;
//! - a directory is an error.
//!
//! [`check_writable`] runs the same checks before a command starts its work, so a bad
//! output path fails in milliseconds instead of after an hour of computing.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{AtelierError, Result};

/// The temporary name used next to `path` while it is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> AtelierError {
    AtelierError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// What an output path names, after following symlinks.
#[derive(Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// A regular file (or nothing yet) at this path, to be replaced atomically. For a
    /// symlink this is the file the link points to.
    File(PathBuf),
    /// A device, FIFO or socket: written through, never replaced.
    Special,
}

/// Where a dangling symlink chain ends: the path a write through the link would create.
fn dangling_end(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p).map_err(|e| write_err(path, e))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(write_err(path, "too many levels of symbolic links"))
}

/// Look at what `path` names (see the module documentation).
pub fn resolve_output(path: &Path) -> Result<OutputTarget> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => {
            let is_link = fs::symlink_metadata(path)
                .map(|l| l.file_type().is_symlink())
                .unwrap_or(false);
            let real = if is_link {
                fs::canonicalize(path).map_err(|e| write_err(path, e))?
            } else {
                path.to_path_buf()
            };
            Ok(OutputTarget::File(real))
        }
        Ok(m) if m.is_dir() => Err(write_err(
            path,
            "is a directory; give a file name (e.g. out.png)",
        )),
        Ok(_) => Ok(OutputTarget::Special),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(OutputTarget::File(dangling_end(path)?))
        }
        Err(e) => Err(write_err(path, e)),
    }
}

/// Write `bytes` to `path` safely (atomically for files; see the module documentation).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// Let `fill` write the file at a temporary path, then move it into place (or, for a
/// device or FIFO, copy it through).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    match resolve_output(path)? {
        OutputTarget::File(real) => replace_file(path, &real, fill),
        OutputTarget::Special => {
            let tmp = std::env::temp_dir().join(
                temp_path(path)
                    .file_name()
                    .expect("temp names have a file name"),
            );
            let result = fill(&tmp).and_then(|()| {
                let mut src = fs::File::open(&tmp)?;
                let mut dst = fs::OpenOptions::new().write(true).open(path)?;
                std::io::copy(&mut src, &mut dst)?;
                dst.flush()
            });
            let _ = fs::remove_file(&tmp);
            result.map_err(|e| write_err(path, e))
        }
    }
}

/// Temp file beside `real`, renamed over it. `shown` is the path the user gave, for messages.
fn replace_file(
    shown: &Path,
    real: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| write_err(shown, e))?;
    }
    let tmp = temp_path(real);
    if let Err(e) = fill(&tmp) {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(shown, e));
    }
    fs::rename(&tmp, real).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        write_err(shown, e)
    })
}

/// Check, before any work, that `path` can be written: not a directory, its folder exists
/// or can be made, and a file can be created there. Creates the folder; writes nothing else.
pub fn check_writable(path: &Path) -> Result<()> {
    let real = match resolve_output(path)? {
        // Not opened here: opening a FIFO for writing waits for its reader.
        OutputTarget::Special => return Ok(()),
        OutputTarget::File(real) => real,
    };
    let dir = match real.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| write_err(path, e))?;
    let probe = temp_path(&real);
    fs::File::create(&probe).map_err(|e| write_err(path, e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leaving_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"good").unwrap();
        let r = write_atomic_with(&p, |_| Err(std::io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"good");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_keeps_its_link_and_its_target_is_updated() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("grid.png");
        fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.png");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new");
        // No temporary file left beside the link or the target.
        assert_eq!(fs::read_dir(&real_dir).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);

        // A dangling (relative) link: the file it names is created, the link kept.
        let dangling = dir.path().join("later.png");
        std::os::unix::fs::symlink("real/made.png", &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert!(
            fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(real_dir.join("made.png")).unwrap(), b"made");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn directories_and_unwritable_places_are_refused_before_work() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_writable(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        assert!(write_atomic(dir.path(), b"x").is_err());
        // A file where a folder should be.
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        assert!(check_writable(&file.join("out.png")).is_err());
        // A fine path: nothing is left behind by the check.
        check_writable(&dir.path().join("new/out.png")).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("new")).unwrap().count(), 0);
    }
}
