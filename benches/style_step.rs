//! Benchmark: one style-transfer iteration (VGG19 forward to relu3_2, Gram matrices, style,
//! content and TV losses, backward to the image, gradient back on the host) at 256 and 512
//! px, with the default layers of the shared truncated VGG19. `benches/reference/style_step.py`
//! is the same iteration in PyTorch; `benches/run_style_step.sh` runs both.
//!
//! cargo bench --bench style_step [-- --iters N --vgg FILE]

mod common;

use std::time::Instant;

use common::{arg, arg_or};

use atelier::losses::style_objective::{
    ImageObjective, LayerChoice, LossWeights, Targets, style_targets,
};
use atelier::models::vgg::VggConfig;
use atelier::optim::image::noise_image;
use atelier::weights::VGG19;
use burn::prelude::*;

fn main() {
    let iters: usize = arg_or("--iters", 5);
    let path = VGG19
        .locate(arg("--vgg").as_deref().map(std::path::Path::new))
        .expect("VGG19 weights (pass --vgg FILE)");
    let device = Device::flex().autodiff();
    let vgg = VggConfig::new().load(&path, &device).expect("load VGG19");
    // The shared file's defaults; the PyTorch script uses the same layers.
    let mut layers = LayerChoice::defaults_for(&vgg);
    if vgg.is_full() {
        layers = LayerChoice {
            style: ["relu1_1", "relu2_1", "relu3_1"]
                .map(|s| s.parse().unwrap())
                .to_vec(),
            style_weights: vec![1.0; 3],
            content: vec!["relu3_2".parse().unwrap()],
        };
    }
    for size in [256u32, 512] {
        let n = (3 * size * size) as usize;
        let px = |seed| {
            Tensor::<4>::from_data(
                TensorData::new(noise_image(n, seed), [1, 3, size as usize, size as usize]),
                &device,
            )
        };
        let style_img = image::RgbImage::from_fn(size, size, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let targets = Targets::new(
            vgg.features(px(1), &layers.content)
                .unwrap()
                .into_iter()
                .map(|t| t.detach())
                .collect(),
            style_targets(&vgg, &layers.style, &[(style_img, 1.0)], &device).unwrap(),
        );
        let weights = LossWeights {
            content: 1.0,
            style: 1e4,
            tv: 10.0,
        };
        // As `optim::image::optimize` does around its iterations.
        let _keep = atelier::alloc::KeepFreedMemory::new();
        let mut obj = ImageObjective::new(&vgg, &layers, &targets, weights, size, size);
        let x = noise_image(n, 2);
        obj.eval(&x).unwrap(); // warm-up
        let t = Instant::now();
        for _ in 0..iters {
            obj.eval(&x).unwrap();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / iters as f64;
        println!(
            "{{\"bench\":\"style_iter_{size}\",\"framework\":\"atelier-burn-flex\",\"iters\":{iters},\"ms_per_iter\":{ms:.1}}}"
        );
    }
}
