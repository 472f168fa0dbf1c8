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

impl Pretrained {
    fn repo(&self) -> Option<String> {
        std::env::var(format!("{}_REPO", self.env))
            .ok()
            .or_else(|| self.hub_repo.map(str::to_owned))
    }

    fn hub_cache(&self) -> Option<hf_hub::Cache> {
        cache_dir().map(|d| hf_hub::Cache::new(d.join("hub")))
    }

    /// The file to load, downloading it when nothing local is found.
    pub fn locate(&self, flag: Option<&Path>) -> Result<PathBuf> {
        if let Some(path) = flag {
            return path
                .exists()
                .then(|| path.to_path_buf())
                .ok_or_else(|| missing(self, path, self.flag));
        }
        if let Some(path) = std::env::var_os(self.env).map(PathBuf::from) {
            return path
                .exists()
                .then_some(path.clone())
                .ok_or_else(|| missing(self, &path, self.env));
        }
        if let (Some(repo), Some(cache)) = (self.repo(), self.hub_cache())
            && let Some(path) = cache.model(repo.clone()).get(self.hub_file)
            && self
                .companions
                .iter()
                .all(|f| cache.model(repo.clone()).get(f).is_some())
        {
            return Ok(path);
        }
        let shared = crate::data::shared_data_root()
            .join("weights")
            .join(self.shared_file);
        if shared.exists() {
            return Ok(shared);
        }
        self.download()
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
    fn a_missing_flag_path_names_the_flag() {
        let err = VGG19
            .locate(Some(Path::new("/nonexistent/vgg.safetensors")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--vgg") && err.contains("/nonexistent/vgg.safetensors"));
    }

    #[test]
    fn offline_without_a_repo_says_where_to_put_the_file() {
        let err = INCEPTION_FID.download().unwrap_err().to_string();
        assert!(err.contains("--inception") && err.contains("ATELIER_INCEPTION_REPO"));
    }
}
