//! AdaIN end to end through the CLI: `train adain` on tiny synthetic data with a random
//! VGG16 (the loss falls; a run stopped and resumed matches a straight one), the trained
//! decoder through `stylize --method adain` with strength, blends and masks, the shipped
//! decoder on a 64 px photo, and the errors. Each run is its own process, so no test
//! shares burn's device RNG with another.

mod common;

use std::path::{Path, PathBuf};

use atelier::models::vgg::{VggArch, write_random_vgg_of};
use common::{atelier, atelier_with_log, fails_with, losses, ok, p, picture, shared_data};
use image::RgbImage;

struct Fixture {
    vgg: PathBuf,
    styles: [PathBuf; 2],
    photos: PathBuf,
}

/// A random VGG16 with `convs` layers (8 reach relu4_1), two paintings and four photos.
fn fixture(dir: &Path, convs: usize) -> Fixture {
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
    Fixture {
        vgg,
        styles,
        photos,
    }
}

fn train(dir: &Path, fx: &Fixture, run: &str, extra: &[&str]) -> String {
    let out = dir.join(run);
    let mut args = vec![
        "train",
        "adain",
        "--style",
        p(&fx.styles[0]),
        "--style",
        p(&fx.styles[1]),
        "--content",
        p(&fx.photos),
        "--size",
        "32",
        "--style-samples",
        "6",
        "--batch-size",
        "2",
        "--width",
        "8",
        "--lr",
        "0.002",
        "--vgg",
        p(&fx.vgg),
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

fn image_diff(x: &RgbImage, y: &RgbImage) -> f64 {
    x.pixels()
        .zip(y.pixels())
        .map(|(p, q)| {
            (0..3)
                .map(|c| (p.0[c] as f64 - q.0[c] as f64).abs())
                .sum::<f64>()
        })
        .sum::<f64>()
        / (3.0 * (x.width() * x.height()) as f64)
}

#[test]
fn training_lowers_the_loss_resumes_exactly_and_the_decoder_stylises() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture(dir.path(), 8);
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
    let model = run.join("adain-decoder.safetensors");
    assert!(model.exists());
    assert!(run.join("samples.png").exists());

    // --fine-tune starts from the trained decoder: the same first batch (same seed) fits
    // better. A decoder of another shape is refused, naming both.
    train(
        dir.path(),
        &fx,
        "tuned",
        &["--steps", "2", "--fine-tune", p(&model)],
    );
    let tuned = losses(&dir.path().join("tuned"));
    assert!(
        tuned[0] < 0.8 * straight[0],
        "fine-tuned first loss {} vs fresh {}",
        tuned[0],
        straight[0]
    );
    let wide = dir.path().join("wide");
    fails_with(
        &atelier(&[
            "train",
            "adain",
            "--style",
            p(&fx.styles[0]),
            "--content",
            p(&fx.photos),
            "--size",
            "32",
            "--width",
            "16",
            "--vgg",
            p(&fx.vgg),
            "--steps",
            "1",
            "--out",
            p(&wide),
            "--fine-tune",
            p(&model),
        ]),
        r#""width":8}; this run's flags describe {"arch":"Vgg16","depth":"relu4_1","width":16}"#,
    );

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

    // The trained decoder through the CLI.
    let photo = dir.path().join("photo.png");
    picture(48, 40, 2).save(&photo).unwrap();
    let stylize = |style: &str, out: &str, extra: &[&str]| {
        let o = dir.path().join(format!("out-{out}"));
        ok(&atelier(
            &[
                &[
                    "stylize",
                    p(&photo),
                    "--style",
                    style,
                    "--model",
                    p(&model),
                    "--vgg",
                    p(&fx.vgg),
                    "-o",
                    p(&o),
                ][..],
                extra,
            ]
            .concat(),
        ));
        image::open(&o).unwrap().to_rgb8()
    };
    let (sa, sb) = (p(&fx.styles[0]), p(&fx.styles[1]));
    // An image as the style with --model an AdaIN decoder: AdaIN without --method.
    let a = stylize(sa, "a.png", &[]);
    assert_eq!(a.dimensions(), (48, 40));
    let explicit = stylize(sa, "a2.png", &["--method", "adain"]);
    assert_eq!(a, explicit);
    let b = stylize(sb, "b.png", &[]);
    let zero = stylize(sa, "z.png", &["--strength", "0"]);
    assert!(image_diff(&a, &zero) > 0.5, "strength 0 and 1 agree");
    let both = format!("{sa},{sb}");
    let weighted = stylize(&both, "w.png", &["--style-weights", "1,0"]);
    assert_eq!(weighted, a);
    // A colour mask of another size: luminance, resized. White: the first style.
    let white = dir.path().join("white.png");
    RgbImage::from_pixel(17, 9, image::Rgb([255, 255, 255]))
        .save(&white)
        .unwrap();
    let masked = stylize(&both, "m.png", &["--mask", p(&white)]);
    assert!(
        image_diff(&masked, &a) < 0.5,
        "an all-white mask is style A"
    );
    let black = dir.path().join("black.png");
    RgbImage::from_pixel(48, 40, image::Rgb([0, 0, 0]))
        .save(&black)
        .unwrap();
    let masked = stylize(&both, "n.png", &["--mask", p(&black)]);
    assert!(
        image_diff(&masked, &b) < 0.5,
        "an all-black mask is style B"
    );

    // Errors: a mask with one style, a mask with another method, a VGG without relu4_1,
    // a VGG19 for a VGG16 decoder.
    let o = dir.path().join("o.png");
    let run = |extra: &[&str]| {
        atelier(
            &[
                &["stylize", p(&photo), "--model", p(&model), "-o", p(&o)][..],
                extra,
            ]
            .concat(),
        )
    };
    fails_with(
        &run(&["--style", sa, "--mask", p(&white), "--vgg", p(&fx.vgg)]),
        "--mask needs exactly two styles",
    );
    fails_with(
        &run(&["--style", "udnie", "--method", "fast", "--mask", p(&white)]),
        "--mask works with --method adain",
    );
    let short = dir.path().join("short.safetensors");
    write_random_vgg_of(VggArch::Vgg16, &short, 5, 3);
    fails_with(&run(&["--style", sa, "--vgg", p(&short)]), "relu4_1");
    let vgg19 = dir.path().join("vgg19.safetensors");
    write_random_vgg_of(VggArch::Vgg19, &vgg19, 10, 3);
    fails_with(
        &run(&["--style", sa, "--vgg", p(&vgg19)]),
        "trained against VGG16",
    );
    // A tiny style image is upscaled, with a warning.
    let tiny = dir.path().join("tiny.png");
    picture(12, 10, 0).save(&tiny).unwrap();
    let log = ok(&atelier_with_log(
        &[
            "stylize",
            p(&photo),
            "--style",
            p(&tiny),
            "--model",
            p(&model),
            "--vgg",
            p(&fx.vgg),
            "--style-size",
            "32",
            "-o",
            p(&o),
        ],
        "warn",
    ));
    assert!(log.contains("upscaled"), "{log}");
}

#[test]
fn bad_training_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A VGG16 that stops at conv3_3: relu4_1 is missing.
    let fx = fixture(dir.path(), 7);
    let out = dir.path().join("run");
    let base = [
        "train",
        "adain",
        "--content",
        p(&fx.photos),
        "--size",
        "32",
        "--vgg",
        p(&fx.vgg),
        "--out",
        p(&out),
        "--steps",
        "2",
        "--width",
        "8",
    ];
    let with = |extra: &[&str]| atelier(&[&base[..], extra].concat());
    fails_with(&with(&["--style", p(&fx.styles[0])]), "relu4_1");
    fails_with(
        &with(&["--style", p(&fx.styles[0]), "--depth", "relu4_2"]),
        "relu4_2",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails_with(&with(&["--style", p(&empty)]), "no images in");
}

#[test]
fn the_shipped_decoder_stylises_a_small_photo() {
    let Some(vgg) = shared_data("weights/vgg16-imagenet.safetensors") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    picture(64, 48, 2).save(&photo).unwrap();
    let style = dir.path().join("style.png");
    RgbImage::from_fn(96, 96, |x, y| {
        image::Rgb([
            200 - (x % 24) as u8 * 6,
            ((x + y) % 32) as u8 * 7,
            40 + (y % 16) as u8 * 12,
        ])
    })
    .save(&style)
    .unwrap();
    let o = dir.path().join("o.png");
    // The built-in decoder is the default for an image style.
    let log = ok(&atelier(&[
        "stylize",
        p(&photo),
        "--style",
        p(&style),
        "--vgg",
        p(&vgg),
        "-o",
        p(&o),
    ]));
    assert!(log.contains(" s)"), "AdaIN reports its time: {log}");
    let out = image::open(&o).unwrap().to_rgb8();
    assert_eq!(out.dimensions(), (64, 48));
    let original = image::open(&photo).unwrap().to_rgb8();
    assert!(
        image_diff(&out, &original) > 5.0,
        "stylised equals the photo"
    );
    // The lighter shipped decoder (relu3_1, width 32) is a `--model` away and paints
    // differently from the default one.
    let light =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/adain-decoder-light.safetensors");
    let lo = dir.path().join("light.png");
    ok(&atelier(&[
        "stylize",
        p(&photo),
        "--style",
        p(&style),
        "--model",
        p(&light),
        "--vgg",
        p(&vgg),
        "-o",
        p(&lo),
    ]));
    let light_out = image::open(&lo).unwrap().to_rgb8();
    assert_eq!(light_out.dimensions(), (64, 48));
    assert!(
        image_diff(&light_out, &original) > 5.0,
        "light equals the photo"
    );
    assert!(
        image_diff(&light_out, &out) > 1.0,
        "light equals the default"
    );
}
