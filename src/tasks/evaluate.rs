//! Evaluation: distribution metrics (FID, KID) between real images and generated ones (a
//! folder or a generator's samples), paired metrics against ground truth, style-transfer
//! scores. Each returns a serialisable report; `atelier eval` prints it as a table or JSON.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::{Device, Tensor};
use clap::Args;
use image::RgbImage;
use serde::Serialize;

use crate::data::paired::match_by_name;
use crate::data::{FolderOptions, ImageFolder};
use crate::imaging::{LoadOptions, load_rgb};
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::metrics::fid::{FeatureStats, frechet_distance};
use crate::metrics::kid::kid;
use crate::metrics::lpips::Lpips;
use crate::metrics::paired::score_pairs;
use crate::metrics::style::{
    art_fid, gram_distance, perceptual_distance, score_layers, style_grams,
};
use crate::models::generator::LoadedGenerator;
use crate::models::inception::FEATURE_DIM;
use crate::models::vgg::VggConfig;
use crate::weights::locate_vgg;

/// Real images against generated ones (the flags of `atelier eval fid|kid`).
#[derive(Args, Debug, Clone)]
pub struct DistanceOptions {
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
}

/// Outputs against their ground truth (the flags of `atelier eval pair`).
#[derive(Args, Debug, Clone)]
pub struct PairOptions {
    /// Ground-truth images.
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Outputs, named like their references (any extension).
    #[arg(long)]
    pub out: PathBuf,
}

