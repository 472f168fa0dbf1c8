//! Checkpoints: `RUN/checkpoints/step-NNNNNNNN/` holding the step strategy's named parts,
//! each `NAME.bpk` (a GAN: `g`, `d`, `ema`, `opt_g`, `opt_d`; one network: `net`, `opt`;
//! burnpack, which keeps parameter ids so Adam's moments reattach),
//! `state.json` (step, data position, RNG) and, written last, `manifest.json` (each file's
//! size and CRC-32). A checkpoint is written into a hidden temporary folder and renamed into
//! place, then `RUN/checkpoints/latest` is replaced atomically, so a kill at any moment
//! leaves the previous checkpoint usable.
//!
//! Resuming never trusts `latest` alone: [`candidates`] lists every checkpoint, newest
//! first, and the engine takes the newest one that verifies against its manifest and loads,
//! warning about each one it passes over. Pruning never deletes the checkpoint just written
//! nor anything newer than it (left from a resume that fell back past a damaged one).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;
use crate::util::rng::RngState;
use crate::weights::tensor_file::{StoreAs, encode_safetensors, view_to_f32};

const LATEST: &str = "latest";
const RECIPE_STATE: &str = "recipe.safetensors";

/// f32 safetensors bytes of named tensors (lossless, unlike the f16 model files).
fn tensors_to_bytes(tensors: &[(String, TensorData)], path: &Path) -> Result<Vec<u8>> {
    encode_safetensors(tensors, StoreAs::F32, None).map_err(|e| ckpt_err(path, e))
}

fn tensors_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<(String, TensorData)>> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| ckpt_err(path, e))?;
    let mut out: Vec<(String, TensorData)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let v = view_to_f32(&view)
                .map_err(|d| ckpt_err(path, format!("tensor '{name}' is {d:?}, not a float")))?;
            Ok((name, TensorData::new(v, view.shape().to_vec())))
        })
        .collect::<Result<_>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Completed generator steps.
    pub step: u64,
    /// Next batch number of the data stream.
    pub batch_position: u64,
    pub rng: RngState,
    /// Seconds spent in training steps so far (what `--minutes` limits).
    #[serde(default)]
    pub train_seconds: f64,
}

/// A verified checkpoint, ready to give its parts to a step strategy.
pub struct Loaded {
    pub state: TrainState,
    /// The recipe's own state (see `RunRecipe::state`); empty when it keeps none.
    pub recipe_state: Vec<(String, TensorData)>,
    pub dir: PathBuf,
    /// Every file's bytes as verified: parts load from these, not from a second read.
    files: HashMap<String, Vec<u8>>,
}

/// A checkpoint part: a module record or an optimiser state, stored as `NAME.bpk`.
pub struct Part {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

fn ckpt_err(path: &Path, reason: impl std::fmt::Display) -> AtelierError {
    AtelierError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// A module as a checkpoint part.
pub fn module_part<M: Module>(name: &'static str, m: &M) -> Result<Part> {
    Ok(Part {
        name,
        bytes: module_bytes(m, Path::new(name))?,
    })
}

/// An optimiser's state as a checkpoint part.
pub fn optimizer_part(name: &'static str, opt: &ModuleOptimizer) -> Result<Part> {
    let bytes = opt
        .into_bytes()
        .map_err(|e| ckpt_err(Path::new(name), format!("{e:?}")))?;
    Ok(Part {
        name,
        bytes: bytes.to_vec(),
    })
}

fn module_bytes<M: Module>(m: &M, path: &Path) -> Result<Vec<u8>> {
    // `valid()` settles running states (e.g. spectral-norm vectors) that burn updates
    // lazily per thread, so the record holds their latest values; it keeps parameter ids.
    let bytes = m
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| ckpt_err(path, e))?;
    Ok(bytes.to_vec())
}

const MANIFEST: &str = "manifest.json";

/// Each file of a checkpoint with its length and CRC-32, to tell an intact checkpoint from a
/// truncated or damaged one before loading it.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    name: String,
    len: u64,
    crc32: u32,
}

fn write_file(dir: &Path, name: &str, bytes: &[u8], manifest: &mut Manifest) -> Result<()> {
    let p = dir.join(name);
    // Durable before the folder is renamed into place.
    fs::File::create(&p)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| ckpt_err(&p, e))?;
    manifest.files.push(ManifestEntry {
        name: name.to_string(),
        len: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
    });
    Ok(())
}

