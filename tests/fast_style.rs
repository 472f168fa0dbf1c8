//! Fast stylisation end to end through the CLI: `train style` on tiny synthetic data with a
//! random VGG16 (the loss falls; a run stopped and resumed matches a straight one), the
//! shipped multi-style network on a 64 px photo, `atelier styles`, and the errors.
//! Each run is its own process, so no test shares burn's device RNG with another.

mod common;

use std::path::{Path, PathBuf};

use atelier::models::vgg::{VggArch, write_random_vgg_of};
use common::{atelier, fails_with, losses, ok, p, picture};
use image::RgbImage;

/// A random VGG16 with `convs` layers, two paintings and a folder of four photos.
fn fixture(dir: &Path, convs: usize) -> (PathBuf, [PathBuf; 2], PathBuf) {
    let vgg = dir.join("vgg16.safetensors");
    write_random_vgg_of(VggArch::Vgg16, &vgg, convs, 3);
    let styles = [dir.join("a.png"), dir.join("b.png")];
    picture(48, 40, 1).save(&styles[0]).unwrap();
    picture(40, 48, 4).save(&styles[1]).unwrap();
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for k in 0..4 {
        picture(40 + 4 * k, 36, k + 7)
            .save(photos.join(format!("p{k}.png")))
            .unwrap();
    }
    (vgg, styles, photos)
}

fn train(dir: &Path, fx: &(PathBuf, [PathBuf; 2], PathBuf), run: &str, extra: &[&str]) -> String {
    let (vgg, styles, photos) = fx;
    let out = dir.join(run);
    let mut args = vec![
        "train",
        "style",
        "--style",
        p(&styles[0]),
        "--style",
        p(&styles[1]),
        "--content",
        p(photos),
        "--size",
        "32",
        "--batch-size",
        "2",
        "--width",
        "4",
        "--blocks",
        "1",
        "--outer-kernel",
        "3",
        "--lr",
        "0.02",
        "--vgg",
        p(vgg),
        "--log-every",
        "1",
        "--checkpoint-every",
        "6",
        "--sample-every",
        "6",
        "--workers",
        "1",
        "--quiet",
    ];
    if !extra.contains(&"--resume") {
        args.extend(["--out", p(&out)]);
    }
    args.extend(extra);
    ok(&atelier(&args))
}

#[test]
fn training_lowers_the_loss_and_a_resumed_run_matches_a_straight_one() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture(dir.path(), 10);
    train(dir.path(), &fx, "straight", &["--steps", "24"]);
    let straight = losses(&dir.path().join("straight"));
    assert_eq!(straight.len(), 24);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&straight[..4]), mean(&straight[20..]));
    assert!(
        last < 0.8 * first,
        "the loss did not fall: {first} -> {last}"
    );
    let run = dir.path().join("straight");
    assert!(run.join("style-network.safetensors").exists());
    assert!(run.join("samples.png").exists());

    train(dir.path(), &fx, "split", &["--steps", "12"]);
    let split = dir.path().join("split");
    train(
        dir.path(),
        &fx,
        "split",
        &["--resume", p(&split), "--steps", "24"],
    );
    let resumed = losses(&split);
    assert_eq!(resumed.len(), 24);
    for (k, (a, b)) in straight.iter().zip(&resumed).enumerate() {
        assert_eq!(
            a,
            b,
            "step {}: straight {a} vs stopped and resumed {b}",
            k + 1
        );
    }

    // The trained file is a style network with the names taken from the files.
    let listed = ok(&atelier(&[
        "styles",
        "--model",
        p(&run.join("style-network.safetensors")),
    ]));
    assert!(
        listed.contains("a ") && listed.contains("b.png"),
        "{listed}"
    );
}

#[test]
fn bad_training_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A VGG16 that stops at conv3_3: relu4_3 is missing.
    let fx = fixture(dir.path(), 7);
    let (vgg, styles, photos) = &fx;
    let out = dir.path().join("run");
    let base = [
        "train",
        "style",
        "--content",
        p(photos),
        "--size",
        "32",
        "--vgg",
        p(vgg),
        "--out",
        p(&out),
        "--steps",
        "2",
        "--width",
        "4",
        "--blocks",
        "1",
    ];
    let with = |extra: &[&str]| atelier(&[&base[..], extra].concat());
    fails_with(&with(&["--style", p(&styles[0])]), "relu4_3");
    fails_with(&with(&["--style", p(&styles[0])]), "stops at relu3_3");
    let tiny = dir.path().join("tiny.png");
    picture(6, 6, 0).save(&tiny).unwrap();
    fails_with(&with(&["--style", p(&tiny)]), "too small");
    fails_with(
        &with(&[
            "--style",
            p(&styles[0]),
            "--style",
            p(&styles[1]),
            "--style-names",
            "x",
        ]),
        "--style-names has 1 names for 2",
    );
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/styles-fast.safetensors")
}

