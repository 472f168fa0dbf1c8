//! Benchmark: `atelier video --method fast` end to end (decode, stylise with the shipped
//! style network, still-region blend, encode to MP4) on the shared Big Buck Bunny clip at
//! its 640x360, in frames per second; beside it, the same network on one frame alone.
//! `benches/run_video.sh` adds the PyTorch reference (the network alone, per frame).
//!
//! cargo bench --bench video [-- --clip FILE] [--seconds 4]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use common::{arg, arg_or};

use atelier::models::style_net::LoadedStyleNet;
use atelier::tasks::fast_style::FastOptions;
use atelier::tasks::video::{FastFrames, FrameStylizer, VideoOptions, stylize_video};
use atelier::video::consistency::Consistency;
use atelier::video::source;
use burn::prelude::*;

fn main() {
    let device = Device::flex();
    let clip = arg("--clip").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/video/big_buck_bunny_10s.mp4")
    });
    let seconds: f64 = arg_or("--seconds", 4.0);
    let model_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/styles-fast.safetensors");
    let frames = || {
        let model = LoadedStyleNet::load(&model_path, &device).expect("the shipped styles");
        let opts = FastOptions::style(&model.meta.styles[0]);
        FastFrames {
            model,
            opts,
            device: device.clone(),
        }
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let opts = VideoOptions {
        input: clip.clone(),
        output: dir.path().join("out.mp4"),
        size: None,
        start: 0.0,
        duration: Some(seconds),
        every: 1,
        fps: 24.0,
        bitrate: None,
        resume: false,
        consistency: Consistency::default(),
        settings: String::new(),
    };
    // The stylizer alone on the clip's first frame (warm-up, then the median of 5).
    let first = source::open(&clip, 24.0)
        .expect("the clip")
        .next()
        .expect("a frame")
        .expect("decodes");
    let mut alone = frames();
    alone.stylize(&first).expect("stylises");
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            alone.stylize(&first).expect("stylises");
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let t = Instant::now();
    let report = stylize_video(
        &opts,
        &mut frames(),
        &AtomicBool::new(false),
        &indicatif::ProgressBar::hidden(),
    )
    .expect("the pipeline runs");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "bench": format!("video_fast_{}x{}", report.width, report.height),
            "frames": report.frames,
            "pipeline_fps": (report.frames as f64 / secs * 100.0).round() / 100.0,
            "stylize_ms_per_frame": (times[2] * 1e4).round() / 10.0,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}