/// Write a checkpoint of `parts` and point `latest` at it; keep the newest `keep`
/// checkpoints.
pub fn save(
    run: &Path,
    parts: &[Part],
    state: &TrainState,
    recipe_state: &[(String, TensorData)],
    keep: usize,
) -> Result<PathBuf> {
    let root = checkpoints_dir(run);
    let name = format!("step-{:08}", state.step);
    let final_dir = root.join(&name);
    let tmp = root.join(format!(".{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| ckpt_err(&tmp, e))?;
    let mut manifest = Manifest::default();
    let m = &mut manifest;
    for part in parts {
        write_file(&tmp, &format!("{}.bpk", part.name), &part.bytes, m)?;
    }
    let json = serde_json::to_vec_pretty(state).expect("state serialises");
    write_file(&tmp, "state.json", &json, m)?;
    if !recipe_state.is_empty() {
        write_file(
            &tmp,
            RECIPE_STATE,
            &tensors_to_bytes(recipe_state, &tmp)?,
            m,
        )?;
    }
    let manifest_json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_file(&tmp, MANIFEST, &manifest_json, &mut Manifest::default())?;
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(|e| ckpt_err(&final_dir, e))?;
    }
    fs::rename(&tmp, &final_dir).map_err(|e| ckpt_err(&final_dir, e))?;
    write_atomic(&root.join(LATEST), name.as_bytes())?;
    prune(&root, keep.max(1), state.step);
    Ok(final_dir)
}

/// The step a checkpoint folder name stands for (`step-00001200` -> 1200).
fn step_of(dir: &Path) -> Option<u64> {
    dir.file_name()?
        .to_str()?
        .strip_prefix("step-")?
        .parse()
        .ok()
}

/// The `step-*` folders under a checkpoints root, newest first.
fn step_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(u64, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((step_of(&p)?, p)))
        .collect();
    dirs.sort();
    dirs.into_iter().rev().map(|(_, p)| p).collect()
}

/// Every checkpoint folder of a run, newest first (not yet verified).
pub fn candidates(run: &Path) -> Vec<PathBuf> {
    step_dirs(&checkpoints_dir(run))
}

/// Keep the newest `keep` checkpoints up to `current` (the one just written, which is always
/// kept). Newer ones are left alone: they are from before a resume that fell back past them,
/// and the run will overwrite them when it gets there.
fn prune(root: &Path, keep: usize, current: u64) {
    let older = step_dirs(root)
        .into_iter()
        .filter(|p| step_of(p).is_some_and(|s| s <= current));
    for dir in older.skip(keep.max(1)) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Read a checkpoint folder's files, checked against its manifest: every file present, of
/// its length, with its checksum. Folders from before manifests existed are checked for
/// empty parts only.
fn read_verified(dir: &Path) -> Result<HashMap<String, Vec<u8>>> {
    let read = |name: &str| -> Result<Vec<u8>> {
        let p = dir.join(name);
        fs::read(&p).map_err(|e| ckpt_err(&p, e))
    };
    let mut files = HashMap::new();
    if !dir.join(MANIFEST).exists() {
        if !dir.join("state.json").exists() {
            return Err(ckpt_err(
                dir,
                "incomplete (no manifest.json: it was not finished writing)",
            ));
        }
        // From before manifests: every part must at least be there and not empty.
        for entry in fs::read_dir(dir).map_err(|e| ckpt_err(dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = read(&name)?;
            if name.ends_with(".bpk") && bytes.is_empty() {
                return Err(ckpt_err(&dir.join(&name), "empty"));
            }
            files.insert(name, bytes);
        }
        return Ok(files);
    }
    let manifest: Manifest = serde_json::from_slice(&read(MANIFEST)?)
        .map_err(|e| ckpt_err(&dir.join(MANIFEST), format!("unreadable manifest ({e})")))?;
    for entry in manifest.files {
        let p = dir.join(&entry.name);
        let bytes = read(&entry.name)?;
        if bytes.len() as u64 != entry.len {
            return Err(ckpt_err(
                &p,
                format!("is {} bytes, {} were written", bytes.len(), entry.len),
            ));
        }
        if crc32fast::hash(&bytes) != entry.crc32 {
            return Err(ckpt_err(&p, "checksum mismatch: the file is damaged"));
        }
        files.insert(entry.name, bytes);
    }
    Ok(files)
}

impl Loaded {
    /// The verified bytes of file `name`.
    fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| ckpt_err(&self.dir.join(name), "missing from the checkpoint"))
    }

    /// Load part `name` into a freshly built module.
    pub fn module<M: Module>(&self, m: M, name: &str) -> Result<M> {
        let file = format!("{name}.bpk");
        let bytes = self.file(&file)?.to_vec();
        let rec = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| ckpt_err(&self.dir.join(&file), e))?;
        m.try_load_record(rec).map_err(|e| {
            ckpt_err(
                &self.dir.join(&file),
                format!(
                    "does not fit the network being trained ({e}); was it made with other \
                     settings?"
                ),
            )
        })
    }

    /// Load part `name` into a fresh optimiser.
    pub fn optimizer(&self, opt: ModuleOptimizer, name: &str) -> Result<ModuleOptimizer> {
        let file = format!("{name}.bpk");
        let bytes = self.file(&file)?.to_vec();
        opt.from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| ckpt_err(&self.dir.join(&file), format!("{e:?}")))
    }
}

/// Open the checkpoint in `dir`, verified: its state and the recipe's state; the parts are
/// loaded by the step strategy through [`Loaded::module`] and [`Loaded::optimizer`].
pub fn load(dir: &Path) -> Result<Loaded> {
    let files = read_verified(dir)?;
    let state_bytes = files
        .get("state.json")
        .ok_or_else(|| ckpt_err(&dir.join("state.json"), "missing"))?;
    let state: TrainState =
        serde_json::from_slice(state_bytes).map_err(|e| ckpt_err(&dir.join("state.json"), e))?;
    let recipe_state = match files.get(RECIPE_STATE) {
        Some(bytes) => tensors_from_bytes(bytes, &dir.join(RECIPE_STATE))?,
        None => vec![],
    };
    Ok(Loaded {
        recipe_state,
        state,
        dir: dir.to_path_buf(),
        files,
    })
}
