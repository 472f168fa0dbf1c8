//! Train an image-to-image translator (`atelier train translate`): pix2pix (paired),
//! CycleGAN (unpaired) and the plain-mse preset, all on the one GAN engine.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::training::{Launch, RunArgs, RunFlags, parse_betas};
use crate::data::loader::{Stream, default_workers};
use crate::data::pair_makers::PairMaker;
use crate::data::translation::{
    CropConfig, PairSource, PairedExamples, SmallImages, UnpairedExamples,
};
use crate::device::select;
use crate::losses::GanLoss;
use crate::models::patchgan::PatchDiscriminatorConfig;
use crate::models::resnet_gen::Upsample;
use crate::models::translator::TranslatorMeta;
use crate::models::translator::{GeneratorArch, TranslatorConfig};
use crate::nn::diff_augment::AugmentPolicy;
use crate::recipes::cyclegan::{CycleDiscriminators, CycleGenerators, CycleRecipe};
use crate::recipes::pix2pix::{PairedRecipe, PixelLoss};
use crate::train::{GanStepConfig, LrSchedule, RunConfig, TrainOutcome, run_gan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Aligned pairs (pix2pix).
    Paired,
    /// Two unrelated collections (CycleGAN).
    Unpaired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// U-Net + conditional PatchGAN, BCE, L1 x100.
    Pix2pix,
    /// Two ResNet generators, two PatchGANs, LSGAN, cycle x10, identity x5, image pool.
    Cyclegan,
    /// Plain conv generator, PatchGAN on B alone with BCE, MSE x100 (for restoration-like
    /// pairs). Was called `seed`; that name is still accepted.
    #[value(alias = "seed")]
    #[serde(alias = "seed")]
    PlainMse,
}

fn parse_crop(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (32..=1024).contains(&n) && n % 16 == 0 => Ok(n),
        _ => Err(format!(
            "size must be a multiple of 16 from 32 to 1024 (128 or 256 are usual), got '{s}'"
        )),
    }
}

/// A translation run's settings (the flags of `atelier train translate`).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TranslateTrainOptions {
    /// paired (pix2pix) or unpaired (CycleGAN).
    #[arg(long, value_enum, default_value_t = Mode::Paired)]
    pub mode: Mode,
    /// The network/loss recipe (default: pix2pix when paired, cyclegan when unpaired).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Domain A (the input). Paired: a folder matched by name with --b, a folder of
    /// side-by-side A|B images (no --b), or paintings to make pairs from (--pairs).
    /// Unpaired: repeat to combine folders.
    #[arg(long, required_unless_present = "resume")]
    pub a: Vec<PathBuf>,
    /// Domain B (the output); repeat to combine folders when unpaired.
    #[arg(long)]
    pub b: Vec<PathBuf>,
    /// Make paired data from the paintings in --a: input is line art, grey or damaged.
    #[arg(long, value_enum)]
    pub pairs: Option<PairMaker>,
    /// Training crop size.
    #[arg(long, default_value_t = 256, value_parser = parse_crop)]
    pub size: u32,
    /// Images smaller than the crop: error (default), skip or upscale.
    #[arg(long, value_enum, default_value_t = SmallImages::Error)]
    pub small: SmallImages,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_size: u32,
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    #[arg(long, default_value = "0.5,0.999", value_parser = parse_betas)]
    pub betas: (f32, f32),
    /// Linear learning-rate decay to zero from this fraction of the steps.
    #[arg(long, default_value_t = 0.5)]
    pub lr_decay_start: f64,
    /// Generator architecture (default: from the preset).
    #[arg(long, value_enum)]
    pub arch: Option<GeneratorArch>,
    /// Base channel width of the networks.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// ResNet/plain blocks (default: 9 from 256 px up, else 6; plain: 3).
    #[arg(long)]
    pub blocks: Option<usize>,
    /// ResNet up-sampling: resize-conv (no checkerboard) or transposed.
    #[arg(long, value_enum, default_value_t = Upsample::ResizeConv)]
    pub upsample: Upsample,
    /// PatchGAN stride-2 layers (3: 70x70 patches).
    #[arg(long, default_value_t = 3)]
    pub d_layers: usize,
    /// Weight of the pixel loss (L1 for pix2pix, MSE for plain-mse).
    #[arg(long, default_value_t = 100.0)]
    pub pixel_weight: f64,
    /// CycleGAN cycle-consistency weight λ.
    #[arg(long, default_value_t = 10.0)]
    pub cycle_weight: f64,
    /// CycleGAN identity weight, as a fraction of λ.
    #[arg(long, default_value_t = 0.5)]
    pub identity: f64,
    /// CycleGAN pool of past fakes per discriminator.
    #[arg(long, default_value_t = 50)]
    pub pool: usize,
    /// Paired: pairs held out for the validation L1 (eval.jsonl).
    #[arg(long, default_value_t = 16)]
    pub val: usize,
    /// Differentiable augmentation of what D sees (DiffAugment): any of
    /// color,translation,cutout, or all, or none. Paired: input and output get the same
    /// transform, so pairs stay aligned.
    #[arg(long, default_value = "none")]
    #[serde(default)]
    pub augment: AugmentPolicy,
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunFlags,
}

