//! FID during training: every N steps, the EMA generator's samples are scored against the
//! real data's cached Inception statistics; the values go to `fid.jsonl` and `fid.png`, and
//! the best generator so far is exported as `best-fid.safetensors` (with `best-fid.json`
//! saying its step and FID). A resumed run re-reads its history, so the best survives.

use std::path::{Path, PathBuf};

use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::metrics::features::FeatureExtractor;
use crate::metrics::fid::{FeatureStats, frechet_distance};
use crate::models::inception::FEATURE_DIM;
use crate::train::run_log::plot_series;
use crate::util::atomic::write_atomic;

/// What the engine needs to measure FID.
pub struct FidSettings {
    pub every: u64,
    /// Generated images per measurement (a subset: FID is biased upward for small counts,
    /// so compare values measured with the same count).
    pub samples: usize,
    pub extractor: FeatureExtractor,
    pub real: FeatureStats,
    /// Latents are drawn from this seed every time, so measurements differ only by G.
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct FidPoint {
    pub step: u64,
    pub fid: f64,
    pub samples: usize,
    /// Seconds of training steps behind this generator (for FID against time).
    #[serde(default)]
    pub train_seconds: f64,
}

pub struct FidTracker<'a> {
    pub settings: &'a FidSettings,
    run: PathBuf,
    pub history: Vec<FidPoint>,
}

impl<'a> FidTracker<'a> {
    /// Open the run's FID history, dropping points after `upto` (the resumed step).
    pub fn open(settings: &'a FidSettings, run: &Path, upto: u64) -> Result<Self> {
        let history: Vec<FidPoint> = std::fs::read_to_string(run.join("fid.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|p: &FidPoint| p.step <= upto)
            .collect();
        let t = Self {
            settings,
            run: run.to_path_buf(),
            history,
        };
        t.write_history()?;
        Ok(t)
    }

    fn write_history(&self) -> Result<()> {
        let text: String = self
            .history
            .iter()
            .map(|p| serde_json::to_string(p).expect("point serialises") + "\n")
            .collect();
        write_atomic(&self.run.join("fid.jsonl"), text.as_bytes())
    }

    pub fn best(&self) -> Option<FidPoint> {
        self.history
            .iter()
            .copied()
            .min_by(|a, b| a.fid.total_cmp(&b.fid))
    }

    pub fn due(&self, step: u64, last: bool) -> bool {
        self.settings.every > 0 && (step.is_multiple_of(self.settings.every) || last)
    }

    /// Score `images` as the generator at `step`; returns the FID and whether it is the
    /// best so far (the caller then exports the generator with [`Self::best_model_path`]).
    pub fn record(
        &mut self,
        step: u64,
        train_seconds: f64,
        images: &[image::RgbImage],
    ) -> Result<(f64, bool)> {
        let feats = self.settings.extractor.features(images);
        let stats = FeatureStats::from_features(&feats, FEATURE_DIM)?;
        let fid = frechet_distance(&self.settings.real, &stats)?;
        let is_best = self.best().is_none_or(|b| fid < b.fid);
        self.history.push(FidPoint {
            step,
            fid,
            samples: images.len(),
            train_seconds,
        });
        self.write_history()?;
        plot_series(
            &self.run.join("fid.png"),
            "FID (EMA generator)",
            "FID",
            &[(
                "FID",
                self.history.iter().map(|p| (p.step, p.fid)).collect(),
                RGBColor(120, 40, 160),
            )],
        )?;
        if is_best {
            let note = serde_json::json!({"step": step, "fid": fid, "samples": images.len()});
            write_atomic(&self.run.join("best-fid.json"), note.to_string().as_bytes())?;
        }
        Ok((fid, is_best))
    }

    pub fn best_model_path(&self) -> PathBuf {
        self.run.join("best-fid.safetensors")
    }
}
