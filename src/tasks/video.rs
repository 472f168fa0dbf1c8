//! `atelier video`: a clip stylised frame by frame, as a stream.
//!
//! Three threads joined by short bounded queues: one decodes (and resizes) frames, this one
//! stylises them, one encodes and writes them. Memory holds a few frames, whatever the
//! clip's length. The output is made durable and playable every [`CHECKPOINT_EVERY`], on
//! Ctrl-C and at the end; with it a small state file records what consistency carries from
//! frame to frame, so `--resume` continues after the last finished frame exactly as the
//! uninterrupted run would have.
//!
//! Every stylizer plugs in through [`FrameStylizer`]: fast style networks, AdaIN, Gatys
//! optimisation (each frame starting from the previous result) and translation models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::prelude::Device;
use crossbeam_channel::{Receiver, Sender, bounded};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::imaging::io::dims_for_long_side;
use crate::models::adain::{AdainModel, StyleTarget};
use crate::models::style_net::LoadedStyleNet;
use crate::models::translator::Translator;
use crate::models::vgg::Vgg;
use crate::nn::norm::{LayerStats, StatsHistory};
use crate::nn::tiled::Tiling;
use crate::tasks::adain_style::{AdainOptions, adain_target, apply_adain};
use crate::tasks::fast_style::{FastOptions, stylize_fast};
use crate::tasks::stylize::{LayerChoice, StylizeOptions, stylize};
use crate::tasks::translate::translate_image;
use crate::video::consistency::{Consistency, StillBlend, is_scene_cut};
use crate::video::sink::{self, OutputKind, Sink};
use crate::video::source::{self, VideoInfo};
use crate::video::{FrameRate, video_err};

/// How often the output is made durable while a clip runs.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

/// One frame in, one stylised frame out; what a stylizer carries between frames is
/// exposed so it can be saved for `--resume` and dropped at a scene cut.
pub trait FrameStylizer {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage>;

    /// Normalisation statistics smoothed across frames, for stylizers that have them.
    fn history(&self) -> Option<&Arc<StatsHistory>> {
        None
    }

    /// The previous result a stylizer starts from (optimisation), if it keeps one.
    fn previous(&mut self) -> Option<&mut Option<RgbImage>> {
        None
    }
}

/// A smoothing history when consistency asks for one.
pub fn history_for(c: &Consistency) -> Option<Arc<StatsHistory>> {
    (c.stats_momentum > 0.0).then(|| StatsHistory::new(c.stats_momentum))
}

/// A feed-forward style network (`--method fast`).
pub struct FastFrames {
    pub model: LoadedStyleNet,
    pub opts: FastOptions,
    pub device: Device,
}

impl FrameStylizer for FastFrames {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        stylize_fast(&self.model, frame, &self.opts, &self.device)
    }
    fn history(&self) -> Option<&Arc<StatsHistory>> {
        self.opts.history.as_ref()
    }
}

/// AdaIN (`--method adain`): the paintings' statistics are taken once, with the first frame.
pub struct AdainFrames<'a> {
    pub model: AdainModel<'a>,
    pub opts: AdainOptions,
    pub history: Option<Arc<StatsHistory>>,
    pub device: Device,
    target: Option<StyleTarget>,
}

impl<'a> AdainFrames<'a> {
    pub fn new(
        model: AdainModel<'a>,
        opts: AdainOptions,
        history: Option<Arc<StatsHistory>>,
        device: Device,
    ) -> Self {
        Self {
            model,
            opts,
            history,
            device,
            target: None,
        }
    }
}

impl FrameStylizer for AdainFrames<'_> {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        if self.target.is_none() {
            self.target = Some(adain_target(&self.model, frame, &self.opts, &self.device)?);
        }
        let target = self.target.as_ref().expect("set above");
        Ok(apply_adain(
            &self.model,
            frame,
            target,
            &self.opts,
            self.history.as_ref(),
            &self.device,
        ))
    }
    fn history(&self) -> Option<&Arc<StatsHistory>> {
        self.history.as_ref()
    }
}

