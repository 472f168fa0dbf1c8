//! The engine's single-network path (what style networks and AdaIN decoders train on): a
//! 1x1 convolution learns colour inversion through `train::run` with `SingleStep`; the loss
//! falls, and a run stopped and resumed matches an uninterrupted one exactly.

use std::path::Path;

use atelier::imaging::{Range, tensor_to_images};
use atelier::models::model_file::{ModelMeta, save_model};
use atelier::train::{
    BatchStream, RunConfig, RunOptions, RunRecipe, SingleRecipe, SingleStepConfig, StepLosses,
    TrainOutcome, run_single,
};
use atelier::util::rng::SeededRng;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

struct Invert {
    device: Device,
}

/// Batch `b` of 4 random 8x8 images in [-1, 1], a pure function of `b`.
struct Noise {
    position: u64,
    device: Device,
}

impl BatchStream for Noise {
    type Item = Tensor<4>;
    fn next_batch(&mut self) -> Tensor<4> {
        let v: Vec<f32> = SeededRng::new(self.position)
            .normal_vec(4 * 3 * 8 * 8)
            .into_iter()
            .map(|z| z.clamp(-1.0, 1.0))
            .collect();
        self.position += 1;
        Tensor::from_data(TensorData::new(v, [4, 3, 8, 8]), &self.device)
    }
    fn position(&self) -> u64 {
        self.position
    }
}

impl RunRecipe for Invert {
    type Net = Conv2d;
    fn sample_sheet(&self, net: &Conv2d) -> atelier::Result<image::RgbImage> {
        let x = Tensor::<4>::ones([1, 3, 8, 8], &self.device.clone().without_autodiff());
        Ok(tensor_to_images(net.forward(x).clamp(-1.0, 1.0), Range::Signed).remove(0))
    }
    fn export(&self, net: &Conv2d, path: &Path) -> atelier::Result<()> {
        let meta = ModelMeta {
            kind: "test-inverter".into(),
            config_json: "{}".into(),
            classes: vec![],
            trained_with: None,
        };
        save_model(net, &meta, path)
    }
    fn model_file_name(&self) -> &'static str {
        "inverter.safetensors"
    }
}

impl SingleRecipe for Invert {
    type Batch = Tensor<4>;
    fn loss(&self, net: &Conv2d, x: &Tensor<4>, _: &mut SeededRng) -> StepLosses {
        let diff = net.forward(x.clone()) + x.clone();
        StepLosses::loss((diff.clone() * diff).mean())
    }
}

fn train(run_dir: &Path, resume: bool, stop_after: Option<u64>) -> TrainOutcome {
    let device = Device::flex().autodiff();
    let recipe = Invert {
        device: device.clone(),
    };
    let cfg = RunConfig {
        steps: 60,
        batch_size: 4,
        checkpoint_every: 30,
        sample_every: 30,
        log_every: 10,
        seed: 7,
        ..RunConfig::default()
    };
    let step_cfg = SingleStepConfig {
        lr: 0.05,
        ..SingleStepConfig::default()
    };
    let opts = RunOptions {
        run_dir: run_dir.to_path_buf(),
        resume,
        progress: false,
        stop_after,
        fid: None,
        on_start: None,
    };
    run_single(
        &recipe,
        &cfg,
        &step_cfg,
        &opts,
        &device,
        || Conv2dConfig::new([3, 3], [1, 1]).init(&device),
        |start| {
            Ok(Noise {
                position: start,
                device: device.clone(),
            })
        },
    )
    .unwrap()
}

fn one_network_learns_through_the_engine_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = train(&tmp.path().join("straight"), false, None);
    assert_eq!(straight.losses.len(), 60);
    let first = straight.losses[0].1;
    let last = straight.losses[59].1;
    assert!(
        last < 0.05 * first,
        "the loss did not fall: {first} -> {last}"
    );
    assert!(
        straight.losses.iter().all(|l| l.2.is_nan()),
        "one loss only"
    );
    let run_dir = tmp.path().join("straight");
    assert!(run_dir.join("inverter.safetensors").exists());
    for part in ["net.bpk", "opt.bpk", "manifest.json"] {
        assert!(
            run_dir
                .join("checkpoints/step-00000060")
                .join(part)
                .exists(),
            "{part}"
        );
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["step"]["lr"], 0.05);
    assert_eq!(config["run"]["steps"], 60);

    let split = tmp.path().join("split");
    let a = train(&split, false, Some(30));
    assert_eq!(a.final_step, 30);
    let b = train(&split, true, None);
    assert_eq!(b.losses.first().unwrap().0, 31);
    for (x, y) in straight.losses[30..].iter().zip(&b.losses) {
        assert_eq!(x.0, y.0);
        assert!((x.1 - y.1).abs() < 1e-6, "step {}: {} vs {}", x.0, x.1, y.1);
    }
}

/// A checkpoint written before checkpoints carried a manifest (the same part files, no
/// `manifest.json`) still resumes, and exactly.
fn a_checkpoint_without_a_manifest_still_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = train(&tmp.path().join("straight"), false, None);
    let old = tmp.path().join("old");
    train(&old, false, Some(30));
    let ckpt = old.join("checkpoints/step-00000030");
    std::fs::remove_file(ckpt.join("manifest.json")).unwrap();
    let resumed = train(&old, true, None);
    assert_eq!(resumed.losses.first().unwrap().0, 31);
    for (x, y) in straight.losses[30..].iter().zip(&resumed.losses) {
        assert!((x.1 - y.1).abs() < 1e-6, "step {}: {} vs {}", x.0, x.1, y.1);
    }
}

/// One test, so the scenarios run one after another: weight initialisation seeds burn's
/// device RNG, which is shared by every thread of the test binary.
#[test]
fn single_network_scenarios() {
    one_network_learns_through_the_engine_and_resumes_exactly();
    a_checkpoint_without_a_manifest_still_resumes_exactly();
}
