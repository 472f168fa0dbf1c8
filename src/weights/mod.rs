//! Pretrained weights: finding them, downloading them, reading them.
//!
//! Every network is found the same way: the command-line flag, else its environment
//! variable, else the Hugging Face hub cache under Atelier's cache directory, else the
//! shared data folder (developer machines), else a download from the hub. When nothing is
//! found and the download fails (offline), the error says exactly where to put the file.

pub mod tensor_file;

pub use tensor_file::TensorFile;

use std::path::{Path, PathBuf};

use crate::error::{AtelierError, Result};

/// Where one pretrained network can come from.
pub struct Pretrained {
    /// What users call it, in messages.
    pub name: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    /// File name in the shared data's `weights/` folder.
    pub shared_file: &'static str,
    /// Hub repository (overridable by `<env>_REPO`) and the file in it; `None` when no
    /// public repository is known, so only an explicit `<env>_REPO` enables a download.
    pub hub_repo: Option<&'static str>,
    pub hub_file: &'static str,
    /// Files that must sit beside the weights (fetched with them from the hub).
    pub companions: &'static [&'static str],
}

/// ImageNet VGG19 in torchvision's layout. timm's `vgg19.tv_in1k` is torchvision's
/// checkpoint as safetensors with the same `features.N` names.
pub const VGG19: Pretrained = Pretrained {
    name: "VGG19",
    flag: "--vgg",
    env: "ATELIER_VGG",
    shared_file: "vgg19-imagenet-conv1_1-to-conv3_4.safetensors",
    hub_repo: Some("timm/vgg19.tv_in1k"),
    hub_file: "model.safetensors",
    companions: &[],
};

/// ImageNet VGG16 in torchvision's layout (`timm/vgg16.tv_in1k` is torchvision's checkpoint
/// as safetensors). The shared data holds all 13 convolutions (f16).
pub const VGG16: Pretrained = Pretrained {
    name: "VGG16",
    flag: "--vgg",
    env: "ATELIER_VGG16",
    shared_file: "vgg16-imagenet.safetensors",
    hub_repo: Some("timm/vgg16.tv_in1k"),
    hub_file: "model.safetensors",
    companions: &[],
};

/// LPIPS v0.1's linear layers for VGG16 (the official `weights/v0.1/vgg.pth` as
/// safetensors). No public hub repository is known, so downloads need
/// `ATELIER_LPIPS_REPO`.
pub const LPIPS_VGG16_LIN: Pretrained = Pretrained {
    name: "LPIPS linear layers (VGG16, v0.1)",
    flag: "--lpips",
    env: "ATELIER_LPIPS",
    shared_file: "lpips-vgg16-lin.safetensors",
    hub_repo: None,
    hub_file: "lpips-vgg16-lin.safetensors",
    companions: &[],
};

/// The VGG feature network to use: the file given (`--vgg`, else `$ATELIER_VGG`), else the
/// deepest network found locally among VGG19's and VGG16's places (hub cache, shared data,
/// `$ATELIER_VGG16`), so the classic deep style layers are used whenever some file has
/// them; with nothing local, a download of the full VGG19.
pub fn locate_vgg(flag: Option<&Path>) -> Result<PathBuf> {
    if flag.is_some() || std::env::var_os(VGG19.env).is_some() {
        return VGG19.locate(flag);
    }
    let mut found = Vec::new();
    for net in [&VGG19, &VGG16] {
        found.extend(net.find_local(&net.places(None))?);
    }
    match deepest_vgg(found) {
        Some(path) => Ok(path),
        None => VGG19.download(),
    }
}

/// The file holding the most VGG convolutions (the first of equals). A file that is not a
/// VGG counts as none and is left for the loader to report.
fn deepest_vgg(paths: Vec<PathBuf>) -> Option<PathBuf> {
    let mut best: Option<(usize, PathBuf)> = None;
    for path in paths {
        let convs = crate::models::vgg::probe(&path).map_or(0, |(_, n)| n);
        if best.as_ref().is_none_or(|(n, _)| convs > *n) {
            best = Some((convs, path));
        }
    }
    best.map(|(_, p)| p)
}

/// The FID InceptionV3 (TF 2015-12-05 graph) in the layout of its spec file. No public hub
/// repository holds this export, so downloads need `ATELIER_INCEPTION_REPO`.
pub const INCEPTION_FID: Pretrained = Pretrained {
    name: "InceptionV3 (FID)",
    flag: "--inception",
    env: "ATELIER_INCEPTION",
    shared_file: "inception-v3-fid.safetensors",
    hub_repo: None,
    hub_file: "inception-v3-fid.safetensors",
    companions: &["inception-v3-fid.spec.json"],
};