/// Gatys optimisation (`--method optimize`); with `warm_start`, each frame starts from the
/// previous frame's result, so the texture stays where it was wherever the scene did.
pub struct OptimizeFrames {
    pub vgg: Vgg,
    pub layers: LayerChoice,
    pub styles: Vec<(RgbImage, f32)>,
    pub opts: StylizeOptions,
    pub warm_start: bool,
    pub last: Option<RgbImage>,
}

impl FrameStylizer for OptimizeFrames {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        self.opts.start = if self.warm_start {
            self.last.clone()
        } else {
            None
        };
        let out = stylize(
            &self.vgg,
            &self.layers,
            frame,
            &self.styles,
            &self.opts,
            &mut |_| Ok(()),
        )?;
        self.last = Some(out.clone());
        Ok(out)
    }
    fn previous(&mut self) -> Option<&mut Option<RgbImage>> {
        self.warm_start.then_some(&mut self.last)
    }
}

/// A translation model (`--model FILE` from `train translate`).
pub struct TranslateFrames {
    pub net: Translator,
    pub tiling: Tiling,
    pub history: Option<Arc<StatsHistory>>,
    pub device: Device,
}

impl FrameStylizer for TranslateFrames {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        Ok(translate_image(
            &self.net,
            frame,
            self.tiling,
            self.history.as_ref(),
            &self.device,
        ))
    }
    fn history(&self) -> Option<&Arc<StatsHistory>> {
        self.history.as_ref()
    }
}

/// Which frames of the input, at what size, into which output.
#[derive(Clone, Debug)]
pub struct VideoOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Long side of the frames stylised and written (default: the input's); sides are
    /// made even, as H.264 needs.
    pub size: Option<u32>,
    /// Seconds into the input to begin.
    pub start: f64,
    /// Seconds to take (default: to the end).
    pub duration: Option<f64>,
    /// Keep every `every`th frame (previews); the clip keeps its duration.
    pub every: usize,
    /// Frame rate of frame folders and patterns.
    pub fps: f64,
    /// Bits per second of an MP4 output (default: by frame size and rate).
    pub bitrate: Option<u32>,
    pub resume: bool,
    pub consistency: Consistency,
    /// Everything else that shapes the frames (method, styles, strength, model): a resumed
    /// run must have the same.
    pub settings: String,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoReport {
    /// Frames in the output (a resumed run's earlier ones included).
    pub frames: usize,
    /// Frames this run stylised.
    pub stylized: usize,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Stopped by Ctrl-C: the output holds the frames done.
    pub interrupted: bool,
    pub has_audio: bool,
}

/// Even output sides for `info`'s frames at long side `size`.
pub fn output_dims(info: &VideoInfo, size: Option<u32>) -> (u32, u32) {
    let (w, h) = match size {
        Some(long) => dims_for_long_side(info.width, info.height, long),
        None => (info.width, info.height),
    };
    ((w / 2 * 2).max(2), (h / 2 * 2).max(2))
}

/// An MP4's bit rate when none is given: about 0.2 bits per pixel per frame, generous for
/// H.264 because painted texture costs more bits than film.
pub fn default_bitrate(w: u32, h: u32, rate: FrameRate) -> u32 {
    (0.2 * w as f64 * h as f64 * rate.fps()).clamp(200_000.0, 50_000_000.0) as u32
}

/// Where the resume state of `output` lives: beside an MP4, inside a frame folder.
pub fn state_path(output: &Path) -> PathBuf {
    match sink::output_kind(output) {
        Ok(OutputKind::Folder) => output.join(".atelier-video-state"),
        _ => {
            let name = output.file_name().unwrap_or_default().to_string_lossy();
            output.with_file_name(format!(".{name}.atelier-video-state"))
        }
    }
}

/// What is carried from one frame to the next, saved with each checkpoint.
#[derive(Clone, Debug, Default)]
struct Carry {
    history: Vec<LayerStats>,
    blend: StillBlend,
    previous_result: Option<RgbImage>,
}

#[derive(Serialize, Deserialize)]
struct StateHeader {
    frames: usize,
    settings: String,
    width: u32,
    height: u32,
    layers: usize,
}

fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut buf = std::io::Cursor::new(vec![]);
    img.write_to(&mut buf, image::ImageFormat::Png)
        .map_err(|e| AtelierError::Write {
            path: PathBuf::from("(state)"),
            reason: e.to_string(),
        })?;
    Ok(buf.into_inner())
}

