//! Train an inpainting GAN (`atelier train inpaint`): a gated-convolution generator and an
//! SN-PatchGAN on the one GAN engine, on crops of paintings with drawn masks.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::training::{Launch, RunArgs, RunFlags, list_images, parse_betas, parse_crop_size};
use crate::data::inpaint::{InpaintExamples, MaskedImage};
use crate::data::loader::{Stream, default_workers};
use crate::data::masks::MaskKind;
use crate::device::select;
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::metrics::fid::FeatureStats;
use crate::models::inception::FEATURE_DIM;
use crate::models::inpaint::{InpaintGeneratorConfig, InpaintMeta, SnPatchDiscriminatorConfig};
use crate::models::vgg::VggConfig;
use crate::nn::diff_augment::AugmentPolicy;
use crate::recipes::inpaint::{InpaintLossWeights, InpaintRecipe};
use crate::train::fid_monitor::FidSettings;
use crate::train::{GanStepConfig, LrSchedule, TrainOutcome, run_gan};
use crate::util::rng::SeededRng;
use crate::weights::VGG16;

/// An inpainting run's settings (the flags of `atelier train inpaint`).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct InpaintTrainOptions {
    /// Folders of paintings (searched recursively) or single images; repeat to combine.
    #[arg(long, required_unless_present = "resume")]
    pub data: Vec<PathBuf>,
    /// File names to leave out of --data.
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Mask kinds to train on, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    #[serde(default)]
    pub masks: Vec<MaskKind>,
    /// Training crop size (the window `atelier inpaint` works in).
    #[arg(long, default_value_t = 256, value_parser = parse_crop_size)]
    pub size: u32,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch_size: u32,
    /// Generator learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Discriminator learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr_d: f64,
    #[arg(long, default_value = "0.5,0.999", value_parser = parse_betas)]
    pub betas: (f32, f32),
    /// Generator channels at full resolution (x2, x4 deeper).
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Only the coarse network (no refinement stage): half the cost.
    #[arg(long)]
    #[serde(default)]
    pub coarse_only: bool,
    /// Discriminator channels in its first layer.
    #[arg(long, default_value_t = 32)]
    pub d_width: usize,
    /// Discriminator stride-2 layers.
    #[arg(long, default_value_t = 5)]
    pub d_layers: usize,
    /// Weight of the L1 loss on the holes.
    #[arg(long, default_value_t = 1.0)]
    pub hole_weight: f64,
    /// Weight of the perceptual (VGG16 feature) loss; 0 needs no VGG16.
    #[arg(long, default_value_t = 0.5)]
    pub perceptual_weight: f64,
    /// Weight of the adversarial (hinge) loss.
    #[arg(long, default_value_t = 0.05)]
    pub adversarial_weight: f64,
    /// Differentiable augmentation of what D sees (DiffAugment): any of
    /// color,translation,cutout, or all, or none. The mask moves with its image (translation
    /// and cutout, no colour).
    #[arg(long, default_value = "none")]
    #[serde(default)]
    pub augment: AugmentPolicy,
    /// Paintings held out for validation numbers (listed in RUN/heldout.txt).
    #[arg(long, default_value_t = 16)]
    pub val: usize,
    /// FID of the held-out paintings filled vs. themselves every N steps (0: off).
    #[arg(long, default_value_t = 0)]
    pub fid_every: u64,
    /// InceptionV3 FID weights (see `atelier eval fid --help`).
    #[arg(long)]
    pub inception: Option<PathBuf>,
    /// VGG16 weights for the perceptual loss (default: $ATELIER_VGG16, the hub cache, the
    /// shared data, else a download).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunFlags,
}

impl RunArgs for InpaintTrainOptions {
    fn run_flags(&mut self) -> &mut RunFlags {
        &mut self.run
    }
}

impl InpaintTrainOptions {
    pub fn kinds(&self) -> Vec<MaskKind> {
        if self.masks.is_empty() {
            MaskKind::ALL.to_vec()
        } else {
            self.masks.clone()
        }
    }

    pub fn generator(&self) -> InpaintGeneratorConfig {
        InpaintGeneratorConfig::new()
            .with_width(self.width)
            .with_refine(!self.coarse_only)
    }

    fn discriminator(&self) -> SnPatchDiscriminatorConfig {
        SnPatchDiscriminatorConfig::new()
            .with_width(self.d_width)
            .with_layers(self.d_layers)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.data.is_empty(), "--data is required");
        anyhow::ensure!(
            self.val >= 1,
            "--val must be at least 1: sample sheets and validation use held-out paintings"
        );
        self.generator()
            .validate()
            .map_err(|e| anyhow::anyhow!("--width: {e}"))?;
        anyhow::ensure!(
            (1..=8).contains(&self.d_layers) && (self.size >> self.d_layers) >= 1,
            "--d-layers {} does not fit --size {} (each layer halves the side)",
            self.d_layers,
            self.size
        );
        for (name, v) in [
            ("--hole-weight", self.hole_weight),
            ("--perceptual-weight", self.perceptual_weight),
            ("--adversarial-weight", self.adversarial_weight),
        ] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be >= 0, got {v}");
        }
        Ok(())
    }
}

