//! The InceptionV3 FID network reproduces the reference features shipped with the weights.

mod common;

use atelier::models::inception::{FEATURE_DIM, InceptionFid};
use burn::prelude::*;

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
    let run = |real: &std::path::Path, fake: &std::path::Path| -> f64 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(["eval", "fid", "--json", "--real"])
            .arg(real)
            .arg("--fake")
            .arg(fake)
            .arg("--inception")
            .arg(w.join("inception-v3-fid.safetensors"))
            .env("ATELIER_CACHE", tmp.path().join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["value"].as_f64().unwrap()
    };
    let same = run(&a, &a);
    let other = run(&a, &b);
    assert!(same < 1e-3, "FID of a folder with itself: {same}");
    assert!(other > 10.0, "FID between two classes: {other}");
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

fn eval_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
        .arg("eval")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
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
    let v = eval_json(&[
        "pair".as_ref(),
        "--ref".as_ref(),
        r.as_os_str(),
        "--out".as_ref(),
        o.as_os_str(),
    ]);
    assert_eq!(v["n"], 3);
    assert!((v["l1"].as_f64().unwrap() - 0.2).abs() < 1e-9, "{v}");
    assert!(
        (v["psnr_db"].as_f64().unwrap() - 13.9794).abs() < 1e-3,
        "{v}"
    );
    assert!(v["ssim"].as_f64().unwrap() < 1.0);
    // Same folder: SSIM 1, PSNR infinite.
    let same = eval_json(&[
        "pair".as_ref(),
        "--ref".as_ref(),
        r.as_os_str(),
        "--out".as_ref(),
        r.as_os_str(),
    ]);
    assert!((same["ssim"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(same["psnr_db"], "inf");
    // An output without a reference.
    image::RgbImage::new(24, 16)
        .save(o.join("extra.png"))
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(["eval", "pair", "--ref"])
        .arg(&r)
        .arg("--out")
        .arg(&o)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("extra") && !err.contains("panicked"),
        "{err}"
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
    let args = |stylized: &std::path::Path| {
        eval_json(&[
            "style".as_ref(),
            "--content".as_ref(),
            content.as_os_str(),
            "--style".as_ref(),
            style.as_os_str(),
            "--stylized".as_ref(),
            stylized.as_os_str(),
            "--vgg".as_ref(),
            w.join("vgg19-imagenet-conv1_1-to-conv3_4.safetensors")
                .as_os_str(),
            "--inception".as_ref(),
            w.join("inception-v3-fid.safetensors").as_os_str(),
        ])
    };
    let photo = args(&stylized);
    assert!(
        photo["content_distance"].as_f64().unwrap() < 1e-6,
        "{photo}"
    );
    assert_eq!(photo["vgg_layers"], "relu1_1,relu2_1,relu3_1");
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
