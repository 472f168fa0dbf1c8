//! Video: MP4 round trip, a long clip streamed in bounded memory, consistency lowering the
//! temporal error on a synthetic pan, an interrupted run resumed into the same frames, and
//! the errors (through the CLI).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use atelier::error::Result;
use atelier::metrics::temporal::temporal_error;
use atelier::models::style_net::LoadedStyleNet;
use atelier::tasks::fast_style::FastOptions;
use atelier::tasks::video::{FastFrames, FrameStylizer, VideoOptions, history_for, stylize_video};
use atelier::video::consistency::Consistency;
use atelier::video::{FrameRate, sink, source};
use burn::prelude::Device;
use common::{atelier, fails_with, p};
use image::RgbImage;

/// A textured picture panned `t` pixels to the left, with a little per-frame noise (what
/// makes frame-by-frame stylisation flicker on real footage).
fn pan_frame(w: u32, h: u32, t: u32, noise: bool) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let u = x + t;
        let n = if noise {
            ((x * 31 + y * 17 + t * 101) % 7) as i32 - 3
        } else {
            0
        };
        let v = |a: u32| (a as i32 + n).clamp(0, 255) as u8;
        image::Rgb([
            v(((u / 6 + y / 6) % 2) * 150 + 50),
            v((u * 2 + y) % 200 + 20),
            v(if (u / 13).is_multiple_of(3) { 200 } else { 60 }),
        ])
    })
}

/// A smooth picture panned `t` pixels: what a lossy codec keeps well (hard-edged colour
/// checkers lose most to 4:2:0 chroma subsampling, not to the pipeline).
fn soft_frame(w: u32, h: u32, t: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let u = (x + t) as f32;
        let y = y as f32;
        image::Rgb([
            (128.0 + 90.0 * (u / 9.0).sin() * (y / 11.0).cos()) as u8,
            (128.0 + 80.0 * (u / 17.0 + y / 13.0).sin()) as u8,
            (100.0 + y * 1.5) as u8,
        ])
    })
}

fn write_mp4(path: &Path, frames: u32, w: u32, h: u32, rate: FrameRate) {
    let mut s = sink::create(path, w, h, rate, 2_000_000, None).unwrap();
    for t in 0..frames {
        s.write(&soft_frame(w, h, t)).unwrap();
    }
    assert_eq!(s.finish().unwrap(), frames as usize);
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn frames_survive_an_mp4_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let rate = FrameRate {
        timescale: 12_500,
        frame_ticks: 1000,
    };
    write_mp4(&clip, 20, 96, 64, rate);
    let src = source::open(&clip, 24.0).unwrap();
    let info = src.info().clone();
    assert_eq!((info.width, info.height, info.frames), (96, 64, Some(20)));
    assert_eq!(info.rate, rate, "the frame rate is kept exactly");
    let frames: Vec<RgbImage> = src.map(|f| f.unwrap()).collect();
    assert_eq!(frames.len(), 20);
    for (t, f) in frames.iter().enumerate() {
        let d = mean_abs_diff(f, &soft_frame(96, 64, t as u32));
        assert!(d < 3.0, "frame {t} differs by {d:.2} levels on average");
    }
}

/// Inverts colours: a stylizer costing nothing, for pipeline tests.
struct Invert;
impl FrameStylizer for Invert {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        let mut out = frame.clone();
        out.pixels_mut().for_each(|p| p.0 = p.0.map(|v| 255 - v));
        Ok(out)
    }
}

fn options(input: &Path, output: &Path, consistency: Consistency) -> VideoOptions {
    VideoOptions {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        size: None,
        start: 0.0,
        duration: None,
        every: 1,
        fps: 24.0,
        bitrate: None,
        resume: false,
        consistency,
        settings: "test".into(),
    }
}

