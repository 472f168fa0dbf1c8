//! `atelier video`: stylise a clip with any stylizer, streaming, resumable.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::Args;

use super::stylize::{StyleArgs, StyleMethod};
use crate::device::{DeviceChoice, select};
use crate::models::model_file::model_kind;
use crate::models::translator::{LoadedTranslator, TRANSLATOR_KIND};
use crate::tasks::translate::Tiling;
use crate::tasks::video::{
    AdainFrames, FastFrames, OptimizeFrames, TranslateFrames, VideoOptions, VideoReport,
    history_for, stylize_video,
};
use crate::video::consistency::Consistency;

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The clip: an MP4 (H.264), a folder of frames, or a pattern like frames/%04d.png.
    pub input: PathBuf,
    /// The stylised clip: NAME.mp4 (H.264), or a folder for PNG frames.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    #[command(flatten)]
    pub styling: StyleArgs,
    /// Long side of the output frames (default: the input's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub size: Option<u32>,
    /// Seconds into the input to begin.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Seconds to stylise (default: to the end).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Keep every Nth frame (a quick preview; the clip keeps its duration).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Frame rate of a frame-folder or pattern input.
    #[arg(long, default_value_t = 24.0)]
    pub fps: f64,
    /// MP4 bit rate in kbit/s (default: about 0.2 bits per pixel per frame).
    #[arg(long)]
    pub bitrate: Option<u32>,
    /// Continue an interrupted run after its last finished frame (same flags).
    #[arg(long)]
    pub resume: bool,
    /// Stylise every frame on its own, with nothing carried between frames.
    #[arg(long)]
    pub no_consistency: bool,
    /// Weight of earlier frames in the normalisation statistics (fast, adain, translation
    /// models); 0 turns it off.
    #[arg(long, default_value_t = Consistency::default().stats_momentum)]
    pub stats_momentum: f32,
    /// Largest weight of the previous output where the input stands still; 0 turns it off.
    #[arg(long, default_value_t = Consistency::default().blend)]
    pub blend: f32,
    /// Optimize: start every frame from scratch instead of from the previous result.
    #[arg(long)]
    pub no_warm_start: bool,
}

impl VideoArgs {
    fn consistency(&self) -> anyhow::Result<Consistency> {
        if self.no_consistency {
            return Ok(Consistency::OFF);
        }
        anyhow::ensure!(
            (0.0..1.0).contains(&self.stats_momentum) && (0.0..1.0).contains(&self.blend),
            "--stats-momentum and --blend must be at least 0 and below 1"
        );
        Ok(Consistency {
            stats_momentum: self.stats_momentum,
            blend: self.blend,
            ..Consistency::default()
        })
    }
}

fn is_translator(p: Option<&Path>) -> bool {
    p.is_some_and(|p| model_kind(p).is_ok_and(|k| k == TRANSLATOR_KIND))
}

pub fn run(a: VideoArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let stop = super::stop_on_signals()?;
    let bar = crate::util::progress::frames_bar();
    let t = std::time::Instant::now();
    let r = stylize_with(&a, select(device)?, &stop, &bar)?;
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    super::status(format_args!(
        "wrote {} ({} frames, {}x{} at {:.3} fps; {} stylised in {:.1} s, {:.2} frames/s)",
        a.output.display(),
        r.frames,
        r.width,
        r.height,
        r.fps,
        r.stylized,
        secs,
        r.stylized as f64 / secs.max(1e-9)
    ));
    if r.interrupted {
        super::status(format_args!(
            "interrupted: the output holds the {} frames done; run the same command with \
             --resume to continue",
            r.frames
        ));
    }
    Ok(())
}

/// Stylise the clip `a` describes with the stylizer its flags choose; `stop` ends it after
/// the current frame (a playable file of the frames done), `bar` counts frames. The CLI and
/// the studio both run videos through here.
pub fn stylize_with(
    a: &VideoArgs,
    device: burn::prelude::Device,
    stop: &AtomicBool,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<VideoReport> {
    let consistency = a.consistency()?;
    let opts = VideoOptions {
        input: a.input.clone(),
        output: a.output.clone(),
        size: a.size,
        start: a.start,
        duration: a.duration,
        every: a.every as usize,
        fps: a.fps,
        bitrate: a.bitrate.map(|k| k.saturating_mul(1000)),
        resume: a.resume,
        consistency,
        settings: format!(
            "{:?} size={:?} start={} duration={:?} every={} consistency={:?} warm={}",
            a.styling, a.size, a.start, a.duration, a.every, consistency, !a.no_warm_start
        ),
    };
    crate::video::sink::output_kind(&a.output)?;
    let history = history_for(&consistency);
    let s = &a.styling;
    if is_translator(s.model.as_deref()) {
        anyhow::ensure!(
            s.style.is_empty(),
            "--model {} is a translation model: leave out --style",
            s.model.as_ref().expect("checked").display()
        );
        let model = LoadedTranslator::load(s.model.as_ref().expect("checked"), &device)
            .context("loading the translator")?;
        let mut frames = TranslateFrames {
            net: model.net,
            tiling: Tiling {
                tile: s.tile as usize,
                overlap: 64.min(s.tile as usize / 4),
                align: 4,
            },
            history,
            device,
        };
        return Ok(stylize_video(&opts, &mut frames, stop, bar)?);
    }
    let (method, blend) = s.method_and_blend()?;
    match method {
        StyleMethod::Fast => {
            let (model, mut fast) = s.fast(blend, &device)?;
            fast.history = history;
            let mut frames = FastFrames {
                model,
                opts: fast,
                device,
            };
            Ok(stylize_video(&opts, &mut frames, stop, bar)?)
        }
        StyleMethod::Adain => {
            let (loaded, vgg, adain) = s.adain(&blend, &device)?;
            let model = loaded.with(&vgg)?;
            let mut frames = AdainFrames::new(model, adain, history, device);
            Ok(stylize_video(&opts, &mut frames, stop, bar)?)
        }
        StyleMethod::Optimize => {
            // The frames' long side: --size, else the input's own (read from its first frame).
            let size = match a.size {
                Some(s) => s,
                None => {
                    let src = crate::video::source::open(&a.input, a.fps)?;
                    src.info().width.max(src.info().height)
                }
            };
            let setup = s.optimize(&blend, size, &device)?;
            let mut frames = OptimizeFrames {
                vgg: setup.vgg,
                layers: setup.layers,
                styles: setup.styles,
                opts: setup.opts,
                warm_start: !a.no_warm_start && !a.no_consistency,
                last: None,
            };
            Ok(stylize_video(&opts, &mut frames, stop, bar)?)
        }
    }
}