fn save_state(path: &Path, header: &StateHeader, carry: &Carry) -> Result<()> {
    let mut blobs: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = vec![];
    for (k, l) in carry.history.iter().enumerate() {
        for (name, v) in [("mean", &l.mean), ("var", &l.var)] {
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            blobs.push((
                format!("history.{k}.{name}"),
                safetensors::Dtype::F32,
                vec![v.len()],
                bytes,
            ));
        }
    }
    let images = [
        ("blend.previous_input", &carry.blend.previous_input),
        ("blend.previous_output", &carry.blend.previous_output),
        ("previous_result", &carry.previous_result),
    ];
    for (name, img) in images {
        if let Some(img) = img {
            let png = png_bytes(img)?;
            blobs.push((name.into(), safetensors::Dtype::U8, vec![png.len()], png));
        }
    }
    let views = blobs
        .iter()
        .map(|(n, d, s, b)| {
            safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| video_err(path, e))?;
    let meta = HashMap::from([(
        "state".to_string(),
        serde_json::to_string(header).expect("plain data"),
    )]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| video_err(path, e))?;
    crate::util::atomic::write_atomic(path, &bytes)
}

fn load_state(path: &Path) -> Result<(StateHeader, Carry)> {
    let bytes = std::fs::read(path).map_err(|e| {
        video_err(
            path,
            format!(
                "--resume needs the state an interrupted run leaves here ({e}); a finished run \
                 leaves none: start again without --resume"
            ),
        )
    })?;
    let bad = |e: &dyn std::fmt::Display| video_err(path, format!("damaged resume state: {e}"));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(&e))?;
    let header: StateHeader = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("state"))
        .ok_or_else(|| bad(&"no header"))
        .and_then(|s| serde_json::from_str(s).map_err(|e| bad(&e)))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(&e))?;
    let f32s = |name: String| -> Result<Vec<f32>> {
        let t = st.tensor(&name).map_err(|e| bad(&e))?;
        Ok(crate::weights::tensor_file::f32s_le(t.data()))
    };
    let image = |name: &str| -> Result<Option<RgbImage>> {
        match st.tensor(name) {
            Ok(t) => image::load_from_memory(t.data())
                .map(|i| Some(i.to_rgb8()))
                .map_err(|e| bad(&e)),
            Err(_) => Ok(None),
        }
    };
    let history = (0..header.layers)
        .map(|k| {
            Ok(LayerStats {
                mean: f32s(format!("history.{k}.mean"))?,
                var: f32s(format!("history.{k}.var"))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let carry = Carry {
        history,
        blend: StillBlend {
            previous_input: image("blend.previous_input")?,
            previous_output: image("blend.previous_output")?,
        },
        previous_result: image("previous_result")?,
    };
    Ok((header, carry))
}

/// What the decoding thread sends.
enum Decoded {
    Info(VideoInfo),
    Frame(RgbImage),
}

/// What the writing thread receives.
enum ToWrite {
    Frame(RgbImage),
    /// Make the output durable, then save this state beside it.
    Checkpoint(Box<(StateHeader, Carry)>),
}

/// The input frames `--start`/`--duration` select at `fps`: the first one's index and how
/// many (all to the end when `None`), before `--every` thins them.
fn selection(opts: &VideoOptions, fps: f64) -> (usize, Option<usize>) {
    let first = (opts.start * fps).round() as usize;
    let count = opts.duration.map(|d| (d * fps).round().max(1.0) as usize);
    (first, count)
}

/// Decode `input`, keep the frames `opts` selects, resize them, send them on.
fn decode_frames(opts: VideoOptions, tx: Sender<Result<Decoded>>) {
    let send_err = |e| {
        let _ = tx.send(Err(e));
    };
    let src = match source::open(&opts.input, opts.fps) {
        Ok(s) => s,
        Err(e) => return send_err(e),
    };
    let info = src.info().clone();
    let (first, count) = selection(&opts, info.rate.fps());
    let every = opts.every.max(1);
    let (w, h) = output_dims(&info, opts.size);
    if tx.send(Ok(Decoded::Info(info))).is_err() {
        return;
    }
    for (i, frame) in src.enumerate() {
        if count.is_some_and(|n| i >= first + n) {
            break;
        }
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return send_err(e),
        };
        if i < first || !(i - first).is_multiple_of(every) {
            continue;
        }
        let frame = if frame.dimensions() == (w, h) {
            frame
        } else {
            image::imageops::resize(&frame, w, h, image::imageops::FilterType::Triangle)
        };
        if tx.send(Ok(Decoded::Frame(frame))).is_err() {
            return;
        }
    }
}

/// Write frames and checkpoints until the queue closes; returns the frames in the output.
fn write_frames(mut sink: Sink, rx: Receiver<ToWrite>, state: PathBuf) -> Result<usize> {
    for msg in rx {
        match msg {
            ToWrite::Frame(f) => sink.write(&f)?,
            ToWrite::Checkpoint(s) => {
                sink.checkpoint()?;
                save_state(&state, &s.0, &s.1)?;
            }
        }
    }
    sink.finish()
}

/// Stylise `opts.input` into `opts.output` with `stylizer`. `interrupt` (Ctrl-C) stops after
/// the current frame, leaving a playable output and a state to resume from; `progress`
/// is told the frame total once known, then each frame.
pub fn stylize_video(
    opts: &VideoOptions,
    stylizer: &mut dyn FrameStylizer,
    interrupt: &AtomicBool,
    progress: &indicatif::ProgressBar,
) -> Result<VideoReport> {
    sink::output_kind(&opts.output)?;
    if opts.every == 0 {
        return Err(AtelierError::Config("--every must be at least 1".into()));
    }
    if !(opts.start >= 0.0 && opts.start.is_finite())
        || opts.duration.is_some_and(|d| d <= 0.0 || !d.is_finite())
    {
        return Err(AtelierError::Config(
            "--start must be 0 or more and --duration more than 0 seconds".into(),
        ));
    }
    let state_file = state_path(&opts.output);
    let (done, mut carry) = if opts.resume {
        let (header, carry) = load_state(&state_file)?;
        if header.settings != opts.settings {
            return Err(AtelierError::Config(format!(
                "--resume with other settings than the interrupted run: it had {}, this one \
                 has {}",
                header.settings, opts.settings
            )));
        }
        (header.frames, carry)
    } else {
        (0, Carry::default())
    };

    let (dtx, drx) = bounded::<Result<Decoded>>(4);
    let decode_opts = opts.clone();
    let decoder = std::thread::spawn(move || decode_frames(decode_opts, dtx));
    let info = match drx.recv() {
        Ok(Ok(Decoded::Info(i))) => i,
        Ok(Err(e)) => return Err(e),
        _ => {
            return Err(video_err(
                &opts.input,
                "the decoder stopped before reading anything",
            ));
        }
    };
    if info.has_audio {
        tracing::warn!(
            "{} has an audio track: it is not carried over (Atelier writes video only; \
             ffmpeg can put it back: ffmpeg -i OUT.mp4 -i IN.mp4 -map 0:v -map 1:a -c copy \
             with-audio.mp4)",
            opts.input.display()
        );
    }
    let (w, h) = output_dims(&info, opts.size);
    let rate = info.rate.every(opts.every);
    let (first, count) = selection(opts, info.rate.fps());
    let total = info.frames.map(|n| {
        let n = n.saturating_sub(first);
        count.map_or(n, |c| n.min(c)).div_ceil(opts.every)
    });
    if total == Some(0) {
        return Err(video_err(
            &opts.input,
            format!(
                "no frames to stylise (--start {} is past the end?)",
                opts.start
            ),
        ));
    }
    if let Some(n) = total {
        progress.set_length(n as u64);
    }
    progress.set_position(done as u64);
    progress.reset_eta();
    let bitrate = opts.bitrate.unwrap_or_else(|| default_bitrate(w, h, rate));
    let out_sink = sink::create(
        &opts.output,
        w,
        h,
        rate,
        bitrate,
        opts.resume.then_some(done),
    )?;
    if !opts.resume {
        // A stale state from an earlier, different run must not be resumed later.
        let _ = std::fs::remove_file(&state_file);
    }
    if let Some(hist) = stylizer.history() {
        hist.restore(std::mem::take(&mut carry.history));
    }
    if let Some(prev) = stylizer.previous() {
        *prev = carry.previous_result.take();
    }

    let (wtx, wrx) = bounded::<ToWrite>(4);
    let state_for_writer = state_file.clone();
    let writer = std::thread::spawn(move || write_frames(out_sink, wrx, state_for_writer));
    let header = |frames: usize, carry: &Carry| StateHeader {
        frames,
        settings: opts.settings.clone(),
        width: w,
        height: h,
        layers: carry.history.len(),
    };
    let snapshot = |stylizer: &mut dyn FrameStylizer, carry: &Carry| -> Carry {
        Carry {
            history: stylizer.history().map(|h| h.snapshot()).unwrap_or_default(),
            blend: carry.blend.clone(),
            previous_result: stylizer.previous().and_then(|p| p.clone()),
        }
    };

    let mut index = 0usize;
    let mut stylized = 0usize;
    let mut interrupted = false;
    let mut last_checkpoint = Instant::now();
    let mut failure: Option<AtelierError> = None;
    for msg in drx.iter() {
        let frame = match msg {
            Ok(Decoded::Frame(f)) => f,
            Ok(Decoded::Info(_)) => continue,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        index += 1;
        if index <= done {
            continue;
        }
        // The blend keeps the last input frame whether or not it blends.
        if let Some(prev) = &carry.blend.previous_input
            && is_scene_cut(prev, &frame, opts.consistency.cut_threshold)
        {
            tracing::info!("scene cut at frame {index}: consistency starts afresh");
            if let Some(h) = stylizer.history() {
                h.reset();
            }
            if let Some(p) = stylizer.previous() {
                *p = None;
            }
            carry.blend.reset();
        }
        let out = match stylizer.stylize(&frame) {
            Ok(o) => o,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if let Some(h) = stylizer.history() {
            h.end_frame();
        }
        let out = carry.blend.apply(&opts.consistency, &frame, out);
        if wtx.send(ToWrite::Frame(out)).is_err() {
            break; // the writer failed: its error is collected below
        }
        stylized += 1;
        progress.inc(1);
        interrupted = interrupt.load(Ordering::SeqCst);
        if interrupted || last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            let c = snapshot(stylizer, &carry);
            let _ = wtx.send(ToWrite::Checkpoint(Box::new((header(index, &c), c))));
            last_checkpoint = Instant::now();
        }
        if interrupted {
            break;
        }
    }
    let failed_or_interrupted = failure.is_some() || interrupted;
    if failure.is_some() && index > done {
        // Keep what was finished before the failure, resumable.
        let c = snapshot(stylizer, &carry);
        let frames = done + stylized;
        let _ = wtx.send(ToWrite::Checkpoint(Box::new((header(frames, &c), c))));
    }
    drop(wtx);
    drop(drx);
    let _ = decoder.join();
    let frames = writer
        .join()
        .map_err(|_| video_err(&opts.output, "the writing thread panicked"))??;
    if let Some(e) = failure {
        return Err(e);
    }
    if frames == 0 {
        return Err(video_err(&opts.input, "no frames were decoded"));
    }
    if !failed_or_interrupted {
        let _ = std::fs::remove_file(&state_file);
    }
    Ok(VideoReport {
        frames,
        stylized,
        width: w,
        height: h,
        fps: rate.fps(),
        interrupted,
        has_audio: info.has_audio,
    })
}
