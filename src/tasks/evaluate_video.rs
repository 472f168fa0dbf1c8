//! `atelier eval video`: how much a stylised clip flickers, and what consistency cost.
//!
//! Clips are read as streams, frame by frame. The original's frames are taken as the
//! stylised clip was made (`--start`, `--every`) and resized to the stylised size.

use std::path::PathBuf;

use burn::prelude::{Device, Tensor};
use clap::Args;
use image::RgbImage;
use serde::Serialize;

use crate::metrics::lpips::Lpips;
use crate::metrics::style::{gram_distance, style_grams};
use crate::metrics::temporal::{frame_change, temporal_error};
use crate::models::vgg::{Vgg, VggConfig};
use crate::video::source::{self, Source};
use crate::weights::locate_vgg;

#[derive(Args, Debug, Clone)]
pub struct VideoEvalOptions {
    /// The original clip (MP4, frame folder or pattern).
    #[arg(long)]
    pub original: PathBuf,
    /// The stylised clip.
    #[arg(long)]
    pub stylized: PathBuf,
    /// The same stylisation made frame by frame without consistency: its temporal error is
    /// reported beside, and LPIPS between its frames and the stylised ones (what
    /// consistency cost in style).
    #[arg(long)]
    pub independent: Option<PathBuf>,
    /// A style painting: mean Gram distance of the clips' frames to it.
    #[arg(long)]
    pub style: Option<PathBuf>,
    /// Seconds into the original where the stylised clip begins.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// The stylised clip took every Nth frame of the original.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Frame rate of frame folders and patterns.
    #[arg(long, default_value_t = 24.0)]
    pub fps: f64,
    /// LPIPS and Gram distances on every Nth frame (they cost a network pass each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub score_every: u64,
    /// VGG weights for the Gram distance (see `atelier stylize --help`).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// Also write the clips side by side (original | independent | stylised) to this MP4
    /// or frame folder.
    #[arg(long)]
    pub side_by_side: Option<PathBuf>,
}

