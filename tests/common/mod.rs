#![allow(dead_code)]
//! Helpers shared by the integration tests: tiny synthetic image folders, and the rule for
//! tests that need `../shared/data`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

/// A folder with `per_class` images in each of `classes` sub-folders. Class k is a flat
/// colour `colours[k]` with a little deterministic texture.
pub fn class_folder(root: &Path, colours: &[[u8; 3]], per_class: usize, size: u32) {
    for (k, c) in colours.iter().enumerate() {
        let dir = root.join(format!("class-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let img = RgbImage::from_fn(size, size, |x, y| {
                let j = ((x * 7 + y * 13 + i as u32 * 5) % 11) as i32 - 5;
                Rgb(c.map(|v| (v as i32 + j).clamp(0, 255) as u8))
            });
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// The shared data folder, or `None` (after printing why) when it is absent outside CI.
/// In CI (`CI` set) a missing folder is a test failure: the data must be there.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let p = atelier::data::shared_data_root().join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the shared data {} is missing", p.display());
    }
    eprintln!(
        "skipping: shared data {} not found (set ATELIER_DATA)",
        p.display()
    );
    None
}

/// Run the `atelier` binary. Its cache goes to a folder of this test process, never the
/// user's.
pub fn atelier(args: &[&str]) -> Output {
    atelier_with_cache(args, &test_cache())
}

/// Run the `atelier` binary with `cache` as its cache folder.
pub fn atelier_with_cache(args: &[&str], cache: &Path) -> Output {
    run_atelier(args, cache, "error")
}

/// Run the `atelier` binary with logs at `log` (an `ATELIER_LOG` filter), e.g. to read
/// its warnings.
pub fn atelier_with_log(args: &[&str], log: &str) -> Output {
    run_atelier(args, &test_cache(), log)
}

fn test_cache() -> PathBuf {
    std::env::temp_dir().join(format!("atelier-tests-{}", std::process::id()))
}

fn run_atelier(args: &[&str], cache: &Path, log: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(args)
        .env("ATELIER_LOG", log)
        .env("ATELIER_CACHE", cache)
        .output()
        .expect("run atelier")
}

#[track_caller]
pub fn ok(out: &Output) -> String {
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "atelier failed: {text}");
    text
}

/// The command failed with a message containing `needle`, and did not panic.
#[track_caller]
pub fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An f32 tensor of a safetensors file, as a flat vector.
pub fn f32_tensor(st: &safetensors::SafeTensors, name: &str) -> Vec<f32> {
    st.tensor(name)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `train gan` on `data` into `out` with a tiny network (width 8 unless `extra` gives a
/// `--width`), plus `extra` flags.
pub fn train_tiny(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let base = [
        "train",
        "gan",
        "--data",
        p(data),
        "--out",
        p(out),
        "--size",
        "32",
        "--z-dim",
        "16",
        "--batch-size",
        "4",
        "--quiet",
    ];
    let width: &[&str] = if extra.contains(&"--width") {
        &[]
    } else {
        &["--width", "8"]
    };
    atelier(&[&base[..], width, extra].concat())
}

/// A synthetic photo with stripes and a checker, different for each `k`.
pub fn picture(w: u32, h: u32, k: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x * (3 + k) + y) % 256) as u8,
            ((y * (5 + k)) % 256) as u8,
            (((x / (2 + k) + y / 3) % 2) * 200 + 20) as u8,
        ])
    })
}

/// The rows of a run's JSON-lines log `name` (`metrics.jsonl`, `eval.jsonl`, `fid.jsonl`).
pub fn jsonl(run: &Path, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join(name))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `key` column of a run's `metrics.jsonl`.
pub fn metric(run: &Path, key: &str) -> Vec<f64> {
    jsonl(run, "metrics.jsonl")
        .iter()
        .map(|row| row[key].as_f64().unwrap())
        .collect()
}

/// The `loss` column of a single-network run's `metrics.jsonl`.
pub fn losses(run: &Path) -> Vec<f64> {
    metric(run, "loss")
}

/// Deterministic values in [-1, 1) (a 64-bit LCG): random test cases that need no device
/// RNG and that a failure names reproducibly.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
    /// An integer in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next() + 1.0) * 0.5 * n as f32) as usize % n
    }
}