/// The peak resident memory of this process so far, in kB (Linux).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_long_clip_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h, n) = (320, 240, 400);
    let clip = dir.path().join("long.mp4");
    write_mp4(&clip, n, w, h, FrameRate::from_fps(25.0));
    // A short run first, so what the pipeline allocates once is in the baseline.
    let short = dir.path().join("short-in.mp4");
    write_mp4(&short, 10, w, h, FrameRate::from_fps(25.0));
    let quiet = indicatif::ProgressBar::hidden();
    let stop = AtomicBool::new(false);
    let opts = options(
        &short,
        &dir.path().join("short.mp4"),
        Consistency::default(),
    );
    stylize_video(&opts, &mut Invert, &stop, &quiet).unwrap();
    let before = peak_rss_kb();
    let opts = options(&clip, &dir.path().join("out.mp4"), Consistency::default());
    let r = stylize_video(&opts, &mut Invert, &stop, &quiet).unwrap();
    assert_eq!(r.frames, n as usize);
    let grew_mb = (peak_rss_kb() - before) as f64 / 1024.0;
    // The whole clip decoded would be 400 x 230 kB = 92 MB; the queues hold a few frames.
    assert!(
        grew_mb < 30.0,
        "peak memory grew by {grew_mb:.1} MB over a 400-frame clip"
    );
    let back = source::open(&dir.path().join("out.mp4"), 24.0).unwrap();
    assert_eq!(back.info().frames, Some(n as usize));
}

fn shipped_styles(device: &Device, history: &Consistency) -> FastFrames {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/styles-fast.safetensors");
    let model = LoadedStyleNet::load(&path, device).unwrap();
    let opts = FastOptions {
        history: history_for(history),
        ..FastOptions::style(&model.meta.styles[0])
    };
    FastFrames {
        model,
        opts,
        device: device.clone(),
    }
}

/// A folder of `n` noisy pan frames.
fn pan_folder(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for t in 0..n {
        pan_frame(96, 64, t, true)
            .save(dir.join(format!("f{t:03}.png")))
            .unwrap();
    }
}

fn read_frames(dir: &Path) -> Vec<RgbImage> {
    source::open(dir, 24.0)
        .unwrap()
        .map(|f| f.unwrap())
        .collect()
}

fn mean_temporal_error(original: &[RgbImage], stylized: &[RgbImage]) -> f64 {
    let n = original.len().min(stylized.len());
    (1..n)
        .map(|t| {
            temporal_error(
                (&original[t - 1], &original[t]),
                (&stylized[t - 1], &stylized[t]),
            )
        })
        .sum::<f64>()
        / (n - 1) as f64
}

#[test]
fn consistency_lowers_the_temporal_error_of_a_pan() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pan");
    pan_folder(&input, 8);
    let device = Device::flex();
    let quiet = indicatif::ProgressBar::hidden();
    let stop = AtomicBool::new(false);
    let mut errors = vec![];
    for (name, c) in [("off", Consistency::OFF), ("on", Consistency::default())] {
        let out = dir.path().join(name);
        let mut styl = shipped_styles(&device, &c);
        stylize_video(&options(&input, &out, c), &mut styl, &stop, &quiet).unwrap();
        errors.push(mean_temporal_error(
            &read_frames(&input),
            &read_frames(&out),
        ));
    }
    assert!(
        errors[1] < 0.9 * errors[0],
        "temporal error with consistency {:.4}, without {:.4}",
        errors[1],
        errors[0]
    );
}

/// The shipped styles, with the run's stop flag raised after `stop_after` frames.
struct StopAfter<'a> {
    inner: FastFrames,
    stop: &'a AtomicBool,
    left: usize,
}
impl FrameStylizer for StopAfter<'_> {
    fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            self.stop.store(true, Ordering::SeqCst);
        }
        self.inner.stylize(frame)
    }
    fn history(&self) -> Option<&std::sync::Arc<atelier::nn::norm::StatsHistory>> {
        self.inner.history()
    }
}

#[test]
fn an_interrupted_run_resumes_into_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pan");
    pan_folder(&input, 9);
    let device = Device::flex();
    let quiet = indicatif::ProgressBar::hidden();
    // Both kinds of carried state on: statistics and the still blend.
    let c = Consistency {
        stats_momentum: 0.7,
        ..Consistency::default()
    };
    let straight = dir.path().join("straight");
    let never = AtomicBool::new(false);
    let mut styl = shipped_styles(&device, &c);
    stylize_video(&options(&input, &straight, c), &mut styl, &never, &quiet).unwrap();

    let resumed = dir.path().join("resumed");
    let stop = AtomicBool::new(false);
    let mut first = StopAfter {
        inner: shipped_styles(&device, &c),
        stop: &stop,
        left: 4,
    };
    let r = stylize_video(&options(&input, &resumed, c), &mut first, &stop, &quiet).unwrap();
    assert!(r.interrupted);
    assert_eq!(r.frames, 4);
    let mut opts = options(&input, &resumed, c);
    opts.resume = true;
    let mut second = shipped_styles(&device, &c);
    let r = stylize_video(&opts, &mut second, &never, &quiet).unwrap();
    assert_eq!((r.frames, r.stylized), (9, 5));
    let (a, b) = (read_frames(&straight), read_frames(&resumed));
    assert_eq!(a.len(), 9);
    for (t, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x == y, "frame {t} differs after resuming");
    }
    // Settings that differ from the interrupted run's are refused.
    let mut other = options(&input, &resumed, c);
    other.resume = true;
    other.settings = "other".into();
    let e = stylize_video(&other, &mut shipped_styles(&device, &c), &never, &quiet);
    assert!(e.is_err());
}

