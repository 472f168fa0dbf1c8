//! `atelier eval inpaint`: how well holes are filled, per mask kind, for the damaged input
//! (holes left white), the classical diffusion fill and the GAN, on paintings the model
//! never trained on.
//!
//! Each painting is cut to a centred `--size` square and gets one mask per kind, drawn
//! from a seed fixed by the painting's position and the kind, so every method fills the
//! same holes and a rerun gives the same numbers. PSNR, SSIM and LPIPS compare the whole
//! filled image with the original; only hole pixels differ, so they measure the holes
//! (relative to the image). `l1_holes` is the mean absolute error on hole pixels alone, in
//! [0, 1] units. FID compares the filled set with the originals.

use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::Device;
use clap::Args;
use image::{GrayImage, RgbImage};
use serde::Serialize;

use super::evaluate::mean_lpips;
use super::inpaint::{InpaintOptions, inpaint, shipped_inpainter};
use super::training::list_images;
use crate::data::loader::centre_square;
use crate::data::masks::MaskKind;
use crate::imaging::grid::rows_sheet;
use crate::imaging::{LoadOptions, load_rgb, save_image};
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::metrics::fid::{FeatureStats, frechet_distance};
use crate::metrics::paired::{hole_l1, score_pairs};
use crate::models::inception::FEATURE_DIM;
use crate::models::inpaint::{LoadedInpainter, show_holes};
use crate::util::rng::SeededRng;

#[derive(Args, Debug, Clone)]
pub struct InpaintEvalOptions {
    /// Paintings: folders, image files, or .txt lists of image paths (a training run's
    /// heldout.txt).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Inpainting model (default: the shipped one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Mask kinds, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub masks: Vec<MaskKind>,
    /// Side of the centred square each painting is cut to.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(16..=1024))]
    pub size: u32,
    /// Use at most this many paintings, spread evenly over the list.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Leave out FID (it needs the InceptionV3 weights and is the slowest part).
    #[arg(long)]
    pub no_fid: bool,
    /// Write a before/after sheet per mask kind here (KIND.png: masked | classic | GAN |
    /// original, the first 4 paintings).
    #[arg(long)]
    pub sheets: Option<PathBuf>,
    /// InceptionV3 FID weights (see `atelier eval fid --help`).
    #[arg(long)]
    pub inception: Option<PathBuf>,
}

/// One method on one mask kind.
#[derive(Clone, Debug, Serialize)]
pub struct InpaintScore {
    pub kind: MaskKind,
    pub method: &'static str,
    pub psnr_db: f64,
    pub ssim: f64,
    pub lpips: Option<f64>,
    pub l1_holes: f64,
    pub fid: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InpaintReport {
    pub n: usize,
    pub size: u32,
    pub model: String,
    pub scores: Vec<InpaintScore>,
}

/// The image paths in folders, files and `.txt` lists.
fn eval_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")) {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            files.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(PathBuf::from),
            );
        } else {
            files.extend(list_images(std::slice::from_ref(p), &[])?);
        }
    }
    anyhow::ensure!(!files.is_empty(), "no images in --data");
    Ok(files)
}

pub fn inpaint_scores(opts: &InpaintEvalOptions, device: &Device) -> anyhow::Result<InpaintReport> {
    let model_path = opts.model.clone().unwrap_or_else(shipped_inpainter);
    let model =
        LoadedInpainter::load(&model_path, device).context("loading the inpainting model")?;
    let all = eval_files(&opts.data)?;
    let take = opts.limit.unwrap_or(usize::MAX).clamp(1, all.len());
    let files: Vec<PathBuf> = (0..take)
        .map(|i| all[i * all.len() / take].clone())
        .collect();
    let originals: Vec<RgbImage> = files
        .iter()
        .map(|f| {
            Ok(centre_square(
                &load_rgb(f, &LoadOptions::default())?,
                opts.size,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let fid = if opts.no_fid {
        None
    } else {
        let (weights, spec) = locate_weights(opts.inception.as_deref())?;
        let extractor = FeatureExtractor::new(&weights, &spec, device)?;
        let real = FeatureStats::from_features(&extractor.features(&originals), FEATURE_DIM)?;
        Some((extractor, real))
    };
    let kinds = if opts.masks.is_empty() {
        MaskKind::ALL.to_vec()
    } else {
        opts.masks.clone()
    };
    let fill_opts = InpaintOptions::default();
    let mut scores = Vec::new();
    for &kind in &kinds {
        let masks: Vec<GrayImage> = (0..originals.len())
            .map(|i| {
                let mut rng = SeededRng::derived(opts.seed, &[kind as u64, i as u64]);
                kind.generate(opts.size, opts.size, &mut rng)
            })
            .collect();
        let damaged: Vec<RgbImage> = originals
            .iter()
            .zip(&masks)
            .map(|(o, m)| show_holes(o, m))
            .collect();
        let fill_all = |model: Option<&LoadedInpainter>| {
            damaged
                .iter()
                .zip(&masks)
                .map(|(d, m)| inpaint(d, m, model, &fill_opts, device))
                .collect::<crate::error::Result<Vec<_>>>()
        };
        let (classic, gan) = (fill_all(None)?, fill_all(Some(&model))?);
        let by_method = [("damaged", damaged), ("classic", classic), ("gan", gan)];
        for (method, outs) in &by_method {
            let pairs: Vec<(RgbImage, RgbImage)> = originals
                .iter()
                .cloned()
                .zip(outs.iter().cloned())
                .collect();
            let s = score_pairs(&pairs)?;
            let (sum, n) = originals
                .iter()
                .zip(outs)
                .zip(&masks)
                .map(|((o, f), m)| hole_l1(o, f, m))
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            let fid = match &fid {
                Some((extractor, real)) if outs.len() >= 2 => {
                    let stats =
                        FeatureStats::from_features(&extractor.features(outs), FEATURE_DIM)?;
                    Some(frechet_distance(real, &stats)?)
                }
                _ => None,
            };
            scores.push(InpaintScore {
                kind,
                method,
                psnr_db: s.psnr,
                ssim: s.ssim,
                lpips: mean_lpips(&pairs, device),
                l1_holes: sum / f64::max(n, 1.0),
                fid,
            });
        }
        if let Some(dir) = &opts.sheets {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let rows: Vec<Vec<RgbImage>> = (0..originals.len().min(4))
                .map(|i| {
                    vec![
                        by_method[0].1[i].clone(),
                        by_method[1].1[i].clone(),
                        by_method[2].1[i].clone(),
                        originals[i].clone(),
                    ]
                })
                .collect();
            save_image(
                &rows_sheet(&rows),
                &dir.join(format!("{}.png", kind.name())),
            )?;
        }
    }
    Ok(InpaintReport {
        n: originals.len(),
        size: opts.size,
        model: model_path.display().to_string(),
        scores,
    })
}
