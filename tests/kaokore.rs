//! Checks on real data from `../shared/data` (skipped with a message when it is absent
//! outside CI), and on the KaoKore generator shipped in `models/`.

mod common;

use atelier::device::DeviceChoice;
use atelier::tasks::generate::{LoadedGenerator, default_model_path};
use burn::prelude::*;

#[test]
fn kaokore_smoke_run() {
    let Some(data) = common::shared_data("paintings/kaokore/train") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let args = [
        "atelier",
        "train",
        "gan",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--size",
        "64",
        "--width",
        "8",
        "--batch-size",
        "8",
        "--steps",
        "2",
        "--conditional",
        "--sample-count",
        "8",
        "--quiet",
    ];
    let cli = <atelier::cli::Cli as clap::Parser>::parse_from(args);
    let atelier::cli::Command::Train(atelier::cli::train::TrainCommand::Gan(a)) = cli.command
    else {
        unreachable!()
    };
    let launch = atelier::tasks::training::Launch::new(&out, false, DeviceChoice::Cpu);
    let o = atelier::tasks::train_gan::train_gan(&a, &launch).unwrap();
    assert_eq!(o.final_step, 2);
    assert!(o.losses.iter().all(|l| l.1.is_finite() && l.2.is_finite()));
    let g = LoadedGenerator::load(&o.model_file, &Device::flex()).unwrap();
    assert_eq!(g.classes.len(), 8, "KaoKore has 8 classes: {:?}", g.classes);
    assert!(g.classes.contains(&"female-noble".to_string()));
}

fn pixels(img: &image::RgbImage) -> Vec<f32> {
    img.as_raw().iter().map(|&v| v as f32 / 255.0).collect()
}

fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f32 {
    let (a, b) = (pixels(a), pixels(b));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[test]
fn the_shipped_generator_makes_varied_class_conditional_images() {
    let path = default_model_path();
    assert!(
        path.exists(),
        "the shipped model {} is missing",
        path.display()
    );
    let g = LoadedGenerator::load(&path, &Device::flex()).unwrap();
    assert_eq!(g.classes.len(), 8);
    assert_eq!(g.size, 64);
    assert!(
        g.trained_with
            .as_deref()
            .unwrap_or("")
            .contains("train gan")
    );
    let imgs = g.generate(8, Some(g.class_index("female-noble").unwrap()), 1, None);
    // Not one repeated face: samples differ clearly from each other.
    let mut min_diff = f32::MAX;
    for i in 0..imgs.len() {
        for j in i + 1..imgs.len() {
            min_diff = min_diff.min(mean_abs_diff(&imgs[i], &imgs[j]));
        }
    }
    assert!(
        min_diff > 0.02,
        "near-identical samples (mean |diff| {min_diff})"
    );
    // Not noise: neighbouring pixels are strongly correlated, as in paintings.
    for img in &imgs {
        let (w, h) = img.dimensions();
        let mut d = 0.0f32;
        let mut n = 0.0f32;
        for y in 0..h {
            for x in 1..w {
                let a = img.get_pixel(x, y).0;
                let b = img.get_pixel(x - 1, y).0;
                d += (0..3)
                    .map(|c| (a[c] as f32 - b[c] as f32).abs())
                    .sum::<f32>()
                    / 3.0;
                n += 1.0;
            }
        }
        assert!(
            d / n < 25.0,
            "mean neighbour difference {} looks like noise",
            d / n
        );
    }
}
