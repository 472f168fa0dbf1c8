//! InceptionV3 features of image folders and generator samples, with the standard FID
//! preprocessing: RGB, bilinear resize to 299x299, scale to [-1, 1) as (x·255 − 128) / 128.
//! Reference statistics are cached per folder content.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;

use crate::data::{FolderOptions, ImageFolder};
use crate::error::{AtelierError, Result};
use crate::imaging::io::{LoadOptions, load_rgb};
use crate::metrics::fid::FeatureStats;
use crate::models::inception::{FEATURE_DIM, INPUT_SIZE, InceptionFid};
use crate::util::atomic::write_atomic;
use crate::weights::INCEPTION_FID;

pub const SPEC_FILE: &str = "inception-v3-fid.spec.json";

/// The FID network's weights (see [`crate::weights`] for the search order) and the spec
/// file beside them.
pub fn locate_weights(flag: Option<&Path>) -> Result<(PathBuf, PathBuf)> {
    let weights = INCEPTION_FID.locate(flag)?;
    let spec = weights.with_file_name(SPEC_FILE);
    if !spec.exists() {
        return Err(AtelierError::BadModel {
            path: spec,
            reason: format!(
                "not found: the spec file must sit beside {}",
                weights.display()
            ),
        });
    }
    Ok((weights, spec))
}

/// Pixels of one image as the FID network expects them, CHW.
pub fn preprocess(img: &RgbImage, out: &mut Vec<f32>) {
    let s = INPUT_SIZE as u32;
    let resized;
    let img = if img.dimensions() == (s, s) {
        img
    } else {
        resized = image::imageops::resize(img, s, s, image::imageops::FilterType::Triangle);
        &resized
    };
    let plane = (s * s) as usize;
    let start = out.len();
    out.resize(start + 3 * plane, 0.0);
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[start + c * plane + i] = (p.0[c] as f32 - 128.0) / 128.0;
        }
    }
}

pub struct FeatureExtractor {
    net: InceptionFid,
    device: Device,
    pub batch: usize,
}

impl FeatureExtractor {
    pub fn new(weights: &Path, spec: &Path, device: &Device) -> Result<Self> {
        Ok(Self {
            net: InceptionFid::load(weights, spec, device)?,
            device: device.clone(),
            batch: 16,
        })
    }

    /// Features of `images`, [n * 2048] row-major.
    pub fn features(&self, images: &[RgbImage]) -> Vec<f32> {
        let mut out = Vec::with_capacity(images.len() * FEATURE_DIM);
        for chunk in images.chunks(self.batch.max(1)) {
            let mut px = Vec::new();
            for img in chunk {
                preprocess(img, &mut px);
            }
            let x = Tensor::from_data(
                TensorData::new(px, [chunk.len(), 3, INPUT_SIZE, INPUT_SIZE]),
                &self.device,
            );
            out.extend(
                self.net
                    .features(x)
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("float features"),
            );
        }
        out
    }

    /// Features of every readable image in `dir` (recursively), at most `limit`.
    pub fn folder_features(&self, dir: &Path, limit: Option<usize>) -> Result<Vec<f32>> {
        let folder = ImageFolder::open(dir, &FolderOptions::default())?;
        let files: Vec<&PathBuf> = folder
            .items
            .iter()
            .map(|i| &i.0)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        let mut out = Vec::with_capacity(files.len() * FEATURE_DIM);
        for chunk in files.chunks(64) {
            let imgs: Vec<RgbImage> = chunk
                .iter()
                .filter_map(|p| load_rgb(p, &LoadOptions::default()).ok())
                .collect();
            out.extend(self.features(&imgs));
        }
        Ok(out)
    }

    /// Features of `dir`, from the cache when its files are unchanged (KID needs the
    /// features themselves, not only their statistics).
    pub fn folder_features_cached(&self, dir: &Path, limit: Option<usize>) -> Result<Vec<f32>> {
        let cache = cache_path(dir, limit, "features.f32");
        let row = FEATURE_DIM * 4;
        if let Some(c) = &cache
            && let Ok(bytes) = std::fs::read(c)
            && !bytes.is_empty()
            && bytes.len() % row == 0
        {
            tracing::info!("using cached features {}", c.display());
            return Ok(crate::weights::tensor_file::f32s_le(&bytes));
        }
        let features = self.folder_features(dir, limit)?;
        if let Some(c) = &cache {
            let bytes: Vec<u8> = features.iter().flat_map(|v| v.to_le_bytes()).collect();
            let _ = write_atomic(c, &bytes);
        }
        Ok(features)
    }

    /// Statistics of `dir`, from the cache when its files are unchanged.
    pub fn folder_stats(&self, dir: &Path, limit: Option<usize>) -> Result<FeatureStats> {
        let cache = cache_path(dir, limit, "json");
        if let Some(c) = &cache
            && let Ok(text) = std::fs::read_to_string(c)
            && let Ok(stats) = serde_json::from_str::<FeatureStats>(&text)
        {
            tracing::info!("using cached statistics {}", c.display());
            return Ok(stats);
        }
        let features = self.folder_features_cached(dir, limit)?;
        let stats = FeatureStats::from_features(&features, FEATURE_DIM)?;
        if let Some(c) = &cache {
            let _ = write_atomic(
                c,
                serde_json::to_string(&stats)
                    .expect("stats serialise")
                    .as_bytes(),
            );
        }
        Ok(stats)
    }
}

/// A cache file named by the folder's path and its files' names, sizes and times.
fn cache_path(dir: &Path, limit: Option<usize>, ext: &str) -> Option<PathBuf> {
    let root = crate::weights::cache_dir()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(dir).ok()?.hash(&mut h);
    limit.hash(&mut h);
    let mut entries: Vec<(PathBuf, u64, u64)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            let t = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some((e.into_path(), m.len(), t))
        })
        .collect();
    entries.sort();
    entries.hash(&mut h);
    Some(
        root.join("fid-stats")
            .join(format!("{:016x}.{ext}", h.finish())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_scales_to_the_fid_range() {
        let img = RgbImage::from_fn(10, 7, |x, _| {
            image::Rgb([if x < 5 { 0 } else { 255 }, 128, 64])
        });
        let mut v = Vec::new();
        preprocess(&img, &mut v);
        assert_eq!(v.len(), 3 * 299 * 299);
        let (lo, hi) = v
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert_eq!(lo, -1.0);
        assert_eq!(hi, 127.0 / 128.0);
        // Green plane is 128 everywhere -> 0.
        assert!(v[299 * 299..2 * 299 * 299].iter().all(|&x| x == 0.0));
    }
}