#[test]
fn an_interrupted_mp4_is_playable_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("in.mp4");
    write_mp4(&clip, 12, 64, 48, FrameRate::from_fps(24.0));
    let out = dir.path().join("out.mp4");
    let quiet = indicatif::ProgressBar::hidden();
    struct InvertStop<'a>(&'a AtomicBool, usize);
    impl FrameStylizer for InvertStop<'_> {
        fn stylize(&mut self, frame: &RgbImage) -> Result<RgbImage> {
            self.1 += 1;
            if self.1 == 5 {
                self.0.store(true, Ordering::SeqCst);
            }
            Invert.stylize(frame)
        }
    }
    let stop = AtomicBool::new(false);
    let r = stylize_video(
        &options(&clip, &out, Consistency::OFF),
        &mut InvertStop(&stop, 0),
        &stop,
        &quiet,
    )
    .unwrap();
    assert!(r.interrupted);
    // The partial output plays: 5 frames.
    assert_eq!(source::open(&out, 24.0).unwrap().count(), 5);
    let mut opts = options(&clip, &out, Consistency::OFF);
    opts.resume = true;
    let never = AtomicBool::new(false);
    stylize_video(&opts, &mut Invert, &never, &quiet).unwrap();
    let frames: Vec<RgbImage> = source::open(&out, 24.0)
        .unwrap()
        .map(|f| f.unwrap())
        .collect();
    assert_eq!(frames.len(), 12);
    for (t, f) in frames.iter().enumerate() {
        let mut want = soft_frame(64, 48, t as u32);
        want.pixels_mut().for_each(|p| p.0 = p.0.map(|v| 255 - v));
        let d = mean_abs_diff(f, &want);
        assert!(d < 4.0, "frame {t} differs by {d:.2} after resuming");
    }
}

#[test]
fn bad_input_and_output_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp4");
    std::fs::write(&fake, b"not a video at all").unwrap();
    let out = dir.path().join("o.mp4");
    fails_with(
        &atelier(&["video", p(&fake), "--style", "starry-night", "-o", p(&out)]),
        "not a readable MP4",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_with(
        &atelier(&["video", p(&empty), "--style", "starry-night", "-o", p(&out)]),
        "no frames",
    );
    let clip = dir.path().join("in.mp4");
    write_mp4(&clip, 3, 32, 32, FrameRate::from_fps(24.0));
    fails_with(
        &atelier(&[
            "video",
            p(&clip),
            "--style",
            "starry-night",
            "-o",
            "out.gif",
        ]),
        "not .gif",
    );
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    fails_with(
        &atelier(&[
            "video",
            p(&clip),
            "--style",
            "starry-night",
            "-o",
            p(&blocker.join("sub/out.mp4")),
        ]),
        "cannot write",
    );
    fails_with(
        &atelier(&[
            "video",
            p(&clip),
            "--style",
            "starry-night",
            "-o",
            p(&out),
            "--resume",
        ]),
        "--resume needs the state",
    );
}

#[test]
fn a_translation_model_paints_a_clip() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("in.mp4");
    write_mp4(&clip, 3, 64, 48, FrameRate::from_fps(24.0));
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/photo2ukiyoe-cyclegan-128.safetensors");
    let out = dir.path().join("frames");
    common::ok(&atelier(&[
        "video",
        p(&clip),
        "--model",
        p(&model),
        "-o",
        p(&out),
    ]));
    let frames = read_frames(&out);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].dimensions(), (64, 48));
    // A translation, not a copy of the input.
    assert!(mean_abs_diff(&frames[0], &soft_frame(64, 48, 0)) > 5.0);
    fails_with(
        &atelier(&[
            "video",
            p(&clip),
            "--model",
            p(&model),
            "--style",
            "x",
            "-o",
            p(&out),
        ]),
        "leave out --style",
    );
}