/// Stylised images against their content and style (the flags of `atelier eval style`).
#[derive(Args, Debug, Clone)]
pub struct StyleOptions {
    /// Content photos.
    #[arg(long)]
    pub content: PathBuf,
    /// Style image(s): a file or a folder (the style set).
    #[arg(long)]
    pub style: PathBuf,
    /// Stylised images, named like their content photos.
    #[arg(long)]
    pub stylized: PathBuf,
    /// VGG16 or VGG19 weights (see `atelier stylize --help`).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// InceptionV3 FID weights, for the FID/ArtFID part.
    #[arg(long)]
    pub inception: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FidReport {
    pub metric: &'static str,
    pub value: f64,
    pub n_real: usize,
    pub n_fake: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct KidReport {
    pub metric: &'static str,
    /// Mean over the subsets.
    pub value: f64,
    pub std: f64,
    pub subsets: usize,
    pub subset_size: usize,
    pub n_real: usize,
    pub n_fake: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct PairReport {
    pub metric: &'static str,
    pub n: usize,
    pub ssim: f64,
    /// Mean over the pairs that differ; infinite (written "inf") when all are identical.
    #[serde(serialize_with = "number_or_words")]
    pub psnr_db: f64,
    pub l1: f64,
    pub identical: usize,
    /// Mean LPIPS (v0.1, VGG16); `null` when its weights cannot be found (said on stderr)
    /// or an image is smaller than 16 px.
    pub lpips: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StyleReport {
    pub metric: &'static str,
    pub n: usize,
    pub n_style: usize,
    /// LPIPS to the content photo (or, without its weights, its unweighted form).
    pub content_distance: f64,
    /// Which distance `content_distance` is: `lpips` or `vgg-unweighted`.
    pub content_metric: &'static str,
    pub gram_distance: f64,
    /// FID between the stylised images and the style set: needs two of each.
    pub fid_to_style: Option<f64>,
    pub art_fid: Option<f64>,
    pub vgg_layers: String,
}

/// JSON has no infinity: say it in words.
fn number_or_words<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_str("inf")
    }
}

/// `img` at `like`'s size (Lanczos), or a copy when the sizes already agree.
fn resized_like(img: &RgbImage, like: &RgbImage) -> RgbImage {
    if img.dimensions() == like.dimensions() {
        return img.clone();
    }
    let (w, h) = like.dimensions();
    image::imageops::resize(img, w, h, image::imageops::FilterType::Lanczos3)
}

fn load_all(paths: &[PathBuf]) -> anyhow::Result<Vec<RgbImage>> {
    paths
        .iter()
        .map(|p| Ok(load_rgb(p, &LoadOptions::default())?))
        .collect()
}

/// Inception features of the generated side: a folder (cached) or `n` samples of a model.
fn fake_features(
    opts: &DistanceOptions,
    fx: &FeatureExtractor,
    device: &Device,
) -> anyhow::Result<Vec<f32>> {
    match (&opts.fake, &opts.model) {
        (Some(dir), _) => Ok(fx.folder_features_cached(dir, None)?),
        (None, Some(model)) => {
            let g = LoadedGenerator::load(model, device).context("loading the generator")?;
            let mut out = Vec::with_capacity(opts.n * FEATURE_DIM);
            for start in (0..opts.n).step_by(256) {
                let m = (opts.n - start).min(256);
                let seed = opts.seed.wrapping_add(start as u64);
                out.extend(fx.features(&g.generate(m, None, seed, None)));
            }
            Ok(out)
        }
        (None, None) => anyhow::bail!("say what to compare with: --fake DIR or --model FILE"),
    }
}

fn extractor(
    inception: Option<&std::path::Path>,
    device: &Device,
) -> anyhow::Result<FeatureExtractor> {
    let (weights, spec) = locate_weights(inception)?;
    Ok(FeatureExtractor::new(&weights, &spec, device)?)
}

/// Fréchet Inception Distance between `opts.real` and the generated images.
pub fn fid(opts: &DistanceOptions, device: &Device) -> anyhow::Result<FidReport> {
    let fx = extractor(opts.inception.as_deref(), device)?;
    let fake_features = fake_features(opts, &fx, device)?;
    let real = fx.folder_stats(&opts.real, opts.max_real)?;
    let fake = FeatureStats::from_features(&fake_features, FEATURE_DIM)?;
    Ok(FidReport {
        metric: "fid",
        value: frechet_distance(&real, &fake)?,
        n_real: real.n,
        n_fake: fake_features.len() / FEATURE_DIM,
    })
}

/// Kernel Inception Distance between `opts.real` and the generated images.
pub fn kernel_distance(opts: &DistanceOptions, device: &Device) -> anyhow::Result<KidReport> {
    let fx = extractor(opts.inception.as_deref(), device)?;
    let fake_features = fake_features(opts, &fx, device)?;
    let real = fx.folder_features_cached(&opts.real, opts.max_real)?;
    let k = kid(
        &real,
        &fake_features,
        FEATURE_DIM,
        opts.subsets,
        opts.subset_size,
        opts.seed,
    )?;
    Ok(KidReport {
        metric: "kid",
        value: k.mean,
        std: k.std,
        subsets: k.subsets,
        subset_size: k.subset_size,
        n_real: real.len() / FEATURE_DIM,
        n_fake: fake_features.len() / FEATURE_DIM,
    })
}

/// SSIM, PSNR, L1 and LPIPS between outputs and the references they are named after.
pub fn pair_scores(opts: &PairOptions, device: &Device) -> anyhow::Result<PairReport> {
    let pairs = match_by_name(&opts.reference, &opts.out)?;
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
    let lpips = mean_lpips(&images, device);
    Ok(PairReport {
        metric: "pair",
        n: s.n,
        ssim: s.ssim,
        psnr_db: s.psnr,
        l1: s.l1,
        identical: s.identical,
        lpips,
    })
}

/// Mean LPIPS over the pairs, or `None` (with a warning saying why) when the weights are
/// not found or an image is too small: the other scores still stand.
pub(crate) fn mean_lpips(pairs: &[(RgbImage, RgbImage)], device: &Device) -> Option<f64> {
    let result = Lpips::locate(None, None, device).and_then(|lpips| {
        let mut total = 0.0;
        for (r, o) in pairs {
            total += lpips.distance(r, o)?;
        }
        Ok(total / pairs.len().max(1) as f64)
    });
    result
        .map_err(|e| tracing::warn!("LPIPS left out: {e}"))
        .ok()
}

/// Content kept (VGG distance to the content photo), style matched (Gram distance to the
/// style set, FID to it), and an ArtFID-like score combining both.
pub fn style_scores(opts: &StyleOptions, device: &Device) -> anyhow::Result<StyleReport> {
    let pairs = match_by_name(&opts.content, &opts.stylized)?;
    let style_files: Vec<PathBuf> = if opts.style.is_dir() {
        ImageFolder::open(&opts.style, &FolderOptions::default())?
            .items
            .into_iter()
            .map(|i| i.0)
            .collect()
    } else {
        vec![opts.style.clone()]
    };
    let styles = load_all(&style_files)?;
    let vgg = VggConfig::new().load(&locate_vgg(opts.vgg.as_deref())?, device)?;
    // Content kept is LPIPS (as ArtFID defines it) when its weights are found, else
    // LPIPS's unweighted form on the loaded VGG.
    let lpips = Lpips::locate(None, None, device)
        .map_err(|e| tracing::warn!("content distance without LPIPS weights: {e}"))
        .ok();
    let (mut content_d, mut gram_d) = (0.0, 0.0);
    let mut stylized = Vec::with_capacity(pairs.len());
    // The style set's Gram matrices depend only on the size they are taken at: usually one
    // size for every stylised image, so compute each once.
    let mut grams_at: HashMap<u32, Vec<Tensor<3>>> = HashMap::new();
    for (c, s) in &pairs {
        let (ci, si) = (
            load_rgb(c, &LoadOptions::default())?,
            load_rgb(s, &LoadOptions::default())?,
        );
        content_d += match &lpips {
            Some(l) => l.distance(&si, &resized_like(&ci, &si))?,
            None => perceptual_distance(&vgg, &si, &ci)?,
        };
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
        let fx = extractor(opts.inception.as_deref(), device)?;
        let f1 = FeatureStats::from_features(&fx.features(&stylized), FEATURE_DIM)?;
        let f2 = FeatureStats::from_features(&fx.features(&styles), FEATURE_DIM)?;
        Some(frechet_distance(&f1, &f2)?)
    } else {
        None
    };
    Ok(StyleReport {
        metric: "style",
        n: pairs.len(),
        n_style: styles.len(),
        content_distance: content_d,
        content_metric: if lpips.is_some() {
            "lpips"
        } else {
            "vgg-unweighted"
        },
        gram_distance: gram_d,
        fid_to_style: fid,
        art_fid: fid.map(|f| art_fid(content_d, f)),
        vgg_layers: score_layers(&vgg)
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(","),
    })
}