impl TranslateTrainOptions {
    pub fn preset(&self) -> Preset {
        self.preset.unwrap_or(match self.mode {
            Mode::Paired => Preset::Pix2pix,
            Mode::Unpaired => Preset::Cyclegan,
        })
    }

    fn generator(&self) -> TranslatorConfig {
        let arch = self.arch.unwrap_or(match self.preset() {
            Preset::Pix2pix => GeneratorArch::Unet,
            Preset::Cyclegan => GeneratorArch::Resnet,
            Preset::PlainMse => GeneratorArch::Plain,
        });
        let blocks = self.blocks.unwrap_or(match arch {
            GeneratorArch::Plain => 3,
            _ if self.size >= 256 => 9,
            _ => 6,
        });
        TranslatorConfig::new(arch)
            .with_width(self.width)
            .with_blocks(blocks)
            // A 1x1 bottleneck: log2 of the crop size.
            .with_depth(self.size.ilog2() as usize)
            .with_upsample(self.upsample)
    }

    fn run_config(&self, steps: u64) -> RunConfig {
        let schedule = LrSchedule::LinearDecay {
            start: self.lr_decay_start,
        };
        self.run
            .run_config(steps, self.batch_size as usize, schedule)
    }

    fn step_config(&self) -> GanStepConfig {
        GanStepConfig {
            n_critic: 1,
            lr_g: self.lr,
            lr_d: self.lr,
            betas_g: self.betas,
            betas_d: self.betas,
            // Translation generators are used as trained (no weight average), as in
            // pix2pix and CycleGAN.
            ema_decay: 0.0,
        }
    }

