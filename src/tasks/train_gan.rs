//! Train an unconditional or class-conditional DCGAN on a folder (`atelier train gan`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use super::training::{Launch, RunArgs, RunFlags, parse_betas};
use crate::data::loader::default_workers;
use crate::data::{BatchLoader, FolderOptions, ImageFolder, LoaderConfig};
use crate::device::select;
use crate::losses::GanLoss;
use crate::metrics::features::{FeatureExtractor, locate_weights};
use crate::models::{DNorm, DcganDiscriminatorConfig, DcganGeneratorConfig};
use crate::recipes::dcgan::DcganRecipe;
use crate::train::fid_monitor::FidSettings;
use crate::train::{GanStepConfig, LrSchedule, RunConfig, TrainOutcome, run_gan};

fn parse_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ (32 | 64 | 128)) => Ok(n),
        _ => Err(format!("size must be 32, 64 or 128, got '{s}'")),
    }
}

/// A DCGAN run's settings (the flags of `atelier train gan`).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct GanTrainOptions {
    /// Folder of training images, searched recursively.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Image size: 32, 64 or 128.
    #[arg(long, default_value_t = 64, value_parser = parse_size)]
    pub size: usize,
    #[arg(long, value_enum, default_value_t = GanLoss::Ns)]
    pub loss: GanLoss,
    /// Class-conditional: each image's class is its first sub-folder under --data.
    #[arg(long)]
    pub conditional: bool,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    #[arg(long, default_value_t = 2e-4)]
    pub lr_g: f64,
    #[arg(long, default_value_t = 2e-4)]
    pub lr_d: f64,
    /// Adam betas of the generator.
    #[arg(long, default_value = "0.5,0.999", value_parser = parse_betas)]
    pub betas_g: (f32, f32),
    /// Adam betas of the discriminator.
    #[arg(long, default_value = "0.5,0.999", value_parser = parse_betas)]
    pub betas_d: (f32, f32),
    /// Discriminator steps per generator step.
    #[arg(long, default_value_t = 1)]
    pub n_critic: usize,
    /// R1 penalty weight on real images (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub r1: f64,
    /// Gradient-penalty weight for --loss wgan-gp.
    #[arg(long, default_value_t = 10.0)]
    pub gp_weight: f64,
    /// Random directions for the gradient-norm estimate behind --r1 and wgan-gp.
    #[arg(long, default_value_t = 2)]
    pub penalty_dirs: usize,
    /// EMA decay of the generator's weights (0 = no average).
    #[arg(long, default_value_t = 0.999)]
    pub ema: f64,
    /// Start a linear learning-rate decay to zero at this fraction of the steps.
    #[arg(long)]
    pub lr_decay_start: Option<f64>,
    /// Base channel width of both networks.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    #[arg(long, default_value_t = 128)]
    pub z_dim: usize,
    /// Normalisation in the discriminator.
    #[arg(long, value_enum, default_value_t = DNorm::Spectral)]
    pub d_norm: DNorm,
    /// Images in the sample grid.
    #[arg(long, default_value_t = 64)]
    pub sample_count: usize,
    /// Measure FID every N steps (0: never) and keep the best generator as
    /// best-fid.safetensors; values go to fid.jsonl and fid.png.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub fid_every: u64,
    /// Generated images per FID measurement.
    #[arg(long, default_value_t = 1000)]
    #[serde(default = "default_fid_samples")]
    pub fid_samples: usize,
    /// Real images for FID (default: --data); their statistics are cached.
    #[arg(long)]
    #[serde(default)]
    pub fid_real: Option<PathBuf>,
    /// Use at most this many real images for the FID reference.
    #[arg(long)]
    #[serde(default)]
    pub fid_max_real: Option<usize>,
    /// InceptionV3 FID weights (see `atelier eval fid --help`).
    #[arg(long)]
    #[serde(default)]
    pub inception: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunFlags,
}

fn default_fid_samples() -> usize {
    1000
}

impl GanTrainOptions {
    fn run_config(&self, steps: u64) -> RunConfig {
        let schedule = match self.lr_decay_start {
            Some(start) => LrSchedule::LinearDecay { start },
            None => LrSchedule::Constant,
        };
        self.run
            .run_config(steps, self.batch_size as usize, schedule)
    }

    fn step_config(&self) -> GanStepConfig {
        GanStepConfig {
            n_critic: self.n_critic,
            lr_g: self.lr_g,
            lr_d: self.lr_d,
            betas_g: self.betas_g,
            betas_d: self.betas_d,
            ema_decay: self.ema,
        }
    }
}

impl RunArgs for GanTrainOptions {
    fn run_flags(&mut self) -> &mut RunFlags {
        &mut self.run
    }
}

