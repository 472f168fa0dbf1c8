//! Benchmark: one CycleGAN 128 px training step (batch 1): both discriminators' update
//! (fakes through the 50-image pool) and both generators' update (adversarial, cycle and
//! identity terms), Adam. The networks of `atelier train translate --mode unpaired
//! --size 128`: ResNet generators (width 64, 6 blocks, resize-conv up-sampling) and 70x70
//! PatchGANs. `benches/reference/cyclegan_step.py` is the same step in PyTorch;
//! `benches/run_cyclegan_step.sh` runs both and prints the ratio.
//!
//! cargo bench --bench cyclegan_step [-- --steps N]

mod common;

use common::arg_or;

use atelier::data::translation::PairBatch;
use atelier::models::patchgan::PatchDiscriminatorConfig;
use atelier::models::translator::TranslatorMeta;
use atelier::models::translator::{GeneratorArch, TranslatorConfig};
use atelier::recipes::cyclegan::{CycleDiscriminators, CycleGenerators, CycleRecipe};
use atelier::util::rng::SeededRng;
use burn::prelude::*;

fn main() {
    let steps = arg_or("--steps", 5);
    let size = 128;
    let device = Device::flex().autodiff();
    device.seed(0);
    let g_config = TranslatorConfig::new(GeneratorArch::Resnet)
        .with_width(64)
        .with_blocks(6);
    let d_config = PatchDiscriminatorConfig::new();
    let g = CycleGenerators {
        ab: g_config.init(&device),
        ba: g_config.init(&device),
    };
    let d = CycleDiscriminators {
        a: d_config.init(&device),
        b: d_config.init(&device),
    };
    let meta = TranslatorMeta {
        generator: g_config,
        task: "bench".into(),
        size,
    };
    let recipe = CycleRecipe::new(meta, 50, device.clone(), (vec![], vec![]), String::new());
    let mut rng = SeededRng::new(0);
    let mut pixels = || -> Vec<f32> {
        rng.normal_vec(3 * size * size)
            .iter()
            .map(|v| v.tanh())
            .collect()
    };
    let batch = PairBatch {
        a: pixels(),
        b: pixels(),
        n: 1,
        size,
    };
    let ms = common::seconds_per_gan_step(&recipe, g, d, batch, steps) * 1000.0;
    println!(
        "{{\"bench\":\"cyclegan128_step\",\"framework\":\"atelier-burn-flex\",\"batch\":1,\"steps\":{steps},\"ms_per_step\":{ms:.1}}}"
    );
}