    fn loss(&self) -> GanLoss {
        match self.preset() {
            Preset::Cyclegan => GanLoss::Lsgan,
            Preset::Pix2pix | Preset::PlainMse => GanLoss::Ns,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        let preset = self.preset();
        match (self.mode, preset) {
            (Mode::Paired, Preset::Cyclegan) => {
                anyhow::bail!("--preset cyclegan trains on unpaired data: add --mode unpaired")
            }
            (Mode::Unpaired, Preset::Pix2pix | Preset::PlainMse) => {
                anyhow::bail!("--preset {preset:?} needs paired data: use --mode paired")
            }
            _ => {}
        }
        if self.a.is_empty() {
            anyhow::bail!("--a is required");
        }
        let d = PatchDiscriminatorConfig::new().with_layers(self.d_layers);
        if d.output_side(self.size as usize).is_none() {
            anyhow::bail!(
                "--d-layers {} needs crops of at least {} px, but --size is {}: lower \
                 --d-layers (3 is the 70x70 PatchGAN) or raise --size",
                self.d_layers,
                d.min_input(),
                self.size
            );
        }
        match self.mode {
            Mode::Paired => {
                anyhow::ensure!(
                    self.a.len() == 1 && self.b.len() <= 1,
                    "paired mode takes one --a folder and at most one --b folder"
                );
            }
            Mode::Unpaired => {
                anyhow::ensure!(!self.b.is_empty(), "unpaired mode needs --b");
                anyhow::ensure!(
                    self.pairs.is_none(),
                    "--pairs makes paired data: use --mode paired"
                );
            }
        }
        Ok(())
    }
}

impl RunArgs for TranslateTrainOptions {
    fn run_flags(&mut self) -> &mut RunFlags {
        &mut self.run
    }
}

/// Train (or resume) a translation run.
pub fn train_translate(
    args: &TranslateTrainOptions,
    launch: &Launch,
) -> anyhow::Result<TrainOutcome> {
    args.check()?;
    let steps = args.run.steps.unwrap_or(20_000);
    let cfg = args.run_config(steps);
    cfg.validate()?;
    let step_cfg = args.step_config();
    step_cfg.validate()?;
    let g_config = args.generator();
    let preset = args.preset();
    let crop = CropConfig::jittered(args.size);
    let opts = launch.prepare(args, steps)?;
    let base = select(launch.device)?;
    let train_device = base.clone().autodiff();

    let workers = args.run.workers.unwrap_or_else(default_workers);
    let d_config = |in_channels: usize| {
        PatchDiscriminatorConfig::new()
            .with_in_channels(in_channels)
            .with_width(args.width)
            .with_layers(args.d_layers)
    };
    // Networks built lazily for counting: nothing is allocated until the check has passed.
    {
        use crate::models::budget::{TRAINING_COPIES, check_training, param_count};
        let cpu = burn::prelude::Device::flex();
        // CycleGAN trains two generators and two discriminators.
        let nets = if preset == Preset::Cyclegan { 2 } else { 1 };
        let d_in = if preset == Preset::Pix2pix { 6 } else { 3 };
        let (g, d) = (g_config.init(&cpu), d_config(d_in).init(&cpu));
        let params = nets * TRAINING_COPIES * (param_count(&g) + param_count(&d));
        // A step runs each G about twice and each D on real and fake images.
        let side = args.size as usize;
        let per_image =
            2 * g_config.activation_floats(side) + 3 * d_config(d_in).activation_floats(side);
        let activations = nets * cfg.batch_size as u64 * per_image;
        check_training(
            params,
            activations,
            "lower --width, --blocks or --batch-size",
        )?;
    }
    let seed = args.run.seed;
    let (bs, size) = (cfg.batch_size, args.size as usize);
    let outcome = match args.mode {
        Mode::Paired => {
            let source =
                PairSource::open(&args.a[0], args.b.first().map(|p| p.as_path()), args.pairs)?;
            let (examples, val) = PairedExamples::new(source, crop, args.small, args.val, seed)?;
            let val_pairs = val.all(usize::MAX)?;
            let sheet = if val_pairs.is_empty() {
                let fixed = PairedExamples {
                    crop: CropConfig {
                        load_size: args.size,
                        flip: false,
                        ..crop
                    },
                    ..examples.clone()
                };
                fixed.all(6)?
            } else {
                val_pairs.iter().take(6).cloned().collect()
            };
            let task = match (preset, args.pairs) {
                (Preset::PlainMse, _) => "plain-mse preset A -> B".to_string(),
                (_, Some(m)) => format!("pix2pix {m:?} -> painting").to_lowercase(),
                _ => "pix2pix A -> B".to_string(),
            };
            let conditional = preset == Preset::Pix2pix;
            let recipe = PairedRecipe {
                meta: TranslatorMeta {
                    generator: g_config.clone(),
                    task,
                    size,
                },
                loss: args.loss(),
                pixel: if preset == Preset::PlainMse {
                    PixelLoss::Mse
                } else {
                    PixelLoss::L1
                },
                pixel_weight: args.pixel_weight,
                conditional_d: conditional,
                augment: args.augment,
                device: train_device.clone(),
                sheet,
                val: val_pairs,
                command: launch.command.clone(),
            };
            let d_in = if conditional { 6 } else { 3 };
            run_gan(
                &recipe,
                &cfg,
                &step_cfg,
                &opts,
                &train_device,
                || {
                    (
                        g_config.init(&train_device),
                        d_config(d_in).init(&train_device),
                    )
                },
                |start| Ok(Stream::new(examples, bs, seed, workers, start)),
            )?
        }
        Mode::Unpaired => {
            let examples = UnpairedExamples::open(&args.a, &args.b, crop, args.small)?;
            let sheet = examples.fixed(3)?;
            let mut recipe = CycleRecipe::new(
                TranslatorMeta {
                    generator: g_config.clone(),
                    task: "cyclegan A -> B".into(),
                    size,
                },
                args.pool,
                train_device.clone(),
                sheet,
                launch.command.clone(),
            );
            recipe.lambda_cycle = args.cycle_weight;
            recipe.lambda_identity = args.identity;
            recipe.augment = args.augment;
            run_gan(
                &recipe,
                &cfg,
                &step_cfg,
                &opts,
                &train_device,
                || {
                    let g = CycleGenerators {
                        ab: g_config.init(&train_device),
                        ba: g_config.init(&train_device),
                    };
                    let d = CycleDiscriminators {
                        a: d_config(3).init(&train_device),
                        b: d_config(3).init(&train_device),
                    };
                    (g, d)
                },
                |start| Ok(Stream::new(examples, bs, seed, workers, start)),
            )?
        }
    };
    Ok(outcome)
}