/// Atelier's cache: `$ATELIER_CACHE`, else `~/.cache/atelier`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("ATELIER_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/atelier")))
}

fn missing(p: &Pretrained, path: &Path, how: &str) -> AtelierError {
    AtelierError::BadModel {
        path: path.to_path_buf(),
        reason: format!("{} weights not found (given by {how})", p.name),
    }
}

/// Where [`Pretrained::locate`] looks, read from the flag and the environment once.
struct Places {
    flag: Option<PathBuf>,
    env: Option<PathBuf>,
    repo: Option<String>,
    cache: Option<PathBuf>,
    shared_root: PathBuf,
}

impl Pretrained {
    fn repo(&self) -> Option<String> {
        std::env::var(format!("{}_REPO", self.env))
            .ok()
            .or_else(|| self.hub_repo.map(str::to_owned))
    }

    fn places(&self, flag: Option<&Path>) -> Places {
        Places {
            flag: flag.map(Path::to_path_buf),
            env: std::env::var_os(self.env).map(PathBuf::from),
            repo: self.repo(),
            cache: cache_dir(),
            shared_root: crate::data::shared_data_root(),
        }
    }

    /// The file to load, downloading it when nothing local is found.
    pub fn locate(&self, flag: Option<&Path>) -> Result<PathBuf> {
        match self.find_local(&self.places(flag))? {
            Some(path) => Ok(path),
            None => self.download(),
        }
    }

    /// The first local file in search order: flag, env, hub cache, shared data. A flag or
    /// env path that does not exist is an error (the user asked for that file), not a
    /// reason to look further.
    fn find_local(&self, at: &Places) -> Result<Option<PathBuf>> {
        for (given, how) in [(&at.flag, self.flag), (&at.env, self.env)] {
            if let Some(path) = given {
                return match path.exists() {
                    true => Ok(Some(path.clone())),
                    false => Err(missing(self, path, how)),
                };
            }
        }
        if let (Some(repo), Some(dir)) = (&at.repo, &at.cache) {
            let cache = hf_hub::Cache::new(dir.join("hub")).model(repo.clone());
            if let Some(path) = cache.get(self.hub_file)
                && self.companions.iter().all(|f| cache.get(f).is_some())
            {
                return Ok(Some(path));
            }
        }
        let shared = at.shared_root.join("weights").join(self.shared_file);
        Ok(shared.exists().then_some(shared))
    }

    /// Fetch the file from the hub into the cache.
    pub fn download(&self) -> Result<PathBuf> {
        let where_to = self.where_to_put();
        let Some(repo) = self.repo() else {
            return Err(AtelierError::Config(format!(
                "{} weights not found and no hub repository is known for them. {where_to}",
                self.name
            )));
        };
        let cache = cache_dir().ok_or_else(|| {
            AtelierError::Config(format!("no cache directory (HOME unset). {where_to}"))
        })?;
        tracing::info!("downloading {} from huggingface.co/{repo}", self.name);
        let api = hf_hub::api::sync::ApiBuilder::new()
            .with_cache_dir(cache.join("hub"))
            .with_progress(true)
            .build()
            .map_err(|e| AtelierError::Config(format!("hub client: {e}. {where_to}")))?;
        let fetch = |file: &str| {
            api.model(repo.clone()).get(file).map_err(|e| {
                AtelierError::Config(format!(
                    "{} weights not found locally and the download of {repo}/{file} failed \
                     ({e}). {where_to}",
                    self.name
                ))
            })
        };
        for f in self.companions {
            fetch(f)?;
        }
        fetch(self.hub_file)
    }

