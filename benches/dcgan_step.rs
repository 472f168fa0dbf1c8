//! Benchmark: one DCGAN 64 px training step (batch 16: one D step + one G step, Adam),
//! the networks of `atelier train gan --size 64` (width 64, z 128, spectral-norm D,
//! non-saturating loss). `benches/reference/dcgan_step.py` is the same step in PyTorch;
//! `benches/run_dcgan_step.sh` runs both and prints the ratio.
//!
//! `--arch stylegan2` times the StyleGAN2 networks of `train gan --arch stylegan2` instead
//! (width 32, DiffAugment, no R1: lazy R1 adds about 1/16 of a D step's penalty passes).
//!
//! cargo bench --bench dcgan_step [-- --steps N] [--arch stylegan2|fastgan [--width W]]

mod common;

use common::arg_or;

use atelier::data::Batch;
use atelier::losses::GanLoss;
use atelier::models::fastgan::{FastGanDiscriminatorConfig, FastGanGeneratorConfig};
use atelier::models::generator::{ImageCritic, ImageGenerator};
use atelier::models::model_file::ModelMeta;
use atelier::models::stylegan2::{ResidualDiscriminatorConfig, StyleGan2GeneratorConfig};
use atelier::models::{DNorm, DcganDiscriminatorConfig, DcganGeneratorConfig};
use atelier::recipes::generation::GenerationRecipe;
use atelier::util::rng::SeededRng;
use burn::prelude::*;

fn main() {
    let steps = arg_or("--steps", 10);
    let arch = common::arg("--arch").unwrap_or_else(|| "dcgan".into());
    let batch = 16;
    let size = 64;
    let device = Device::flex().autodiff();
    device.seed(0);
    match arch.as_str() {
        "stylegan2" => {
            let width = arg_or("--width", 32);
            let g = StyleGan2GeneratorConfig::new(size)
                .with_width(width)
                .init(&device);
            let d = ResidualDiscriminatorConfig::new(size)
                .with_width(width)
                .init(&device);
            let mut recipe = GenerationRecipe::new(ModelMeta::default(), 0, GanLoss::Ns, &device);
            recipe.augment = "all".parse().expect("a policy");
            time(&recipe, g, d, "stylegan2_64_step", steps, batch, size);
        }
        "fastgan" => {
            let width = arg_or("--width", 16);
            let g = FastGanGeneratorConfig::new(size)
                .with_width(width)
                .init(&device);
            let d = FastGanDiscriminatorConfig::new(size)
                .with_width(width)
                .init(&device);
            let mut recipe =
                GenerationRecipe::new(ModelMeta::default(), 0, GanLoss::Hinge, &device);
            recipe.augment = "all".parse().expect("a policy");
            time(&recipe, g, d, "fastgan_64_step", steps, batch, size);
        }
        _ => {
            let g = DcganGeneratorConfig::new(size).init(&device);
            let d = DcganDiscriminatorConfig::new(size)
                .with_norm(DNorm::Spectral)
                .init(&device);
            let recipe = GenerationRecipe::new(ModelMeta::default(), 0, GanLoss::Ns, &device);
            time(&recipe, g, d, "dcgan64_step", steps, batch, size);
        }
    }
}

fn time<G: ImageGenerator, D: ImageCritic>(
    recipe: &GenerationRecipe<G, D>,
    g: G,
    d: D,
    name: &str,
    steps: usize,
    batch: usize,
    size: usize,
) {
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
    let ms = common::seconds_per_gan_step(recipe, g, d, real, steps) * 1000.0;
    println!(
        "{{\"bench\":\"{name}\",\"framework\":\"atelier-burn-flex\",\"batch\":{batch},\"steps\":{steps},\"ms_per_step\":{ms:.1},\"images_per_sec\":{:.1}}}",
        batch as f64 * 1000.0 / ms
    );
}
