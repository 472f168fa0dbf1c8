//! Benchmark: one DCGAN 64 px training step (batch 16: one D step + one G step, Adam),
//! the networks of `atelier train gan --size 64` (width 64, z 128, spectral-norm D,
//! non-saturating loss). `benches/reference/dcgan_step.py` is the same step in PyTorch;
//! `benches/run_dcgan_step.sh` runs both and prints the ratio.
//!
//! cargo bench --bench dcgan_step [-- --steps N]

mod common;

use common::arg_or;

use atelier::data::Batch;
use atelier::losses::GanLoss;
use atelier::models::{DNorm, DcganDiscriminatorConfig, DcganGeneratorConfig};
use atelier::recipes::dcgan::DcganRecipe;
use atelier::util::rng::SeededRng;
use burn::prelude::*;

fn main() {
    let steps = arg_or("--steps", 10);
    let batch = 16;
    let size = 64;
    let device = Device::flex().autodiff();
    device.seed(0);
    let g_config = DcganGeneratorConfig::new(size);
    let g = g_config.init(&device);
    let d = DcganDiscriminatorConfig::new(size)
        .with_norm(DNorm::Spectral)
        .init(&device);
    let recipe = DcganRecipe {
        g_config,
        classes: vec![],
        loss: GanLoss::Ns,
        r1_gamma: 0.0,
        gp_weight: 0.0,
        penalty_dirs: 1,
        device: device.clone(),
        sample_count: 1,
        sample_seed: 0,
        command: String::new(),
    };
    let mut rng = SeededRng::new(0);
    let real = Batch {
        pixels: rng
            .normal_vec(batch * 3 * size * size)
            .iter()
            .map(|v| v.tanh())
            .collect(),
        labels: vec![0; batch],
        n: batch,
        size,
    };
    let ms = common::seconds_per_gan_step(&recipe, g, d, real, steps) * 1000.0;
    println!(
        "{{\"bench\":\"dcgan64_step\",\"framework\":\"atelier-burn-flex\",\"batch\":{batch},\"steps\":{steps},\"ms_per_step\":{ms:.1},\"images_per_sec\":{:.1}}}",
        batch as f64 * 1000.0 / ms
    );
}
