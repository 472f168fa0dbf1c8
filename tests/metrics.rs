//! The InceptionV3 FID network reproduces the reference features shipped with the weights.

mod common;

use std::path::Path;

use atelier::models::inception::{FEATURE_DIM, InceptionFid};
use burn::prelude::*;
use common::{atelier, atelier_with_cache, fails_with, ok, p};

#[test]
fn inception_matches_golden_features() {
    let Some(w) = common::shared_data("weights") else {
        return;
    };
    let device = Device::flex();
    let net = InceptionFid::load(
        &w.join("inception-v3-fid.safetensors"),
        &w.join("inception-v3-fid.spec.json"),
        &device,
    )
    .unwrap();
    let bytes = std::fs::read(w.join("inception-v3-fid.golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| common::f32_tensor(&st, name);
    let input = Tensor::<4>::from_data(TensorData::new(f32s("input"), [2, 3, 299, 299]), &device);
    let expect = f32s("features");
    let got: Vec<f32> = net.features(input).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(got.len(), 2 * FEATURE_DIM);
    let max = got
        .iter()
        .zip(&expect)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max < 1e-4,
        "max |difference| from the golden features: {max}"
    );
}

#[test]
fn eval_fid_of_a_folder_with_itself_is_zero_and_differs_from_another() {
    let Some(w) = common::shared_data("weights") else {
        return;
    };
    let Some(k) = common::shared_data("paintings/kaokore/train") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, class) in [(&a, "female-noble"), (&b, "male-warrior")] {
        std::fs::create_dir_all(dir).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(k.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files.iter().take(4) {
            std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let cache = tmp.path().join("cache");
    let inception = w.join("inception-v3-fid.safetensors");
    let run = |real: &Path, fake: &Path| -> f64 {
        let out = atelier_with_cache(
            &[
                "eval",
                "fid",
                "--json",
                "--real",
                p(real),
                "--fake",
                p(fake),
                "--inception",
                p(&inception),
            ],
            &cache,
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        v["value"].as_f64().unwrap()
    };
    let same = run(&a, &a);
    let other = run(&a, &b);
    assert!(same < 1e-3, "FID of a folder with itself: {same}");
    assert!(other > 10.0, "FID between two classes: {other}");
    let kid = |fake: &Path| -> serde_json::Value {
        let args = [
            "eval",
            "kid",
            "--json",
            "--real",
            p(&a),
            "--fake",
            p(fake),
            "--subsets",
            "5",
            "--subset-size",
            "4",
            "--inception",
            p(&inception),
        ];
        serde_json::from_str(&ok(&atelier_with_cache(&args, &cache))).unwrap()
    };
    let (kid_same, kid_other) = (kid(&a), kid(&b));
    let value = |v: &serde_json::Value| v["value"].as_f64().unwrap();
    // With 4 images per side the unbiased estimate of a set against itself is negative (its
    // cross term keeps the diagonal the within-set terms drop); the unit tests check ≈ 0 on
    // larger samples. Two classes must score clearly above it and above zero.
    assert!(value(&kid_other) > 0.05, "{kid_other}");
    assert!(
        value(&kid_other) > value(&kid_same) + 0.1,
        "{kid_same} {kid_other}"
    );
    assert_eq!(kid_other["subsets"], 5);
    // A generator's samples against the folder.
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/kaokore-dcgan-64.safetensors");
    let args = [
        "eval",
        "fid",
        "--json",
        "--real",
        p(&a),
        "--model",
        p(&model),
        "--n",
        "4",
        "--inception",
        p(&inception),
    ];
    let v: serde_json::Value =
        serde_json::from_str(&ok(&atelier_with_cache(&args, &cache))).unwrap();
    assert_eq!(v["n_fake"], 4);
    assert!(v["value"].as_f64().unwrap() > 0.0, "{v}");
    // The real folder's statistics were cached.
    assert!(
        tmp.path()
            .join("cache/fid-stats")
            .read_dir()
            .unwrap()
            .count()
            >= 1
    );
}

/// `atelier eval ARGS --json`, parsed.
fn eval_json(args: &[&str]) -> serde_json::Value {
    let out = atelier(&[&["eval"], args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn eval_pair_scores_matched_folders_and_reports_unmatched_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, o) = (tmp.path().join("ref"), tmp.path().join("out"));
    std::fs::create_dir_all(&r).unwrap();
    std::fs::create_dir_all(&o).unwrap();
    for i in 0..3u8 {
        let img = image::RgbImage::from_fn(24, 16, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 15) as u8, 40 * i])
        });
        img.save(r.join(format!("{i}.png"))).unwrap();
        // Every output pixel off by 51/255 = 0.2 (no clipping: all values stay in range).
        let off = image::RgbImage::from_fn(24, 16, |x, y| {
            image::Rgb(
                img.get_pixel(x, y)
                    .0
                    .map(|v| if v < 200 { v + 51 } else { v - 51 }),
            )
        });
        off.save(o.join(format!("{i}.png"))).unwrap();
    }
    let v = eval_json(&["pair", "--ref", p(&r), "--out", p(&o)]);
    assert_eq!(v["n"], 3);
    assert!((v["l1"].as_f64().unwrap() - 0.2).abs() < 1e-9, "{v}");
    assert!(
        (v["psnr_db"].as_f64().unwrap() - 13.9794).abs() < 1e-3,
        "{v}"
    );
    assert!(v["ssim"].as_f64().unwrap() < 1.0);
    // Same folder: SSIM 1, PSNR infinite.
    let same = eval_json(&["pair", "--ref", p(&r), "--out", p(&r)]);
    assert!((same["ssim"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(same["psnr_db"], "inf");
    // LPIPS, when its weights are here: positive for the shifted outputs, 0 for the same.
    if common::shared_data("weights/lpips-vgg16-lin.safetensors").is_some() {
        assert!(v["lpips"].as_f64().unwrap() > 0.0, "{v}");
        assert!(same["lpips"].as_f64().unwrap().abs() < 1e-9, "{same}");
    }
    // Without --json: a table with the same numbers.
    let table = ok(&atelier(&["eval", "pair", "--ref", p(&r), "--out", p(&o)]));
    assert!(
        table.contains("ssim") && table.contains("0.2000"),
        "{table}"
    );
    // An output without a reference.
    image::RgbImage::new(24, 16)
        .save(o.join("extra.png"))
        .unwrap();
    fails_with(
        &atelier(&["eval", "pair", "--ref", p(&r), "--out", p(&o)]),
        "extra",
    );
}

#[test]
fn eval_style_scores_content_kept_and_style_matched() {
    let (Some(w), Some(photos)) = (
        common::shared_data("weights"),
        common::shared_data("photos"),
    ) else {
        return;
    };
    let styles = photos.parent().unwrap().join("styles");
    let tmp = tempfile::tempdir().unwrap();
    let (content, style, stylized) = (
        tmp.path().join("content"),
        tmp.path().join("style"),
        tmp.path().join("stylized"),
    );
    for d in [&content, &style, &stylized] {
        std::fs::create_dir_all(d).unwrap();
    }
    let small = |src: &std::path::Path, dst: &std::path::Path| {
        image::open(src)
            .unwrap()
            .resize(96, 96, image::imageops::FilterType::Triangle)
            .to_rgb8()
            .save(dst)
            .unwrap();
    };
    for name in ["tubingen", "chicago"] {
        small(
            &photos.join(format!("{name}.jpg")),
            &content.join(format!("{name}.png")),
        );
        // "Stylised" = the photo itself: content distance 0.
        small(
            &photos.join(format!("{name}.jpg")),
            &stylized.join(format!("{name}.png")),
        );
    }
    for name in ["vangogh_starry_night", "hokusai_great_wave"] {
        small(
            &styles.join(format!("{name}.jpg")),
            &style.join(format!("{name}.png")),
        );
    }
    let (vgg, inception) = (
        w.join("vgg19-imagenet-conv1_1-to-conv3_4.safetensors"),
        w.join("inception-v3-fid.safetensors"),
    );
    let args = |stylized: &Path| {
        eval_json(&[
            "style",
            "--content",
            p(&content),
            "--style",
            p(&style),
            "--stylized",
            p(stylized),
            "--vgg",
            p(&vgg),
            "--inception",
            p(&inception),
        ])
    };
    let photo = args(&stylized);
    assert!(
        photo["content_distance"].as_f64().unwrap() < 1e-6,
        "{photo}"
    );
    assert_eq!(photo["vgg_layers"], "relu1_1,relu2_1,relu3_1");
    assert_eq!(photo["content_metric"], "lpips", "{photo}");
    // "Stylised" = the style images themselves under the content names: style distance
    // drops, content distance rises.
    small(
        &style.join("vangogh_starry_night.png"),
        &stylized.join("tubingen.png"),
    );
    small(
        &style.join("hokusai_great_wave.png"),
        &stylized.join("chicago.png"),
    );
    let painting = args(&stylized);
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    assert!(f(&painting, "content_distance") > 0.1, "{painting}");
    assert!(
        f(&painting, "gram_distance") < f(&photo, "gram_distance"),
        "{photo} {painting}"
    );
    assert!(
        f(&painting, "fid_to_style") < f(&photo, "fid_to_style"),
        "{photo} {painting}"
    );
    let want = (1.0 + f(&painting, "content_distance")) * (1.0 + f(&painting, "fid_to_style"));
    assert!((f(&painting, "art_fid") - want).abs() < 1e-6 * want);
}

/// LPIPS v0.1 (VGG16 + the official linear layers) reproduces the distances PyTorch
/// computed for the LPIPS repository's example images, and is 0 between an image and itself.
#[test]
fn lpips_matches_the_golden_distances() {
    let (Some(golden), Some(vgg16), Some(lin)) = (
        common::shared_data("weights/lpips-golden"),
        common::shared_data("weights/vgg16-imagenet.safetensors"),
        common::shared_data("weights/lpips-vgg16-lin.safetensors"),
    ) else {
        return;
    };
    let device = burn::prelude::Device::flex();
    let lpips = atelier::metrics::lpips::Lpips::load(&vgg16, &lin, &device).unwrap();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden.join("lpips-golden.json")).unwrap()).unwrap();
    let img = |name: &str| image::open(golden.join(name)).unwrap().to_rgb8();
    let pairs = spec["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    for pair in pairs {
        let (a, b) = (
            img(pair["a"].as_str().unwrap()),
            img(pair["b"].as_str().unwrap()),
        );
        let want = pair["lpips"].as_f64().unwrap();
        let got = lpips.distance(&a, &b).unwrap();
        eprintln!("LPIPS {}: {got:.7} (golden {want:.7})", pair["b"]);
        assert!((got - want).abs() < 1e-4, "{}: {got} vs {want}", pair["b"]);
        assert!(lpips.distance(&a, &a).unwrap().abs() < 1e-9);
    }
    // The truncated VGG19 is no LPIPS backbone; a size mismatch is an error.
    if let Some(v19) = common::shared_data("weights/vgg19-imagenet-conv1_1-to-conv3_4.safetensors")
    {
        let err = atelier::metrics::lpips::Lpips::load(&v19, &lin, &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("needs VGG16"), "{err}");
    }
    let small = image::RgbImage::new(32, 32);
    assert!(lpips.distance(&img("ex_ref.png"), &small).is_err());
}