    fn where_to_put(&self) -> String {
        format!(
            "Pass the file with {flag} PATH, or set {env}=PATH, or put it at {shared} \
             (the shared data folder; ATELIER_DATA moves it){hub}",
            flag = self.flag,
            env = self.env,
            shared = crate::data::shared_data_root()
                .join("weights")
                .join(self.shared_file)
                .display(),
            hub = match self.repo() {
                Some(r) => format!(", or download {r}/{} when online", self.hub_file),
                None => format!(
                    ", or set {}_REPO to a Hugging Face repository holding {}",
                    self.env, self.hub_file
                ),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_vgg_file_wins() {
        use crate::models::vgg::{VggArch, write_random_vgg_of};
        let d = tempfile::tempdir().unwrap();
        let truncated = d.path().join("vgg19-trunc.safetensors");
        let vgg16 = d.path().join("vgg16.safetensors");
        let junk = d.path().join("junk.safetensors");
        write_random_vgg_of(VggArch::Vgg19, &truncated, 8, 1);
        write_random_vgg_of(VggArch::Vgg16, &vgg16, 10, 2);
        std::fs::write(&junk, b"not weights").unwrap();
        let pick = |v: &[&PathBuf]| deepest_vgg(v.iter().map(|p| (*p).clone()).collect());
        assert_eq!(pick(&[&truncated, &vgg16]), Some(vgg16.clone()));
        assert_eq!(pick(&[&vgg16, &truncated]), Some(vgg16.clone()));
        assert_eq!(pick(&[&junk, &truncated]), Some(truncated.clone()));
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn a_missing_flag_path_names_the_flag() {
        let err = VGG19
            .locate(Some(Path::new("/nonexistent/vgg.safetensors")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--vgg") && err.contains("/nonexistent/vgg.safetensors"));
    }

    /// A hub cache as hf-hub lays it out: refs/main names the snapshot holding the file.
    fn hub_cache_with(dir: &Path, repo: &str, files: &[&str]) {
        let root = dir
            .join("hub")
            .join(format!("models--{}", repo.replace('/', "--")));
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::write(root.join("refs/main"), "abc123").unwrap();
        let snap = root.join("snapshots/abc123");
        std::fs::create_dir_all(&snap).unwrap();
        for f in files {
            std::fs::write(snap.join(f), b"x").unwrap();
        }
    }

    #[test]
    fn search_order_is_flag_env_hub_cache_shared() {
        let d = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let p = d.path().join(name);
            std::fs::write(&p, b"x").unwrap();
            p
        };
        let (flag, env) = (file("flag.safetensors"), file("env.safetensors"));
        let shared_root = d.path().join("shared");
        std::fs::create_dir_all(shared_root.join("weights")).unwrap();
        std::fs::write(shared_root.join("weights").join(VGG19.shared_file), b"x").unwrap();
        let cache = d.path().join("cache");
        hub_cache_with(&cache, "timm/vgg19.tv_in1k", &["model.safetensors"]);
        let mut at = Places {
            flag: Some(flag.clone()),
            env: Some(env.clone()),
            repo: Some("timm/vgg19.tv_in1k".into()),
            cache: Some(cache.clone()),
            shared_root: shared_root.clone(),
        };
        let found = |at: &Places| VGG19.find_local(at).unwrap();
        assert_eq!(found(&at), Some(flag));
        at.flag = None;
        assert_eq!(found(&at), Some(env));
        at.env = None;
        assert_eq!(
            found(&at),
            Some(cache.join("hub/models--timm--vgg19.tv_in1k/snapshots/abc123/model.safetensors"))
        );
        at.cache = None;
        assert_eq!(
            found(&at),
            Some(shared_root.join("weights").join(VGG19.shared_file))
        );
        at.shared_root = d.path().join("nowhere");
        assert_eq!(found(&at), None, "nothing local: the caller downloads");
        // A named file that is missing is an error naming how it was given.
        at.env = Some(d.path().join("gone.safetensors"));
        let err = VGG19.find_local(&at).unwrap_err().to_string();
        assert!(
            err.contains("ATELIER_VGG") && err.contains("gone.safetensors"),
            "{err}"
        );
    }

    #[test]
    fn a_hub_cache_entry_needs_its_companion_files() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        hub_cache_with(&cache, "me/fid", &["inception-v3-fid.safetensors"]);
        let mut at = Places {
            flag: None,
            env: None,
            repo: Some("me/fid".into()),
            cache: Some(cache.clone()),
            shared_root: d.path().join("nowhere"),
        };
        assert_eq!(INCEPTION_FID.find_local(&at).unwrap(), None, "spec missing");
        hub_cache_with(&cache, "me/fid", &["inception-v3-fid.spec.json"]);
        assert!(INCEPTION_FID.find_local(&at).unwrap().is_some());
        at.repo = None;
        assert_eq!(
            INCEPTION_FID.find_local(&at).unwrap(),
            None,
            "no repo, no hub cache"
        );
    }

    #[test]
    fn the_vgg_offline_message_names_every_place() {
        let msg = VGG19.where_to_put();
        for part in [
            "--vgg",
            "ATELIER_VGG",
            VGG19.shared_file,
            "timm/vgg19.tv_in1k",
        ] {
            assert!(msg.contains(part), "'{part}' missing from: {msg}");
        }
    }

    #[test]
    fn offline_without_a_repo_says_where_to_put_the_file() {
        let err = INCEPTION_FID.download().unwrap_err().to_string();
        assert!(err.contains("--inception") && err.contains("ATELIER_INCEPTION_REPO"));
    }
}
