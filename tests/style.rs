//! Style transfer and texture synthesis against the shared truncated VGG19: the network
//! itself, its layer bookkeeping, and the `stylize` / `texture` commands with their errors.

mod common;

use std::path::{Path, PathBuf};

use atelier::models::vgg::{VggArch, VggConfig, VggLayer};
use burn::prelude::*;
use common::{atelier, f32_tensor, fails_with, p as s};

fn shared_vgg() -> Option<PathBuf> {
    common::shared_data("weights/vgg19-imagenet-conv1_1-to-conv3_4.safetensors")
}

#[test]
fn conv1_1_matches_a_direct_convolution() {
    let Some(path) = shared_vgg() else { return };
    let device = Device::flex();
    let vgg = VggConfig::new().load(&path, &device).unwrap();
    assert_eq!(vgg.net.convs.len(), 8, "the shared file stops at conv3_4");

    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (w, b) = (
        f32_tensor(&st, "features.0.weight"),
        f32_tensor(&st, "features.0.bias"),
    );

    let (h, wd) = (6usize, 7usize);
    let px: Vec<f32> = (0..3 * h * wd)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(px.clone(), [1, 3, h, wd]), &device);
    let conv = vgg.features(x, &["conv1_1".parse().unwrap()]).unwrap();
    assert_eq!(conv[0].dims(), [1, 64, h, wd]);
    let got = conv[0].clone().into_data().try_to_vec::<f32>().unwrap();

    let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
    let input = |c: usize, y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= h as isize || x >= wd as isize {
            return 0.0; // zero padding happens after normalisation
        }
        (px[c * h * wd + y as usize * wd + x as usize] - mean[c]) / std[c]
    };
    for &(o, y, xx) in &[(0usize, 0usize, 0usize), (5, 2, 3), (63, 5, 6), (31, 3, 0)] {
        let mut want = b[o] as f64;
        for c in 0..3 {
            for ky in 0..3 {
                for kx in 0..3 {
                    let wv = w[((o * 3 + c) * 3 + ky) * 3 + kx];
                    want += wv as f64
                        * input(
                            c,
                            y as isize + ky as isize - 1,
                            xx as isize + kx as isize - 1,
                        ) as f64;
                }
            }
        }
        let g = got[(o * h + y) * wd + xx] as f64;
        assert!(
            (g - want).abs() < 1e-4,
            "channel {o} at ({y},{xx}): {g} vs {want}"
        );
    }
}

