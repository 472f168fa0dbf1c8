//! The `atelier` binary end to end on a tiny synthetic folder, including the errors a
//! user can cause: each must be a clear message and a non-zero exit, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::{atelier, fails_with, ok, p, train_tiny};

#[test]
fn train_generate_interpolate_resume_on_a_tiny_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::class_folder(&data, &[[200, 50, 50], [50, 50, 200]], 4, 40);
    std::fs::write(data.join("class-0/corrupt.jpg"), b"not a jpeg").unwrap();
    let run = tmp.path().join("run");
    let flags = [
        "--conditional",
        "--sample-count",
        "8",
        "--checkpoint-every",
        "2",
        "--log-every",
        "1",
    ];
    let text = ok(&train_tiny(
        &data,
        &run,
        &[&flags[..], &["--steps", "2"]].concat(),
    ));
    assert!(text.contains("skipped 1 unreadable image"), "{text}");
    for f in [
        "config.json",
        "run.json",
        "metrics.jsonl",
        "samples.png",
        "loss.png",
        "generator.safetensors",
        "checkpoints/latest",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }
    // Resume to step 4 with the saved settings.
    ok(&atelier(&[
        "train",
        "gan",
        "--resume",
        p(&run),
        "--steps",
        "4",
        "--quiet",
    ]));
    let log = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, vec![1, 2, 3, 4]);
    // Other settings on a resume would be ignored: refused by name, and nothing runs.
    fails_with(
        &atelier(&[
            "train",
            "gan",
            "--resume",
            p(&run),
            "--steps",
            "6",
            "--lr-g",
            "0.5",
        ]),
        "--lr-g 0.5 (saved: 0.0002)",
    );
    let row: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    for key in ["d_loss", "g_loss", "d_real", "d_fake", "images_per_sec"] {
        assert!(row[key].as_f64().unwrap().is_finite(), "{key} in {row}");
    }

    // --n-critic 2: two discriminator batches per generator step, so 2 steps use 4 batches.
    let critic = tmp.path().join("critic");
    ok(&train_tiny(
        &data,
        &critic,
        &["--n-critic", "2", "--steps", "2"],
    ));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(critic.join("checkpoints/step-00000002/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["batch_position"], 4);

    let model = run.join("generator.safetensors");
    let grid = tmp.path().join("grid.png");
    // Six images of class-1 at a fixed seed and truncation, as one grid.
    let class_grid = |out: &Path| {
        ok(&atelier(&[
            "generate",
            "--model",
            p(&model),
            "--n",
            "6",
            "--grid",
            p(out),
            "--class",
            "class-1",
            "--seed",
            "3",
            "--truncation",
            "0.8",
        ]))
    };
    class_grid(&grid);
    let img = image::open(&grid).unwrap().to_rgb8();
    // 6 images of 32 px with 2 px gutters: 3 columns x 2 rows.
    assert_eq!(img.dimensions(), (3 * 32 + 4 * 2, 2 * 32 + 3 * 2));
    let dir = tmp.path().join("each");
    ok(&atelier(&[
        "generate",
        "--model",
        p(&model),
        "--n",
        "3",
        "--out-dir",
        p(&dir),
    ]));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
    let strip = tmp.path().join("strip.png");
    ok(&atelier(&[
        "interpolate",
        "--model",
        p(&model),
        "--frames",
        "5",
        "-o",
        p(&strip),
    ]));
    assert_eq!(image::open(&strip).unwrap().width(), 5 * 32 + 6 * 2);

    // Same seed, same images.
    let g2 = tmp.path().join("grid2.png");
    class_grid(&g2);
    assert_eq!(std::fs::read(&grid).unwrap(), std::fs::read(&g2).unwrap());

    fails_with(
        &atelier(&[
            "generate",
            "--model",
            p(&model),
            "--grid",
            p(&grid),
            "--class",
            "nobody",
        ]),
        "unknown class 'nobody'; this model knows: class-0, class-1",
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = tmp.path().join("run");
    let args = |data: &Path| {
        vec![
            "train".to_string(),
            "gan".into(),
            "--data".into(),
            p(data).into(),
            "--out".into(),
            p(&out).into(),
            "--steps".into(),
            "1".into(),
            "--size".into(),
            "32".into(),
            "--quiet".into(),
        ]
    };
    let run = |a: Vec<String>| atelier(&a.iter().map(String::as_str).collect::<Vec<_>>());
    fails_with(&run(args(&empty)), "no images in");
    fails_with(&run(args(&tmp.path().join("missing"))), "does not exist");
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("a.png"), b"garbage").unwrap();
    fails_with(&run(args(&bad)), "could be read");
    let mut a = args(&bad);
    a.push("--lr-g=-1".into());
    fails_with(&run(a), "--lr-g");
    let mut a = args(&bad);
    a.push("--diversity=-1".into());
    fails_with(&run(a), "--diversity must be a finite weight");
    fails_with(
        &atelier(&["train", "gan", "--data", "x", "--out", "y", "--size", "48"]),
        "32, 64, 128 or 256",
    );
    // 256 px is FastGAN's alone: the other families say so before reading any data.
    fails_with(
        &atelier(&["train", "gan", "--data", "x", "--out", "y", "--size", "256"]),
        "DCGAN supports sizes 32, 64 and 128, not 256",
    );
    fails_with(
        &atelier(&[
            "train",
            "gan",
            "--data",
            "x",
            "--out",
            "y",
            "--betas-g",
            "0.5",
        ]),
        "two numbers",
    );
    fails_with(
        &atelier(&["train", "gan", "--resume", p(&tmp.path().join("nope"))]),
        "cannot read",
    );

    // Model files of the wrong kind.
    let png = tmp.path().join("img.png");
    image::RgbImage::new(4, 4).save(&png).unwrap();
    let grid = tmp.path().join("g.png");
    fails_with(
        &atelier(&["generate", "--model", p(&png), "--grid", p(&grid)]),
        "not a safetensors",
    );
    fails_with(
        &atelier(&[
            "generate",
            "--model",
            p(&tmp.path().join("none.safetensors")),
            "--grid",
            p(&grid),
        ]),
        "no such file",
    );
    fails_with(&atelier(&["generate", "--model", p(&png)]), "--grid");
    fails_with(
        &atelier(&["generate", "--n", "0", "--grid", p(&grid)]),
        "--n",
    );
}

#[test]
fn fid_during_training_logs_plots_and_keeps_the_best_generator() {
    let Some(weights) = common::shared_data("weights/inception-v3-fid.safetensors") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::class_folder(&data, &[[200, 50, 50], [50, 50, 200]], 4, 40);
    let run = tmp.path().join("run");
    let fid_flags = |steps: &'static str| {
        vec![
            "--steps",
            steps,
            "--checkpoint-every",
            "2",
            "--fid-every",
            "2",
            "--fid-samples",
            "4",
            "--inception",
            p(&weights),
        ]
    };
    ok(&train_tiny(&data, &run, &fid_flags("4")));
    let history = |run: &Path| common::jsonl(run, "fid.jsonl");
    let h = history(&run);
    assert_eq!(
        h.iter()
            .map(|v| v["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert!(h.iter().all(|v| v["fid"].as_f64().unwrap() > 0.0));
    assert!(run.join("fid.png").exists());
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("best-fid.json")).unwrap()).unwrap();
    let min = h
        .iter()
        .map(|v| v["fid"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(best["fid"].as_f64().unwrap(), min);
    // The best generator is a usable model.
    let grid = tmp.path().join("best.png");
    ok(&atelier(&[
        "generate",
        "--model",
        p(&run.join("best-fid.safetensors")),
        "--n",
        "2",
        "--grid",
        p(&grid),
    ]));
    // Resuming continues the history.
    ok(&atelier(&[
        "train",
        "gan",
        "--resume",
        p(&run),
        "--quiet",
        "--steps",
        "6",
    ]));
    let h = history(&run);
    assert_eq!(h.len(), 3);
    // Training time behind each point grows, and a resume carries it on.
    let secs: Vec<f64> = h
        .iter()
        .map(|v| v["train_seconds"].as_f64().unwrap())
        .collect();
    assert!(
        secs[0] > 0.0 && secs[0] < secs[1] && secs[1] < secs[2],
        "{secs:?}"
    );
    let plot = tmp.path().join("fid-vs-time.png");
    ok(&atelier(&[
        "eval",
        "fid-curve",
        "--run",
        p(&run),
        "-o",
        p(&plot),
    ]));
    assert_eq!(image::open(&plot).unwrap().width(), 800);
    // --minutes stops a run at its time budget (here: after the first step).
    let timed = tmp.path().join("timed");
    ok(&train_tiny(
        &data,
        &timed,
        &["--steps", "50", "--minutes", "0.000001", "--log-every", "1"],
    ));
    let rows = std::fs::read_to_string(timed.join("metrics.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 1);
    fails_with(
        &train_tiny(&data, &tmp.path().join("t2"), &["--minutes", "0"]),
        "--minutes",
    );
}

/// Rewrite a model file's metadata entry `key` (the weights unchanged).
fn with_metadata(src: &Path, dst: &Path, key: &str, value: &str) {
    let bytes = std::fs::read(src).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut md = meta.metadata().clone().unwrap();
    md.insert(key.into(), value.into());
    let views: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name.to_string(), view))
        .collect();
    let out = safetensors::serialize(views, Some(md)).unwrap();
    std::fs::write(dst, out).unwrap();
}

/// A 2-step conditional run of `arch` on two flat colours at 32 px: the temporary folder,
/// the data, the run directory and its saved `run.json`.
fn train_conditional_tiny(arch: &str) -> (tempfile::TempDir, PathBuf, PathBuf, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::class_folder(&data, &[[200, 40, 40], [40, 40, 200]], 4, 32);
    let run = tmp.path().join("run");
    ok(&train_tiny(
        &data,
        &run,
        &[
            "--arch",
            arch,
            "--conditional",
            "--width",
            "4",
            "--steps",
            "2",
        ],
    ));
    let saved =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    (tmp, data, run, saved)
}

#[test]
fn fastgan_trains_generates_interpolates_and_refuses_a_mislabelled_file() {
    let (tmp, _, run, saved) = train_conditional_tiny("fastgan");
    // FastGAN's defaults (its paper's) are written into run.json, so a resume keeps them.
    assert_eq!(saved["loss"], "hinge");
    assert_eq!(saved["lr_g"], 2e-4);
    assert_eq!(saved["r1"], 0.0);
    assert_eq!(saved["augment"]["translation"], true);
    let model = run.join("generator.safetensors");
    let grid = tmp.path().join("grid.png");
    truncated_grid_of_four(&model, &grid, &["--class", "class-1"]);
    let strip = tmp.path().join("strip.png");
    ok(&atelier(&[
        "interpolate",
        "--model",
        p(&model),
        "--frames",
        "3",
        "--class",
        "class-0",
        "-o",
        p(&strip),
    ]));
    assert_eq!(image::open(&strip).unwrap().height(), 32 + 2 * 2);
    mixing_is_refused(&model, &strip);
    // A FastGAN file labelled as a StyleGAN2 one: a clear error, no panic.
    relabelled_kind_is_refused(&model, "stylegan2-generator", tmp.path());
}

/// `generate` draws 4 images of a 32 px `model` with truncation 0.7 into a 2×2 `grid`.
fn truncated_grid_of_four(model: &Path, grid: &Path, extra: &[&str]) {
    let base = [
        "generate",
        "--model",
        p(model),
        "--n",
        "4",
        "--truncation",
        "0.7",
        "--grid",
        p(grid),
    ];
    ok(&atelier(&[&base[..], extra].concat()));
    assert_eq!(image::open(grid).unwrap().width(), 2 * 32 + 3 * 2);
}

/// Style mixing asked of a model that is not StyleGAN2: refused by name.
fn mixing_is_refused(model: &Path, out: &Path) {
    fails_with(
        &atelier(&[
            "interpolate",
            "--model",
            p(model),
            "--mix-from",
            "2",
            "-o",
            p(out),
        ]),
        "needs a StyleGAN2 model",
    );
}

/// `model` with its kind rewritten to `kind` (in `dir`): `generate` says the settings do
/// not describe that kind.
fn relabelled_kind_is_refused(model: &Path, kind: &str, dir: &Path) {
    let wrong_kind = dir.join("wrong-kind.safetensors");
    with_metadata(model, &wrong_kind, "atelier.kind", kind);
    fails_with(
        &atelier(&[
            "generate",
            "--model",
            p(&wrong_kind),
            "--grid",
            p(&dir.join("wrong-kind.png")),
        ]),
        &format!("its settings do not describe a {kind}"),
    );
}

#[test]
fn stylegan2_trains_generates_mixes_and_refuses_mislabelled_files() {
    let (tmp, data, run, saved) = train_conditional_tiny("stylegan2");
    // The architecture's defaults are written into run.json, so a resume keeps them.
    assert_eq!(saved["lr_g"], 2e-3);
    assert_eq!(saved["r1_every"], 16);
    assert_eq!(saved["augment"]["cutout"], true);
    let model = run.join("generator.safetensors");
    let grid = tmp.path().join("grid.png");
    truncated_grid_of_four(&model, &grid, &[]);
    let mix = tmp.path().join("mix.png");
    ok(&atelier(&[
        "interpolate",
        "--model",
        p(&model),
        "--frames",
        "2",
        "--mix-from",
        "4",
        "--class",
        "class-0",
        "-o",
        p(&mix),
    ]));
    // A 3x3 grid of 32 px images with 2 px gaps.
    assert_eq!(image::open(&mix).unwrap().width(), 3 * 32 + 4 * 2);

    // Style mixing on a DCGAN model is refused by name.
    let dcgan = tmp.path().join("dcgan");
    ok(&train_tiny(&data, &dcgan, &["--steps", "1"]));
    mixing_is_refused(&dcgan.join("generator.safetensors"), &mix);
    // A StyleGAN2 file labelled as a DCGAN one, and one whose class names do not match its
    // settings: clear errors, no panic.
    relabelled_kind_is_refused(&model, "dcgan-generator", tmp.path());
    let wrong_classes = tmp.path().join("wrong-classes.safetensors");
    with_metadata(
        &model,
        &wrong_classes,
        "atelier.classes",
        r#"["a","b","c"]"#,
    );
    fails_with(
        &atelier(&["generate", "--model", p(&wrong_classes), "--grid", p(&grid)]),
        "config has 2 classes but the file names 3",
    );
}
