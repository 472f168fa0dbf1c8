//! Benchmark: InceptionV3 FID feature extraction at 299x299 (batch 16), images per second.
//! `benches/reference/inception_features.py` builds the same network from the same spec in
//! PyTorch; `benches/run_inception_features.sh` runs both.
//!
//! cargo bench --bench inception_features [-- --batches N --inception FILE]

mod common;

use std::time::Instant;

use common::{arg, arg_or};

use atelier::metrics::features::locate_weights;
use atelier::models::inception::{INPUT_SIZE, InceptionFid};
use burn::prelude::*;

fn main() {
    let batches: usize = arg_or("--batches", 3);
    let batch = 16;
    let flag = arg("--inception").map(std::path::PathBuf::from);
    let (weights, spec) = locate_weights(flag.as_deref()).expect("InceptionV3 FID weights");
    let device = Device::flex();
    let net = InceptionFid::load(&weights, &spec, &device).expect("load InceptionV3");
    let s = INPUT_SIZE;
    let x = Tensor::<4>::random(
        [batch, 3, s, s],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let run = || {
        let f = net.features(x.clone());
        let _ = f.into_data();
    };
    run(); // warm-up
    let t = Instant::now();
    for _ in 0..batches {
        run();
    }
    let n = batch * batches;
    println!(
        "{{\"bench\":\"inception_fid_features\",\"framework\":\"atelier-burn-flex\",\"images\":{n},\"images_per_sec\":{:.2}}}",
        n as f64 / t.elapsed().as_secs_f64()
    );
}