#[test]
fn a_missing_layer_names_the_file_the_layer_and_what_exists() {
    let Some(path) = shared_vgg() else { return };
    let vgg = VggConfig::new().load(&path, &Device::flex()).unwrap();
    let x = Tensor::<4>::zeros([1, 3, 32, 32], &Device::flex());
    let err = vgg
        .features(x, &[VggLayer::relu(4, 1)])
        .unwrap_err()
        .to_string();
    for part in [
        "relu4_1",
        "vgg19-imagenet-conv1_1-to-conv3_4.safetensors",
        "relu3_4",
        "conv1_1",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
}

#[test]
fn stylize_and_texture_commands_end_to_end() {
    let (Some(vgg), Some(data)) = (shared_vgg(), common::shared_data("photos")) else {
        return;
    };
    let styles = data.parent().unwrap().join("styles");
    let content = data.join("tubingen.jpg");
    let starry = styles.join("vangogh_starry_night.jpg");
    let wave = styles.join("hokusai_great_wave.jpg");
    let style_list = format!("{},{}", s(&starry), s(&wave));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.png");
    // A small, short stylisation of tubingen written to `to`, plus `extra` flags.
    let stylize_to = |to: &Path, extra: &[&str]| {
        let mut a = vec![
            "stylize",
            "--method",
            "optimize",
            s(&content),
            "--vgg",
            s(&vgg),
            "--size",
            "64",
            "--iters",
            "4",
            "-o",
            s(to),
        ];
        a.extend_from_slice(extra);
        atelier(&a)
    };
    let base = |extra: &[&str]| stylize_to(&out, extra);

    // Two styles blended, colour kept, intermediate saves.
    let r = base(&[
        "--style",
        &style_list,
        "--style-weights",
        "0.7,0.3",
        "--preserve-color",
        "--save-every",
        "2",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let img = image::open(&out).unwrap();
    // tubingen is 4:3 landscape.
    assert_eq!((img.width(), img.height()), (64, 48));
    assert!(dir.path().join("out-s1-i0002.png").exists());

    // Random init is seeded: two runs agree, another seed differs. Two scales, a smaller
    // style, histogram colour matching, and Adam from the style image also run.
    let seeded = |seed: &str, name: &str| {
        let path = dir.path().join(name);
        let flags = [
            "--style",
            s(&starry),
            "--init",
            "random",
            "--seed",
            seed,
            "--scales",
            "2",
            "--style-scale",
            "0.5",
            "--preserve-color",
            "histogram",
        ];
        assert!(stylize_to(&path, &flags).status.success());
        image::open(&path).unwrap().to_rgb8()
    };
    let (first, again, other) = (
        seeded("3", "a.png"),
        seeded("3", "b.png"),
        seeded("4", "c.png"),
    );
    assert_eq!((first.width(), first.height()), (64, 48));
    assert!(first == again, "same seed, different images");
    assert!(first != other, "the seed changed nothing");
    let r = base(&[
        "--style",
        s(&wave),
        "--init",
        "style",
        "--optimizer",
        "adam",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    // The help says which layers are used with which file.
    let help = String::from_utf8_lossy(&atelier(&["stylize", "--help"]).stdout).to_string();
    for part in ["relu3_2", "relu4_2", "relu5_1"] {
        assert!(help.contains(part), "'{part}' missing from --help");
    }

    // Bad input: each a clear error.
    fails_with(
        &base(&["--style", &style_list, "--style-weights", "1"]),
        "--style-weights has 1 values for 2 style images",
    );
    let with_weights = |vgg: &str| {
        atelier(&[
            "stylize",
            "--method",
            "optimize",
            s(&content),
            "--style",
            s(&starry),
            "--vgg",
            vgg,
            "-o",
            s(&out),
        ])
    };
    fails_with(
        &with_weights("/nonexistent/vgg.pth"),
        "/nonexistent/vgg.pth",
    );
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage").unwrap();
    fails_with(&with_weights(s(&corrupt)), "corrupt.safetensors");
    fails_with(
        &base(&["--style", s(&starry), "--content-layers", "relu4_2"]),
        "relu4_2",
    );
    fails_with(
        &atelier(&[
            "stylize",
            "--method",
            "optimize",
            s(&content),
            "--style",
            s(&starry),
            "--vgg",
            s(&vgg),
            "--size",
            "8000",
            "--max-memory-gb",
            "4",
            "-o",
            s(&out),
        ]),
        "GiB",
    );
    // An absurd Adam step sends the pixels to ±1e30: the features overflow, and the run
    // must stop with a message, not write garbage.
    fails_with(
        &base(&["--style", s(&starry), "--optimizer", "adam", "--lr", "1e30"]),
        "diverged",
    );

    // A tileable texture.
    let tex = dir.path().join("tex.png");
    let r = atelier(&[
        "texture",
        "--exemplar",
        s(&wave),
        "--vgg",
        s(&vgg),
        "--size",
        "30x18",
        "--tileable",
        "--iters",
        "3",
        "-o",
        s(&tex),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let t = image::open(&tex).unwrap();
    // Rounded up to a multiple of 4 (two poolings before relu3_1).
    assert_eq!((t.width(), t.height()), (32, 20));
}

/// The shared full VGG16 (f16): recognised as VGG16, all 13 convs, the classic Gatys
/// layers available; relu4_2 exists in it but not in the truncated VGG19, whose error names
/// the file and its layers.
#[test]
fn vgg16_is_found_beside_vgg19_with_its_deep_layers() {
    let (Some(v16), Some(v19)) = (
        common::shared_data("weights/vgg16-imagenet.safetensors"),
        shared_vgg(),
    ) else {
        return;
    };
    let device = Device::flex();
    let vgg = VggConfig::new().load(&v16, &device).unwrap();
    assert_eq!(vgg.arch, VggArch::Vgg16);
    assert_eq!(vgg.net.convs.len(), 13);
    assert!(vgg.is_full());
    let relu42: VggLayer = "relu4_2".parse().unwrap();
    let x = Tensor::<4>::ones([1, 3, 32, 32], &device).mul_scalar(0.5);
    let f = vgg
        .features(x.clone(), &[relu42, VggLayer::relu(5, 3)])
        .unwrap();
    assert_eq!(f[0].dims(), [1, 512, 4, 4]);
    assert_eq!(f[1].dims(), [1, 512, 2, 2]);
    let v = f[0].clone().into_data().try_to_vec::<f32>().unwrap();
    assert!(v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x > 0.0));
    let layers = atelier::losses::style_objective::LayerChoice::defaults_for(&vgg);
    assert_eq!(layers.content, vec![relu42]);
    assert_eq!(layers.style.len(), 5);

    let truncated = VggConfig::new().load(&v19, &device).unwrap();
    assert_eq!(truncated.arch, VggArch::Vgg19);
    let err = truncated.features(x, &[relu42]).unwrap_err().to_string();
    for part in [
        "relu4_2",
        "vgg19-imagenet-conv1_1-to-conv3_4.safetensors",
        "relu3_4",
        "conv1_1",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
}
