//! Sampling from a trained generator: grids, class-conditional samples, truncation, and
//! spherical interpolation between latents.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use crate::error::{AtelierError, Result};
use crate::imaging::grid::{make_grid, square_cols};
use crate::imaging::tensor::{Range, tensor_to_images};
use crate::models::model_file::{check_param_count, load_named_tensors, read_model};
use crate::models::{Generator, GeneratorConfig};
use crate::util::rng::SeededRng;

/// `atelier.kind` of DCGAN generator files.
pub const GENERATOR_KIND: &str = "dcgan-generator";

/// The shipped KaoKore generator's file name under `models/`.
pub const DEFAULT_MODEL: &str = "kaokore-dcgan-64.safetensors";

/// Where `generate` looks when no `--model` is given: `$ATELIER_MODEL`, else the model
/// shipped in this source tree.
pub fn default_model_path() -> PathBuf {
    std::env::var_os("ATELIER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models")
                .join(DEFAULT_MODEL)
        })
}

pub struct LoadedGenerator {
    pub g: Generator,
    pub config: GeneratorConfig,
    pub classes: Vec<String>,
    pub trained_with: Option<String>,
    pub device: Device,
}

impl LoadedGenerator {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bad = |reason: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        if !path.exists() {
            return Err(bad(
                "no such file (pass --model FILE or set ATELIER_MODEL; the default model ships in \
                 the source tree's models/ folder)"
                    .into(),
            ));
        }
        let (meta, tensors) = read_model(path)?;
        if meta.kind != GENERATOR_KIND {
            return Err(bad(format!(
                "holds a '{}', not a '{GENERATOR_KIND}'; generate needs a generator model",
                meta.kind
            )));
        }
        let config: GeneratorConfig = serde_json::from_str(&meta.config_json)
            .map_err(|e| bad(format!("bad generator config: {e}")))?;
        config.validate().map_err(|e| bad(e.to_string()))?;
        if config.n_classes != meta.classes.len() && config.n_classes > 0 {
            return Err(bad(format!(
                "config has {} classes but the file names {}",
                config.n_classes,
                meta.classes.len()
            )));
        }
        let g = config.init(device);
        check_param_count(&g, &tensors).map_err(bad)?;
        let g = load_named_tensors(g, tensors, device).map_err(bad)?;
        Ok(Self {
            g,
            config,
            classes: meta.classes,
            trained_with: meta.trained_with,
            device: device.clone(),
        })
    }

    pub fn class_index(&self, name: &str) -> Result<usize> {
        let unknown = || AtelierError::UnknownClass {
            name: name.to_string(),
            known: if self.classes.is_empty() {
                "no classes (an unconditional model)".into()
            } else {
                self.classes.join(", ")
            },
        };
        self.classes
            .iter()
            .position(|c| c == name)
            .ok_or_else(unknown)
    }

    /// `n` images; `class` fixes the class of a conditional model, else classes cycle.
    pub fn generate(
        &self,
        n: usize,
        class: Option<usize>,
        seed: u64,
        truncation: Option<f32>,
    ) -> Vec<RgbImage> {
        let mut rng = SeededRng::new(seed);
        let zd = self.config.z_dim;
        let z = match truncation {
            Some(t) => rng.truncated_normal_vec(n * zd, t),
            None => rng.normal_vec(n * zd),
        };
        let labels = labels_for(n, self.config.n_classes, class);
        self.render(z, labels)
    }

    fn render(&self, z: Vec<f32>, labels: Option<Vec<i64>>) -> Vec<RgbImage> {
        render_images(
            &self.g,
            self.config.z_dim,
            &z,
            labels.as_deref(),
            &self.device,
        )
    }

    /// `frames` images along the great circle between two random latents (slerp keeps
    /// the latent norm typical of the prior, unlike a straight line).
    pub fn interpolate(&self, frames: usize, class: Option<usize>, seed: u64) -> Vec<RgbImage> {
        let mut rng = SeededRng::new(seed);
        let zd = self.config.z_dim;
        let a = rng.normal_vec(zd);
        let b = rng.normal_vec(zd);
        let z: Vec<f32> = (0..frames)
            .flat_map(|i| {
                let t = if frames > 1 {
                    i as f32 / (frames - 1) as f32
                } else {
                    0.0
                };
                slerp(&a, &b, t)
            })
            .collect();
        let labels = (self.config.n_classes > 0).then(|| vec![class.unwrap_or(0) as i64; frames]);
        self.render(z, labels)
    }
}