/// Refuse settings whose networks or activations cannot fit, before the data is scanned or
/// anything is allocated. Class embeddings are left out: they are tiny next to the convs.
fn check_gan_memory(args: &GanTrainOptions) -> anyhow::Result<()> {
    use crate::models::budget::{TRAINING_COPIES, check_training, param_count};
    let g = DcganGeneratorConfig::new(args.size)
        .with_width(args.width)
        .with_z_dim(args.z_dim);
    g.validate()?;
    // Networks are built lazily here: counting their parameters allocates nothing.
    let cpu = burn::prelude::Device::flex();
    let g_params = param_count(&g.init(&cpu));
    let d_params = param_count(
        &DcganDiscriminatorConfig::new(args.size)
            .with_width(args.width)
            .with_norm(args.d_norm)
            .init(&cpu),
    );
    // The EMA generator is one more copy of G.
    let ema = u64::from(args.ema > 0.0);
    let params = g_params * (TRAINING_COPIES + ema) + d_params * TRAINING_COPIES;
    // A step runs G twice and D on real and fake images, plus two D passes per direction
    // of the finite-difference penalties (R1, WGAN-GP).
    let per_image = crate::models::dcgan::activation_floats(args.width, args.size);
    let penalised = args.r1 > 0.0 || (args.loss == GanLoss::WganGp && args.gp_weight > 0.0);
    let passes = 5 + 2 * args.penalty_dirs as u64 * u64::from(penalised);
    let activations = u64::from(args.batch_size) * passes * per_image;
    check_training(params, activations, "lower --width or --batch-size")?;
    Ok(())
}

/// Train (or resume) a DCGAN run.
pub fn train_gan(args: &GanTrainOptions, launch: &Launch) -> anyhow::Result<TrainOutcome> {
    let steps = args.run.steps.unwrap_or(10_000);
    let cfg = args.run_config(steps);
    cfg.validate()?;
    let step_cfg = args.step_config();
    step_cfg.validate()?;
    DcganRecipe::check_penalties(args.r1, args.gp_weight, args.penalty_dirs)?;
    let mut opts = launch.prepare(args, steps)?;
    check_gan_memory(args)?;
    let data = args.data.clone().context("--data is required")?;
    let folder = ImageFolder::open(
        &data,
        &FolderOptions {
            class_folders: args.conditional,
            ..Default::default()
        },
    )?;
    if !folder.skipped.is_empty() {
        eprintln!(
            "warning: skipped {} unreadable image(s) in {} (first: {})",
            folder.skipped.len(),
            data.display(),
            folder.skipped[0].1
        );
    }
    if args.conditional && folder.classes.len() < 2 {
        anyhow::bail!(
            "--conditional needs at least two class sub-folders in {}, found {}",
            data.display(),
            folder.classes.len()
        );
    }
    let n_classes = if args.conditional {
        folder.classes.len()
    } else {
        0
    };
    let g_config = DcganGeneratorConfig::new(args.size)
        .with_width(args.width)
        .with_z_dim(args.z_dim)
        .with_n_classes(n_classes);
    g_config.validate()?;
    let d_config = DcganDiscriminatorConfig::new(args.size)
        .with_width(args.width)
        .with_n_classes(n_classes)
        .with_norm(args.d_norm);

    let base = select(launch.device)?;
    let train_device = base.clone().autodiff();
    let recipe = DcganRecipe {
        g_config: g_config.clone(),
        classes: folder.classes.clone(),
        loss: args.loss,
        r1_gamma: args.r1,
        gp_weight: args.gp_weight,
        penalty_dirs: args.penalty_dirs,
        device: train_device.clone(),
        sample_count: args.sample_count.max(1),
        sample_seed: args.run.seed.wrapping_add(1234),
        command: launch.command.clone(),
    };
    let loader_cfg = LoaderConfig {
        batch_size: cfg.batch_size,
        size: args.size as u32,
        load_size: args.size as u32,
        flip: true,
        random_crop: true,
        seed: args.run.seed,
        workers: args.run.workers.unwrap_or_else(default_workers),
    };
    opts.fid = if args.fid_every > 0 {
        anyhow::ensure!(args.fid_samples >= 2, "--fid-samples must be at least 2");
        let (weights, spec) = locate_weights(args.inception.as_deref())?;
        let extractor = FeatureExtractor::new(&weights, &spec, &base)?;
        let real_dir = args.fid_real.clone().unwrap_or_else(|| data.clone());
        let real = extractor
            .folder_stats(&real_dir, args.fid_max_real)
            .context("FID reference statistics")?;
        Some(FidSettings {
            every: args.fid_every,
            samples: args.fid_samples,
            extractor,
            real,
            seed: args.run.seed.wrapping_add(4321),
        })
    } else {
        None
    };
    let outcome = run_gan(
        &recipe,
        &cfg,
        &step_cfg,
        &opts,
        &train_device,
        || (g_config.init(&train_device), d_config.init(&train_device)),
        |start| Ok(BatchLoader::new(folder, loader_cfg, start)),
    )?;
    Ok(outcome)
}
