//! Benchmark: AdaIN stylisation of one photo (default 1024x768) with one painting (512x512):
//! the painting's encoder pass, the photo's encoder pass, AdaIN, the decoder, image in and
//! out of the device included. The encoder is a VGG16 to the decoder's depth with random
//! weights (timing does not depend on them); the decoder is `--model FILE` or a random one of
//! `--depth`/`--width`. `benches/reference/adain.py` is the identical network in PyTorch;
//! `benches/run_adain.sh` runs both.
//!
//! cargo bench --bench adain [-- --model FILE | --depth relu4_1 --width 64]
//!     [--size 1024x768] [--iters N] [--tile 1024]

mod common;

use std::time::Instant;

use common::{arg, arg_or, median_seconds, size_arg};

use atelier::models::adain::{AdainDecoderConfig, AdainModel, LoadedAdain};
use atelier::models::vgg::{VggArch, VggConfig, write_random_vgg_of};
use atelier::tasks::adain_style::{AdainOptions, stylize_adain};
use burn::prelude::*;

fn main() {
    let device = Device::flex();
    let iters: usize = arg_or("--iters", 5);
    let (w, h) = size_arg((1024, 768));
    let (decoder, config) = match arg("--model") {
        Some(path) => {
            let l = LoadedAdain::load(std::path::Path::new(&path), &device)
                .expect("load the AdaIN decoder");
            (l.decoder, l.meta.decoder)
        }
        None => {
            let c = AdainDecoderConfig::new()
                .with_depth(arg("--depth").unwrap_or_else(|| "relu4_1".into()))
                .with_width(arg_or("--width", 64));
            (c.init(&device), c)
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let vgg_path = dir.path().join("vgg16.safetensors");
    let layer = config.layer().expect("valid depth");
    let convs = VggArch::Vgg16.conv_index(layer).expect("VGG16 layer") + 1;
    write_random_vgg_of(VggArch::Vgg16, &vgg_path, convs, 1);
    let vgg = VggConfig::new()
        .load(&vgg_path, &device)
        .expect("load the VGG");
    let model = AdainModel {
        encoder: &vgg,
        decoder: &decoder,
        config: &config,
    };
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * 3 + y) % 256) as u8])
    });
    let style = image::RgbImage::from_fn(512, 512, |x, y| {
        image::Rgb([(y % 239) as u8, ((x + y) % 256) as u8, (x % 233) as u8])
    });
    let opts = AdainOptions {
        styles: vec![(style, 1.0)],
        mask: None,
        strength: 1.0,
        preserve_color: None,
        style_size: 512,
        tile: arg_or("--tile", 0),
    };
    let run = || {
        let t = Instant::now();
        let out = stylize_adain(&model, &img, &opts, &device).expect("stylise");
        assert_eq!(out.dimensions(), (w, h));
        t.elapsed().as_secs_f64()
    };
    let median = median_seconds(iters, run);
    let (enc, dec) = config.macs_per_pixel();
    let gmacs = ((enc + dec) * (w * h) as f64 + enc * 512.0 * 512.0) / 1e9;
    println!(
        "{}",
        serde_json::json!({
            "bench": format!("adain_{w}x{h}"),
            "depth": config.depth,
            "width": config.width,
            "gmacs": (gmacs * 10.0).round() / 10.0,
            "ms_per_image": (median * 1e4).round() / 10.0,
            "gflops_per_sec": (2.0 * gmacs / median * 10.0).round() / 10.0,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}