/// Images from latents `z` (rows of `z_dim`) and optional labels, in chunks that bound
/// memory for large counts.
pub fn render_images(
    g: &Generator,
    z_dim: usize,
    z: &[f32],
    labels: Option<&[i64]>,
    device: &Device,
) -> Vec<RgbImage> {
    let n = z.len() / z_dim;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(64) {
        let m = (n - start).min(64);
        let zt = Tensor::from_data(
            TensorData::new(z[start * z_dim..(start + m) * z_dim].to_vec(), [m, z_dim]),
            device,
        );
        let lt = labels
            .map(|l| Tensor::from_data(TensorData::new(l[start..start + m].to_vec(), [m]), device));
        out.extend(tensor_to_images(g.forward(zt, lt), Range::Signed));
    }
    out
}

/// `n` images from seeded latents, classes cycling (what FID during training measures).
pub fn seeded_images(
    g: &Generator,
    config: &GeneratorConfig,
    n: usize,
    seed: u64,
    device: &Device,
) -> Vec<RgbImage> {
    let z = SeededRng::new(seed).normal_vec(n * config.z_dim);
    let labels = labels_for(n, config.n_classes, None);
    render_images(g, config.z_dim, &z, labels.as_deref(), device)
}

fn labels_for(n: usize, n_classes: usize, class: Option<usize>) -> Option<Vec<i64>> {
    (n_classes > 0).then(|| {
        (0..n)
            .map(|i| class.unwrap_or(i % n_classes) as i64)
            .collect()
    })
}

/// Spherical linear interpolation between `a` and `b`.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let cos = (a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.abs() < 1e-5 {
        return a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
    }
    let s = omega.sin();
    let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// The training-time sample sheet: fixed latents from `seed`; a conditional model gets
/// one row per class (classes cycle along each row when there are more classes than rows).
pub fn sample_sheet(
    g: &Generator,
    z_dim: usize,
    n_classes: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> RgbImage {
    let cols = if n_classes > 0 {
        n.div_ceil(n_classes.min(n))
    } else {
        square_cols(n)
    };
    let z = SeededRng::new(seed).normal_vec(n * z_dim);
    let labels = (n_classes > 0).then(|| {
        (0..n)
            .map(|i| ((i / cols) % n_classes) as i64)
            .collect::<Vec<_>>()
    });
    let zt = Tensor::from_data(TensorData::new(z, [n, z_dim]), device);
    let lt = labels.map(|l| Tensor::from_data(TensorData::new(l, [n]), device));
    let imgs = tensor_to_images(g.forward(zt, lt), Range::Signed);
    make_grid(&imgs, cols, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_endpoints_and_norm() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        assert_eq!(slerp(&a, &b, 0.0), vec![1.0, 0.0]);
        let m = slerp(&a, &b, 0.5);
        assert!((m[0] - 0.70710677).abs() < 1e-5 && (m[1] - 0.70710677).abs() < 1e-5);
        let e = slerp(&a, &b, 1.0);
        assert!((e[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn labels_cycle_or_fix() {
        assert_eq!(labels_for(5, 2, None), Some(vec![0, 1, 0, 1, 0]));
        assert_eq!(labels_for(3, 4, Some(2)), Some(vec![2, 2, 2]));
        assert_eq!(labels_for(3, 0, None), None);
    }
}
