//! Image-to-image translation end to end on synthetic data: pix2pix learns colour
//! inversion, CycleGAN resumes exactly (image pool included), and bad input is refused
//! with clear errors.

mod common;

use std::path::Path;

use atelier::device::DeviceChoice;
use atelier::tasks::train_translate::{TranslateTrainOptions, train_translate};
use atelier::tasks::training::{Launch, from_flags};
use common::{atelier, fails_with, ok, p};
use image::{Rgb, RgbImage};

/// A colourful image: background and a few discs, from `seed`.
fn picture(seed: u32, w: u32, h: u32) -> RgbImage {
    let c = |k: u32| ((seed.wrapping_mul(2654435761).wrapping_add(k * 40503)) >> 8) as u8;
    let discs: Vec<(f32, f32, f32, [u8; 3])> = (0..3)
        .map(|k| {
            (
                (c(k) as f32 / 255.0) * w as f32,
                (c(k + 7) as f32 / 255.0) * h as f32,
                4.0 + c(k + 11) as f32 / 32.0,
                [c(k + 3), c(k + 4), c(k + 5)],
            )
        })
        .collect();
    RgbImage::from_fn(w, h, |x, y| {
        for &(cx, cy, r, col) in &discs {
            if (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < r * r {
                return Rgb(col);
            }
        }
        Rgb([c(20), c(21), c(22)])
    })
}

fn invert(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    image::imageops::invert(&mut out);
    out
}

/// `a/NNN.png` and `b/NNN.png` with b = inverted a.
fn inversion_pairs(root: &Path, n: u32, size: u32) {
    for d in ["a", "b"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for i in 0..n {
        let a = picture(i + 1, size, size);
        a.save(root.join(format!("a/{i:03}.png"))).unwrap();
        invert(&a).save(root.join(format!("b/{i:03}.png"))).unwrap();
    }
}

fn mean_abs_diff(x: &RgbImage, y: &RgbImage) -> f64 {
    let s: f64 = x
        .pixels()
        .zip(y.pixels())
        .map(|(p, q)| {
            (0..3)
                .map(|c| (p.0[c] as f64 - q.0[c] as f64).abs())
                .sum::<f64>()
        })
        .sum();
    s / (3.0 * 255.0 * (x.width() * x.height()) as f64)
}

#[test]
fn a_short_paired_run_learns_colour_inversion() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    inversion_pairs(&data, 40, 36);
    let run = tmp.path().join("run");
    ok(&atelier(&[
        "train",
        "translate",
        "--a",
        p(&data.join("a")),
        "--b",
        p(&data.join("b")),
        "--size",
        "32",
        "--width",
        "16",
        "--steps",
        "150",
        "--batch-size",
        "4",
        "--lr",
        "1e-3",
        "--val",
        "4",
        "--sample-every",
        "50",
        "--out",
        p(&run),
        "--quiet",
    ]));
    let evals: Vec<f64> = std::fs::read_to_string(run.join("eval.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["val_l1"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(evals.len(), 3, "{evals:?}");
    // Input vs target differ by ~0.5 here; the trained network gets well under a third.
    assert!(evals[2] < 0.15, "validation L1 {evals:?}");
    assert!(evals[2] < evals[0], "validation L1 should fall: {evals:?}");
    for f in [
        "samples.png",
        "eval.png",
        "loss.png",
        "generator.safetensors",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }

    // The model translates a new image of an odd size at its own resolution.
    let img = picture(999, 45, 29);
    let input = tmp.path().join("new.png");
    img.save(&input).unwrap();
    let out_dir = tmp.path().join("out");
    let model = run.join("generator.safetensors");
    let translate = |extra: &[&str]| {
        let mut argv = vec![
            "translate",
            "--model",
            p(&model),
            p(&input),
            "-o",
            p(&out_dir),
        ];
        argv.extend_from_slice(extra);
        ok(&atelier(&argv))
    };
    translate(&[]);
    let out = image::open(out_dir.join("new.png")).unwrap().to_rgb8();
    assert_eq!(out.dimensions(), (45, 29));
    let err = mean_abs_diff(&out, &invert(&img));
    assert!(err < 0.2, "translated image vs inverted input: {err}");

    // --degrade makes the input first; the sheet shows made input | output | original.
    let sheet = tmp.path().join("sheet.png");
    translate(&["--degrade", "gray", "--sheet", p(&sheet)]);
    assert_eq!(image::open(&sheet).unwrap().width(), 3 * 256 + 4 * 2);
}

fn cycle_args(a: &Path, b: &Path, out: &Path) -> TranslateTrainOptions {
    let argv = [
        "--mode",
        "unpaired",
        "--a",
        p(a),
        "--b",
        p(b),
        "--size",
        "32",
        "--width",
        "4",
        "--blocks",
        "1",
        "--d-layers",
        "2",
        "--steps",
        "4",
        "--batch-size",
        "2",
        "--pool",
        "3",
        // Augmentation draws from the run's RNG too: resume must still be exact.
        "--augment",
        "all",
        "--checkpoint-every",
        "2",
        "--sample-every",
        "2",
        "--log-every",
        "1",
        "--workers",
        "2",
        "--out",
        p(out),
        "--quiet",
    ];
    from_flags(&argv).unwrap()
}

#[test]
fn cyclegan_stopped_and_resumed_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    inversion_pairs(&data, 6, 36);
    let (a, b) = (data.join("a"), data.join("b"));
    let straight_dir = tmp.path().join("straight");
    let args = cycle_args(&a, &b, &straight_dir);
    let straight =
        train_translate(&args, &Launch::new(&straight_dir, false, DeviceChoice::Cpu)).unwrap();
    assert_eq!(straight.losses.len(), 4);
    // Both directions are exported, and the pool is in the checkpoint.
    assert!(straight_dir.join("generator-b2a.safetensors").exists());
    assert!(
        straight_dir
            .join("checkpoints/step-00000004/recipe.safetensors")
            .exists()
    );

    let split_dir = tmp.path().join("split");
    let args = cycle_args(&a, &b, &split_dir);
    train_translate(
        &args,
        &Launch::new(&split_dir, false, DeviceChoice::Cpu).with_stop_after(2),
    )
    .unwrap();
    let second = train_translate(&args, &Launch::new(&split_dir, true, DeviceChoice::Cpu)).unwrap();
    assert_eq!(
        second.losses.iter().map(|l| l.0).collect::<Vec<_>>(),
        vec![3, 4]
    );
    for (x, y) in straight.losses[2..].iter().zip(&second.losses) {
        assert!(
            (x.1 - y.1).abs() < 1e-4 && (x.2 - y.2).abs() < 1e-4,
            "{x:?} vs {y:?}"
        );
    }
}

#[test]
fn bad_translation_input_gets_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    inversion_pairs(&data, 3, 20);
    picture(1, 20, 20).save(data.join("a/stray.png")).unwrap();
    let run = tmp.path().join("run");
    let base = |extra: &[&str]| {
        let mut v = vec![
            "train",
            "translate",
            "--out",
            p(&run),
            "--quiet",
            "--steps",
            "1",
        ];
        v.extend_from_slice(extra);
        atelier(&v)
    };
    let (a, b) = (data.join("a"), data.join("b"));
    // Unmatched names are listed.
    fails_with(
        &base(&["--a", p(&a), "--b", p(&b), "--size", "32"]),
        "only in",
    );
    fails_with(
        &base(&["--a", p(&a), "--b", p(&b), "--size", "32"]),
        "stray",
    );
    std::fs::remove_file(a.join("stray.png")).unwrap();
    // Smaller than the crop: named, with the ways out.
    let small = base(&["--a", p(&a), "--b", p(&b), "--size", "32"]);
    fails_with(&small, "smaller than the 32 px training crop");
    fails_with(&small, "--small skip");
    // Settings that do not fit together.
    fails_with(
        &base(&["--a", p(&a), "--b", p(&b), "--preset", "cyclegan"]),
        "--mode unpaired",
    );
    fails_with(
        &base(&["--a", p(&a), "--b", p(&b), "--pairs", "edges"]),
        "leave out --b",
    );
    // A model of the wrong kind.
    let dcgan = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/kaokore-dcgan-64.safetensors");
    fails_with(
        &atelier(&[
            "translate",
            "--model",
            p(&dcgan),
            p(&a.join("000.png")),
            "-o",
            p(&run),
        ]),
        "not a 'translator'",
    );
}

#[test]
fn seed_preset_trains_on_made_damage_pairs_and_side_by_side_pix2pix_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let paintings = tmp.path().join("paintings");
    std::fs::create_dir_all(&paintings).unwrap();
    for i in 0..5 {
        picture(i + 1, 40, 36)
            .save(paintings.join(format!("{i}.png")))
            .unwrap();
    }
    let run = tmp.path().join("seed");
    ok(&atelier(&[
        "train",
        "translate",
        "--preset",
        "seed",
        "--a",
        p(&paintings),
        "--pairs",
        "damage",
        "--size",
        "32",
        "--width",
        "8",
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--val",
        "1",
        "--out",
        p(&run),
        "--quiet",
    ]));
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(settings["preset"], "plain-mse");
    let out = tmp.path().join("out");
    let sheet = tmp.path().join("sheet.png");
    ok(&atelier(&[
        "translate",
        "--model",
        p(&run.join("generator.safetensors")),
        p(&paintings),
        "-o",
        p(&out),
        "--degrade",
        "damage",
        "--sheet",
        p(&sheet),
    ]));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
    assert_eq!(image::open(&sheet).unwrap().height(), 5 * 256 + 6 * 2);

    // Side-by-side A|B files, pix2pix.
    let ab = tmp.path().join("ab");
    std::fs::create_dir_all(&ab).unwrap();
    for i in 0..4 {
        let a = picture(i + 10, 36, 36);
        let mut both = RgbImage::new(72, 36);
        image::imageops::replace(&mut both, &a, 0, 0);
        image::imageops::replace(&mut both, &invert(&a), 36, 0);
        both.save(ab.join(format!("{i}.png"))).unwrap();
    }
    let run = tmp.path().join("ab-run");
    ok(&atelier(&[
        "train",
        "translate",
        "--a",
        p(&ab),
        "--size",
        "32",
        "--width",
        "8",
        "--steps",
        "2",
        "--val",
        "1",
        "--augment",
        "all",
        "--out",
        p(&run),
        "--quiet",
    ]));
    assert!(run.join("eval.jsonl").exists());
    // DiffAugment is recorded with the run's settings.
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["recipe"]["augment"]["cutout"], true);
}
