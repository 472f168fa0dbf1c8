//! `atelier eval fid|kid`: distribution metrics between a folder of real images and a folder
//! of generated ones, or a generator model's samples.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::device::{DeviceChoice, select};
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::metrics::fid::{FeatureStats, frechet_distance};
use crate::metrics::kid::kid;
use crate::models::inception::FEATURE_DIM;
use crate::tasks::generate::LoadedGenerator;

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Fréchet Inception Distance (lower is better).
    Fid(DistArgs),
    /// Kernel Inception Distance, mean ± std over subsets (lower is better).
    Kid(DistArgs),
}

#[derive(Args, Debug)]
pub struct DistArgs {
    /// Folder of real images (its statistics are cached).
    #[arg(long)]
    pub real: PathBuf,
    /// Folder of generated images.
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    pub fake: Option<PathBuf>,
    /// A generator model to sample from instead of --fake.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Samples to draw from --model.
    #[arg(long, default_value_t = 5000)]
    pub n: usize,
    /// Use at most this many real images.
    #[arg(long)]
    pub max_real: Option<usize>,
    /// InceptionV3 FID weights (default: $ATELIER_INCEPTION, else the shared data's weights/).
    #[arg(long)]
    pub inception: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// KID: number of subsets and their size.
    #[arg(long, default_value_t = 100)]
    pub subsets: usize,
    #[arg(long, default_value_t = 1000)]
    pub subset_size: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: EvalCommand, device: DeviceChoice) -> anyhow::Result<()> {
    let (is_fid, a) = match cmd {
        EvalCommand::Fid(a) => (true, a),
        EvalCommand::Kid(a) => (false, a),
    };
    let device = select(device)?;
    let (weights, spec) = locate_weights(a.inception.as_deref())?;
    let fx = FeatureExtractor::new(&weights, &spec, &device)?;
    let fake_features = match (&a.fake, &a.model) {
        (Some(dir), _) => fx.folder_features(dir, None)?,
        (None, Some(model)) => {
            let g = LoadedGenerator::load(model, &device).context("loading the generator")?;
            let mut out = Vec::with_capacity(a.n * FEATURE_DIM);
            for start in (0..a.n).step_by(256) {
                let m = (a.n - start).min(256);
                out.extend(fx.features(&g.generate(
                    m,
                    None,
                    a.seed.wrapping_add(start as u64),
                    None,
                )));
            }
            out
        }
        (None, None) => unreachable!("clap requires --fake or --model"),
    };
    let n_fake = fake_features.len() / FEATURE_DIM;
    let result = if is_fid {
        let real = fx.folder_stats(&a.real, a.max_real)?;
        let fake = FeatureStats::from_features(&fake_features, FEATURE_DIM)?;
        let fid = frechet_distance(&real, &fake)?;
        serde_json::json!({"metric": "fid", "value": fid, "n_real": real.n, "n_fake": n_fake})
    } else {
        let real = fx.folder_features(&a.real, a.max_real)?;
        let k = kid(
            &real,
            &fake_features,
            FEATURE_DIM,
            a.subsets,
            a.subset_size,
            a.seed,
        )?;
        serde_json::json!({"metric": "kid", "value": k.mean, "std": k.std, "subsets": k.subsets,
            "subset_size": k.subset_size, "n_real": real.len() / FEATURE_DIM, "n_fake": n_fake})
    };
    if a.json {
        println!("{result}");
    } else {
        println!(
            "{:<8} {:>12} {:>10} {:>8} {:>8}",
            "metric", "value", "std", "n_real", "n_fake"
        );
        println!(
            "{:<8} {:>12.4} {:>10} {:>8} {:>8}",
            result["metric"].as_str().unwrap_or(""),
            result["value"].as_f64().unwrap_or(f64::NAN),
            result
                .get("std")
                .and_then(|v| v.as_f64())
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "-".into()),
            result["n_real"],
            result["n_fake"],
        );
    }
    Ok(())
}