/// Split off `val` paintings (a seeded choice) for validation; each gets a fixed crop and a
/// fixed mask, the kinds taken in turn.
fn hold_out(
    files: &mut Vec<PathBuf>,
    val: usize,
    size: u32,
    kinds: &[MaskKind],
    seed: u64,
) -> anyhow::Result<(Vec<PathBuf>, Vec<MaskedImage>)> {
    let val = val.min(files.len().saturating_sub(1));
    let mut order: Vec<usize> = (0..files.len()).collect();
    SeededRng::derived(seed, &[11]).shuffle(&mut order);
    let mut take: Vec<usize> = order[..val].to_vec();
    take.sort_unstable();
    let held: Vec<PathBuf> = take.iter().map(|&i| files[i].clone()).collect();
    for &i in take.iter().rev() {
        files.remove(i);
    }
    let examples = InpaintExamples {
        files: held.clone(),
        size,
        kinds: kinds.to_vec(),
    };
    let pairs = (0..held.len())
        .map(|i| {
            let mut rng = SeededRng::derived(seed, &[12, i as u64]);
            let img = examples.crop(i, &mut rng)?;
            let kind = kinds[i % kinds.len()];
            Ok((img, kind.generate(size, size, &mut rng)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((held, pairs))
}

/// Train (or resume) an inpainting run.
pub fn train_inpaint(args: &InpaintTrainOptions, launch: &Launch) -> anyhow::Result<TrainOutcome> {
    args.check()?;
    let steps = args.run.steps.unwrap_or(50_000);
    let cfg = args
        .run
        .run_config(steps, args.batch_size as usize, LrSchedule::Constant);
    cfg.validate()?;
    let step_cfg = GanStepConfig {
        n_critic: 1,
        lr_g: args.lr,
        lr_d: args.lr_d,
        betas_g: args.betas,
        betas_d: args.betas,
        // The fill is used as trained, as DeepFill and LaMa do.
        ema_decay: 0.0,
    };
    step_cfg.validate()?;
    let kinds = args.kinds();
    let mut files = list_images(&args.data, &args.exclude)?;
    anyhow::ensure!(
        files.len() >= 2,
        "--data holds {} images; at least 2 are needed",
        files.len()
    );
    let (g_config, d_config) = (args.generator(), args.discriminator());
    {
        use crate::models::budget::{TRAINING_COPIES, check_training, param_count};
        let cpu = burn::prelude::Device::flex();
        let params = TRAINING_COPIES
            * (param_count(&g_config.init(&cpu)) + param_count(&d_config.init(&cpu)));
        let side = args.size as usize;
        // G runs twice (D's step and its own), D three times.
        let per_image = 2 * g_config.activation_floats(side) + 3 * d_config.activation_floats(side);
        check_training(
            params,
            cfg.batch_size as u64 * per_image,
            "lower --width, --batch-size or --size",
        )?;
    }
    let (held, val) = hold_out(&mut files, args.val, args.size, &kinds, args.run.seed)?;
    let mut opts = launch.prepare(args, steps)?;
    let base = select(launch.device)?;
    let device = base.clone().autodiff();
    let vgg = if args.perceptual_weight > 0.0 {
        let path = VGG16.locate(args.vgg.as_deref())?;
        let vgg = VggConfig::new().load(&path, &device)?;
        vgg.check(&["relu3_3".parse()?])
            .context("the perceptual loss needs VGG16 up to relu3_3")?;
        Some(vgg)
    } else {
        None
    };
    if args.fid_every > 0 {
        anyhow::ensure!(val.len() >= 2, "--fid-every needs --val of at least 2");
        let (weights, spec) = locate_weights(args.inception.as_deref())?;
        let extractor = FeatureExtractor::new(&weights, &spec, &base)?;
        let originals: Vec<RgbImage> = val.iter().map(|p| p.0.clone()).collect();
        let real = FeatureStats::from_features(&extractor.features(&originals), FEATURE_DIM)?;
        opts.fid = Some(FidSettings {
            every: args.fid_every,
            samples: val.len(),
            extractor,
            real,
            seed: 0,
        });
    }
    let recipe = InpaintRecipe {
        meta: InpaintMeta {
            generator: g_config.clone(),
            size: args.size as usize,
            masks: kinds.clone(),
        },
        weights: InpaintLossWeights {
            hole: args.hole_weight,
            perceptual: args.perceptual_weight,
            adversarial: args.adversarial_weight,
        },
        augment: args.augment,
        vgg,
        device: device.clone(),
        sheet: val.iter().take(6).cloned().collect(),
        val,
        heldout: held,
        command: launch.command.clone(),
    };
    let examples = InpaintExamples {
        files,
        size: args.size,
        kinds,
    };
    let workers = args.run.workers.unwrap_or_else(default_workers);
    let (bs, seed) = (cfg.batch_size, args.run.seed);
    Ok(run_gan(
        &recipe,
        &cfg,
        &step_cfg,
        &opts,
        &device,
        || (g_config.init(&device), d_config.init(&device)),
        |start| Ok(Stream::new(examples, bs, seed, workers, start)),
    )?)
}