#[test]
fn the_shipped_styles_stylise_a_small_photo() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    picture(64, 48, 2).save(&photo).unwrap();
    let listed = ok(&atelier(&["styles"]));
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 6, "{listed}");
    assert!(names.contains(&"starry-night"), "{listed}");
    let stylize = |style: &str, out: &str, extra: &[&str]| {
        let o = dir.path().join(out);
        ok(&atelier(
            &[
                &["stylize", p(&photo), "--style", style, "-o", p(&o)][..],
                extra,
            ]
            .concat(),
        ));
        image::open(&o).unwrap().to_rgb8()
    };
    let a = stylize("starry-night", "a.png", &[]);
    assert_eq!(a.dimensions(), (64, 48));
    let b = stylize("the-scream", "b.png", &[]);
    let diff = |x: &RgbImage, y: &RgbImage| {
        x.pixels()
            .zip(y.pixels())
            .map(|(p, q)| {
                (0..3)
                    .map(|c| (p.0[c] as f64 - q.0[c] as f64).abs())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (3.0 * x.len() as f64 / 3.0)
    };
    let original = image::open(&photo).unwrap().to_rgb8();
    assert!(diff(&a, &original) > 10.0, "stylised equals the photo");
    assert!(diff(&a, &b) > 5.0, "two styles gave the same image");
    // Strength 0 is the photo; a blend with all weight on one style is that style.
    let zero = stylize("starry-night", "z.png", &["--strength", "0"]);
    assert!(diff(&zero, &original) < 0.01);
    let blend = stylize(
        "starry-night,the-scream",
        "m.png",
        &["--style-weights", "1,0"],
    );
    assert_eq!(blend, a);
    // The network file itself, given explicitly.
    let c = stylize("starry-night", "c.png", &["--model", p(&shipped())]);
    assert_eq!(c, a);
}

#[test]
fn bad_stylize_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    picture(40, 40, 2).save(&photo).unwrap();
    let o = dir.path().join("o.png");
    let run = |extra: &[&str]| atelier(&[&["stylize", p(&photo), "-o", p(&o)][..], extra].concat());
    // An unknown name lists the available ones.
    fails_with(&run(&["--style", "mona-lisa"]), "unknown style 'mona-lisa'");
    fails_with(&run(&["--style", "mona-lisa"]), "starry-night");
    // Weights: one per style.
    fails_with(
        &run(&["--style", "starry-night,udnie", "--style-weights", "1"]),
        "--style-weights has 1 values for 2",
    );
    // A model file of another kind.
    let gan = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/kaokore-dcgan-64.safetensors");
    fails_with(
        &run(&["--style", "starry-night", "--model", p(&gan)]),
        "not a 'style-network'",
    );
    fails_with(
        &run(&["--style", "starry-night", "--strength", "1.5"]),
        "--strength",
    );
    // An image as the style with --method fast.
    fails_with(
        &run(&["--style", p(&photo), "--method", "fast"]),
        "any painting works with --method adain or optimize",
    );
}

#[test]
fn the_temporal_term_adds_to_the_first_step_loss() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture(dir.path(), 10);
    train(dir.path(), &fx, "plain", &["--steps", "2"]);
    train(
        dir.path(),
        &fx,
        "temporal",
        &["--steps", "2", "--temporal-weight", "100"],
    );
    // Same seed, same first batch, same initial network: only the term differs.
    let (a, b) = (
        losses(&dir.path().join("plain"))[0],
        losses(&dir.path().join("temporal"))[0],
    );
    assert!(b > a * 1.001, "with the temporal term {b}, without {a}");
    assert!(b.is_finite());
}

#[test]
fn fine_tuning_starts_from_the_trained_network() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture(dir.path(), 10);
    train(dir.path(), &fx, "base", &["--steps", "12"]);
    let model = dir.path().join("base").join("style-network.safetensors");
    train(
        dir.path(),
        &fx,
        "tuned",
        &["--steps", "2", "--fine-tune", p(&model)],
    );
    // Same seed, so the same first batch as the base run's first step: only the starting
    // weights differ, and trained ones fit it better.
    let (base, tuned) = (
        losses(&dir.path().join("base")),
        losses(&dir.path().join("tuned")),
    );
    assert!(
        tuned[0] < 0.9 * base[0],
        "fine-tuned first loss {} vs fresh {}",
        tuned[0],
        base[0]
    );

    // A network of another shape is refused before any training, naming both shapes.
    let (vgg, styles, photos) = &fx;
    let out = dir.path().join("bad");
    fails_with(
        &atelier(&[
            "train",
            "style",
            "--style",
            p(&styles[0]),
            "--content",
            p(photos),
            "--size",
            "32",
            "--width",
            "4",
            "--blocks",
            "1",
            "--outer-kernel",
            "3",
            "--vgg",
            p(vgg),
            "--steps",
            "1",
            "--out",
            p(&out),
            "--fine-tune",
            p(&model),
        ]),
        r#"that network is {"blocks":1,"outer_kernel":3,"styles":2,"width":4}; this run's flags describe {"blocks":1,"outer_kernel":3,"styles":1,"width":4}"#,
    );
}
