//! Benchmark: feed-forward stylisation of one image (default 1024x768) with a style
//! network, forward only, image in and out of the device included. With `--model FILE`
//! the shipped (or any trained) network; otherwise a randomly initialised network of the
//! given shape (the speed/quality table measures several). `benches/reference/fast_style.py`
//! is the identical network in PyTorch; `benches/run_fast_style.sh` runs both.
//!
//! cargo bench --bench fast_style [-- --model FILE | --width 32 --blocks 5 --outer-kernel 9]
//!     [--size 1024x768] [--iters N] [--tile 512]

mod common;

use std::time::Instant;

use common::{arg, arg_or, median_seconds, size_arg};

use atelier::models::style_net::{LoadedStyleNet, StyleNetConfig, style_mix};
use atelier::tasks::fast_style::stylize_tiled;
use burn::prelude::*;

fn main() {
    let device = Device::flex();
    let iters: usize = arg_or("--iters", 5);
    let (w, h) = size_arg((1024, 768));
    let (net, config) = match arg("--model") {
        Some(path) => {
            let loaded = LoadedStyleNet::load(std::path::Path::new(&path), &device)
                .expect("load the style network");
            let c = loaded.meta.network.clone();
            (loaded.net, c)
        }
        None => {
            let c = StyleNetConfig::new(1)
                .with_width(arg_or("--width", 32))
                .with_blocks(arg_or("--blocks", 5))
                .with_outer_kernel(arg_or("--outer-kernel", 9));
            (c.init(&device), c)
        }
    };
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * 3 + y) % 256) as u8])
    });
    let mix = style_mix(config.styles, &[(0, 1.0)], &device);
    let tile: usize = arg_or("--tile", 0);
    let run = || {
        let t = Instant::now();
        let out = stylize_tiled(&net, &img, &mix, tile, None, &device);
        assert_eq!(out.dimensions(), (w, h));
        t.elapsed().as_secs_f64()
    };
    let median = median_seconds(iters, run);
    println!(
        "{}",
        serde_json::json!({
            "bench": format!("fast_style_{w}x{h}"),
            "width": config.width,
            "blocks": config.blocks,
            "outer_kernel": config.outer_kernel,
            "gmacs": (config.macs_per_pixel() * (w * h) as u64) as f64 / 1e9,
            "ms_per_image": (median * 1e4).round() / 10.0,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}