/// Frames next to each other, left to right.
fn hstack(frames: &[&RgbImage]) -> RgbImage {
    let h = frames[0].height();
    let w: u32 = frames.iter().map(|f| f.width()).sum();
    let mut out = RgbImage::new(w, h);
    let mut x = 0;
    for f in frames {
        image::imageops::replace(&mut out, *f, x as i64, 0);
        x += f.width();
    }
    out
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VideoEvalReport {
    pub metric: &'static str,
    /// Frames compared (the shorter clip's count).
    pub frames: usize,
    /// Mean |Δ stylised − Δ original| per pixel and channel, 0-1 (lower is steadier).
    pub temporal_error: f64,
    /// The original's own mean change between frames, 0-1, for scale.
    pub original_change: f64,
    pub independent_temporal_error: Option<f64>,
    /// 1 − temporal_error / independent_temporal_error.
    pub flicker_reduction: Option<f64>,
    /// Mean LPIPS between stylised and independent frames.
    pub lpips_to_independent: Option<f64>,
    pub gram_distance: Option<f64>,
    pub independent_gram_distance: Option<f64>,
}

/// Running sums over one clip.
#[derive(Default)]
struct Flicker {
    error: f64,
    gram: f64,
    grams: usize,
    previous: Option<RgbImage>,
}

fn next(src: &mut Source) -> anyhow::Result<Option<RgbImage>> {
    Ok(src.next().transpose()?)
}

fn resized(img: RgbImage, like: &RgbImage) -> RgbImage {
    if img.dimensions() == like.dimensions() {
        return img;
    }
    let (w, h) = like.dimensions();
    image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
}

pub fn video_scores(opts: &VideoEvalOptions, device: &Device) -> anyhow::Result<VideoEvalReport> {
    let mut original = source::open(&opts.original, opts.fps)?;
    let mut stylized = source::open(&opts.stylized, opts.fps)?;
    let mut independent = opts
        .independent
        .as_ref()
        .map(|p| source::open(p, opts.fps))
        .transpose()?;
    let skip = (opts.start * original.info().rate.fps()).round() as usize;
    for _ in 0..skip {
        anyhow::ensure!(
            next(&mut original)?.is_some(),
            "--start is past the original's end"
        );
    }
    let lpips = match &independent {
        Some(_) => Some(Lpips::locate(None, None, device)?),
        None => None,
    };
    let gram_setup: Option<(Vgg, RgbImage)> = match &opts.style {
        Some(p) => {
            let vgg = VggConfig::new().load(&locate_vgg(opts.vgg.as_deref())?, device)?;
            let style = crate::imaging::load_rgb(p, &Default::default())?;
            Some((vgg, style))
        }
        None => None,
    };
    let mut grams: Option<Vec<Tensor<3>>> = None;
    let (mut main, mut indep) = (Flicker::default(), Flicker::default());
    let (mut change, mut lp, mut lp_n) = (0.0, 0.0, 0usize);
    let mut prev_orig: Option<RgbImage> = None;
    let mut frames = 0usize;
    let mut side: Option<crate::video::sink::Sink> = None;
    if let Some(p) = &opts.side_by_side {
        crate::video::sink::output_kind(p)?;
    }
    loop {
        let Some(s) = next(&mut stylized)? else { break };
        let Some(o) = next(&mut original)? else { break };
        for _ in 1..opts.every {
            next(&mut original)?;
        }
        let ind = match &mut independent {
            Some(src) => match next(src)? {
                Some(f) => Some(resized(f, &s)),
                None => break,
            },
            None => None,
        };
        let o = resized(o, &s);
        if let Some(p) = &opts.side_by_side {
            let mut panels = vec![&o];
            panels.extend(ind.as_ref());
            panels.push(&s);
            let sheet = hstack(&panels);
            // H.264 needs even sides.
            let (w, h) = (sheet.width() / 2 * 2, sheet.height() / 2 * 2);
            if side.is_none() {
                let rate = stylized.info().rate;
                let bitrate = crate::tasks::video::default_bitrate(w, h, rate);
                side = Some(crate::video::sink::create(p, w, h, rate, bitrate, None)?);
            }
            let sheet = image::imageops::crop_imm(&sheet, 0, 0, w, h).to_image();
            side.as_mut().expect("made above").write(&sheet)?;
        }
        let scored = (frames as u64).is_multiple_of(opts.score_every);
        if scored && let Some((vgg, style)) = &gram_setup {
            if grams.is_none() {
                grams = Some(style_grams(
                    vgg,
                    std::slice::from_ref(style),
                    s.width().max(s.height()),
                )?);
            }
            let g = grams.as_ref().expect("set above");
            main.gram += gram_distance(vgg, &s, g)?;
            main.grams += 1;
            if let Some(i) = &ind {
                indep.gram += gram_distance(vgg, i, g)?;
                indep.grams += 1;
            }
        }
        if scored && let (Some(l), Some(i)) = (&lpips, &ind) {
            lp += l.distance(&s, i)?;
            lp_n += 1;
        }
        if let Some(po) = &prev_orig {
            change += frame_change(po, &o);
            main.error += temporal_error((po, &o), (main.previous.as_ref().expect("with po"), &s));
            if let (Some(pi), Some(i)) = (&indep.previous, &ind) {
                indep.error += temporal_error((po, &o), (pi, i));
            }
        }
        prev_orig = Some(o);
        main.previous = Some(s);
        indep.previous = ind;
        frames += 1;
    }
    if let Some(s) = side {
        s.finish()?;
    }
    anyhow::ensure!(frames >= 2, "at least two frames are needed, got {frames}");
    let steps = (frames - 1) as f64;
    let mean = |f: &Flicker| (f.grams > 0).then(|| f.gram / f.grams as f64);
    let independent_error = independent.is_some().then(|| indep.error / steps);
    Ok(VideoEvalReport {
        metric: "video",
        frames,
        temporal_error: main.error / steps,
        original_change: change / steps,
        independent_temporal_error: independent_error,
        flicker_reduction: independent_error
            .filter(|e| *e > 0.0)
            .map(|e| 1.0 - (main.error / steps) / e),
        lpips_to_independent: (lp_n > 0).then(|| lp / lp_n as f64),
        gram_distance: mean(&main),
        independent_gram_distance: mean(&indep),
    })
}
