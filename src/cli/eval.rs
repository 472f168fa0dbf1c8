//! `atelier eval fid|kid|pair|style`: distribution metrics between a folder of real images
//! and a folder of generated ones (or a generator's samples); paired metrics against ground
//! truth; style-transfer scores.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::data::paired::match_by_name;
use crate::data::{FolderOptions, ImageFolder};
use crate::device::{DeviceChoice, select};
use crate::imaging::{LoadOptions, load_rgb};
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::metrics::fid::{FeatureStats, frechet_distance};
use crate::metrics::kid::kid;
use crate::metrics::paired::score_pairs;
use crate::metrics::style::{
    art_fid, gram_distance, perceptual_distance, score_layers, style_grams,
};
use crate::models::inception::FEATURE_DIM;
use crate::models::vgg19::Vgg19Config;
use crate::tasks::generate::LoadedGenerator;
use crate::weights::VGG19;

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Fréchet Inception Distance (lower is better).
    Fid(DistArgs),
    /// Kernel Inception Distance, mean ± std over subsets (lower is better).
    Kid(DistArgs),
    /// SSIM, PSNR and L1 between images matched by name (restoration, translation).
    Pair(PairArgs),
    /// Style transfer: content kept, style matched, and an ArtFID-like score.
    Style(StyleArgs),
}

#[derive(Args, Debug)]
pub struct PairArgs {
    /// Ground-truth images.
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Outputs, named like their references (any extension).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct StyleArgs {
    /// Content photos.
    #[arg(long)]
    pub content: PathBuf,
    /// Style image(s): a file or a folder (the style set).
    #[arg(long)]
    pub style: PathBuf,
    /// Stylised images, named like their content photos.
    #[arg(long)]
    pub stylized: PathBuf,
    /// VGG19 weights (see `atelier stylize --help`).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// InceptionV3 FID weights, for the FID/ArtFID part.
    #[arg(long)]
    pub inception: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
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

/// Print one result object as JSON or as a two-column table.
fn report(result: &serde_json::Value, json: bool) {
    if json {
        super::output(format_args!("{result}"));
        return;
    }
    if let Some(obj) = result.as_object() {
        for (k, v) in obj {
            let shown = match v.as_f64() {
                Some(f) if v.is_f64() => format!("{f:.4}"),
                _ => v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            };
            super::output(format_args!("{k:<18} {shown}"));
        }
    }
}

/// JSON has no infinity: say it in words.
fn number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::json!("inf")
    }
}

fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<image::RgbImage>> {
    paths
        .iter()
        .map(|p| Ok(load_rgb(p, &LoadOptions::default())?))
        .collect()
}

fn run_pair(a: PairArgs) -> anyhow::Result<()> {
    let pairs = match_by_name(&a.reference, &a.out)?;
    let mut images = Vec::with_capacity(pairs.len());
    for (r, o) in &pairs {
        let (ri, oi) = (
            load_rgb(r, &LoadOptions::default())?,
            load_rgb(o, &LoadOptions::default())?,
        );
        anyhow::ensure!(
            ri.dimensions() == oi.dimensions(),
            "{} is {:?} but its reference {} is {:?}",
            o.display(),
            oi.dimensions(),
            r.display(),
            ri.dimensions()
        );
        images.push((ri, oi));
    }
    let s = score_pairs(&images)?;
    report(
        &serde_json::json!({"metric": "pair", "n": s.n, "ssim": s.ssim, "psnr_db": number(s.psnr),
            "l1": s.l1, "identical": s.identical}),
        a.json,
    );
    Ok(())
}

fn run_style(a: StyleArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let pairs = match_by_name(&a.content, &a.stylized)?;
    let style_files: Vec<PathBuf> = if a.style.is_dir() {
        ImageFolder::open(&a.style, &FolderOptions::default())?
            .items
            .into_iter()
            .map(|i| i.0)
            .collect()
    } else {
        vec![a.style.clone()]
    };
    let styles = load_all(&style_files)?;
    let device = select(device)?;
    let vgg = Vgg19Config::new().load(&VGG19.locate(a.vgg.as_deref())?, &device)?;
    let (mut content_d, mut gram_d) = (0.0, 0.0);
    let mut stylized = Vec::with_capacity(pairs.len());
    // The style set's Gram matrices depend only on the size they are taken at: usually one
    // size for every stylised image, so compute each once.
    let mut grams_at: std::collections::HashMap<u32, Vec<burn::prelude::Tensor<3>>> =
        Default::default();
    for (c, s) in &pairs {
        let (ci, si) = (
            load_rgb(c, &LoadOptions::default())?,
            load_rgb(s, &LoadOptions::default())?,
        );
        content_d += perceptual_distance(&vgg, &si, &ci)?;
        let long = si.width().max(si.height());
        let grams = match grams_at.entry(long) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(style_grams(&vgg, &styles, long)?)
            }
        };
        gram_d += gram_distance(&vgg, &si, grams)?;
        stylized.push(si);
    }
    let n = pairs.len() as f64;
    let (content_d, gram_d) = (content_d / n, gram_d / n);
    // FID needs at least two images on each side to have a covariance.
    let fid = if stylized.len() >= 2 && styles.len() >= 2 {
        let (weights, spec) = locate_weights(a.inception.as_deref())?;
        let fx = FeatureExtractor::new(&weights, &spec, &device)?;
        let f1 = FeatureStats::from_features(&fx.features(&stylized), FEATURE_DIM)?;
        let f2 = FeatureStats::from_features(&fx.features(&styles), FEATURE_DIM)?;
        Some(frechet_distance(&f1, &f2)?)
    } else {
        None
    };
    report(
        &serde_json::json!({
            "metric": "style", "n": pairs.len(), "n_style": styles.len(),
            "content_distance": content_d, "gram_distance": gram_d,
            "fid_to_style": fid, "art_fid": fid.map(|f| art_fid(content_d, f)),
            "vgg_layers": score_layers(&vgg).iter().map(|l| l.to_string()).collect::<Vec<_>>().join(","),
        }),
        a.json,
    );
    if fid.is_none() && !a.json {
        eprintln!("(FID and ArtFID need at least two stylised and two style images)");
    }
    Ok(())
}

pub fn run(cmd: EvalCommand, device: DeviceChoice) -> anyhow::Result<()> {
    let (is_fid, a) = match cmd {
        EvalCommand::Fid(a) => (true, a),
        EvalCommand::Kid(a) => (false, a),
        EvalCommand::Pair(a) => return run_pair(a),
        EvalCommand::Style(a) => return run_style(a, device),
    };
    let device = select(device)?;
    let (weights, spec) = locate_weights(a.inception.as_deref())?;
    let fx = FeatureExtractor::new(&weights, &spec, &device)?;
    let fake_features = match (&a.fake, &a.model) {
        (Some(dir), _) => fx.folder_features_cached(dir, None)?,
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
        let real = fx.folder_features_cached(&a.real, a.max_real)?;
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
    report(&result, a.json);
    Ok(())
}
