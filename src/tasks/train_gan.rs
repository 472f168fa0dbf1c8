//! Train an unconditional or class-conditional image generator on a folder (`atelier train
//! gan`): DCGAN, StyleGAN2 or FastGAN (`--arch`), each with its own defaults for the flags
//! left out.

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
use crate::models::dcgan::DCGAN_GENERATOR_KIND;
use crate::models::fastgan::{
    FASTGAN_GENERATOR_KIND, FastGanDiscriminatorConfig, FastGanGeneratorConfig,
};
use crate::models::generator::{GanArch, generator_meta};
use crate::models::model_file::ModelMeta;
use crate::models::stylegan2::{
    ResidualDiscriminatorConfig, STYLEGAN2_GENERATOR_KIND, StyleGan2GeneratorConfig,
};
use crate::models::{DNorm, DcganDiscriminatorConfig, DcganGeneratorConfig};
use crate::nn::diff_augment::AugmentPolicy;
use crate::recipes::generation::{
    DEFAULT_DIVERSITY_CEILING, GenerationRecipe, check_diversity, check_penalties,
};
use crate::train::fid_monitor::FidSettings;
use crate::train::{GanStepConfig, LrSchedule, RunConfig, TrainOutcome, run_gan};

fn parse_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ (32 | 64 | 128 | 256)) => Ok(n),
        _ => Err(format!(
            "size must be 32, 64, 128 or 256 (fastgan), got '{s}'"
        )),
    }
}

/// A generator run's settings (the flags of `atelier train gan`). Flags whose best value
/// depends on the architecture are options; [`GanTrainOptions::resolved`] fills them in.
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct GanTrainOptions {
    /// Generator family: dcgan (the 2016 baseline), stylegan2 (mapping network, modulated
    /// convolutions, residual D, lazy R1) or fastgan (skip-layer excitation, a
    /// self-supervised D; the quickest to learn); see docs/generators.md.
    #[arg(long, value_enum, default_value_t = GanArch::Dcgan)]
    #[serde(default)]
    pub arch: GanArch,
    /// Differentiable augmentation of everything D sees: any of color,translation,cutout,
    /// or all, or none [default: all for stylegan2 and fastgan, none for dcgan].
    #[arg(long)]
    #[serde(default)]
    pub augment: Option<AugmentPolicy>,
    /// Folder of training images, searched recursively.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Image size: 32, 64 or 128 (and 256 for fastgan).
    #[arg(long, default_value_t = 64, value_parser = parse_size)]
    pub size: usize,
    /// Adversarial loss [default: hinge for fastgan, ns otherwise].
    #[arg(long, value_enum)]
    pub loss: Option<GanLoss>,
    /// Class-conditional: each image's class is its first sub-folder under --data.
    #[arg(long)]
    pub conditional: bool,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    /// Generator learning rate [default: 2e-4 dcgan and fastgan, 2e-3 stylegan2].
    #[arg(long)]
    pub lr_g: Option<f64>,
    /// Discriminator learning rate [default: 2e-4 dcgan and fastgan, 2e-3 stylegan2].
    #[arg(long)]
    pub lr_d: Option<f64>,
    /// Adam betas of the generator [default: 0.5,0.999 dcgan and fastgan; 0,0.99 stylegan2].
    #[arg(long, value_parser = parse_betas)]
    pub betas_g: Option<(f32, f32)>,
    /// Adam betas of the discriminator [default: as --betas-g].
    #[arg(long, value_parser = parse_betas)]
    pub betas_d: Option<(f32, f32)>,
    /// Discriminator steps per generator step.
    #[arg(long, default_value_t = 1)]
    pub n_critic: usize,
    /// R1 penalty weight γ on real images, 0 = off [default: 0 dcgan, 0.05 stylegan2].
    #[arg(long)]
    pub r1: Option<f64>,
    /// Lazy R1: apply it on one D step in N on average, weighted N times
    /// [default: 1 dcgan, 16 stylegan2].
    #[arg(long)]
    #[serde(default)]
    pub r1_every: Option<u64>,
    /// Diversity weight λ: G is also pushed to make different images from different
    /// latents of one class, against conditional collapse (see docs/generators.md)
    /// [default: 4 for a conditional fastgan, 0 otherwise].
    #[arg(long)]
    #[serde(default = "diversity_off")]
    pub diversity: Option<f64>,
    /// The diversity term leaves pairs alone once they differ by this much: mean |Δ| of the
    /// two images at 16×16 in [-1, 1] units, per unit of mean |Δz| (about 1.13).
    #[arg(long, default_value_t = DEFAULT_DIVERSITY_CEILING)]
    #[serde(default = "default_diversity_ceiling")]
    pub diversity_ceiling: f64,
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
    /// Base channel width of both networks [default: 64 dcgan (channels at 32 px, doubling
    /// below); 32 stylegan2 (channels at the output size, doubling below, at most 8x);
    /// 16 fastgan (half the channels at the output size)].
    #[arg(long)]
    pub width: Option<usize>,
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

/// A run saved before the diversity term existed resumes without it, as it was trained.
fn diversity_off() -> Option<f64> {
    Some(0.0)
}

fn default_diversity_ceiling() -> f64 {
    DEFAULT_DIVERSITY_CEILING
}

/// The settings whose defaults depend on `--arch`, filled in.
#[derive(Clone, Copy, Debug)]
pub struct ArchSettings {
    pub loss: GanLoss,
    pub width: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub betas_g: (f32, f32),
    pub betas_d: (f32, f32),
    pub r1: f64,
    pub r1_every: u64,
    pub augment: AugmentPolicy,
    pub diversity: f64,
}

impl GanTrainOptions {
    /// The flags given, and the architecture's defaults for those left out. StyleGAN2's are
    /// StyleGAN2-ADA's for small images: lr 2e-3 (equalised learning rate makes it safe),
    /// Adam betas (0, 0.99), R1 γ = 0.0002·64²/16 ≈ 0.05 every 16 steps, DiffAugment on.
    /// FastGAN's are its paper's: hinge loss, lr 2e-4, betas (0.5, 0.999), DiffAugment on.
    pub fn arch_settings(&self) -> ArchSettings {
        let style = self.arch == GanArch::Stylegan2;
        let fast = self.arch == GanArch::Fastgan;
        let betas_g = self
            .betas_g
            .unwrap_or(if style { (0.0, 0.99) } else { (0.5, 0.999) });
        let lr = if style { 2e-3 } else { 2e-4 };
        ArchSettings {
            loss: self
                .loss
                .unwrap_or(if fast { GanLoss::Hinge } else { GanLoss::Ns }),
            width: self.width.unwrap_or(match self.arch {
                GanArch::Dcgan => 64,
                GanArch::Stylegan2 => 32,
                GanArch::Fastgan => 16,
            }),
            lr_g: self.lr_g.unwrap_or(lr),
            lr_d: self.lr_d.unwrap_or(lr),
            betas_g,
            betas_d: self.betas_d.unwrap_or(betas_g),
            r1: self.r1.unwrap_or(if style { 0.05 } else { 0.0 }),
            r1_every: self.r1_every.unwrap_or(if style { 16 } else { 1 }),
            augment: self.augment.unwrap_or(if style || fast {
                "all".parse().expect("a valid policy")
            } else {
                AugmentPolicy::default()
            }),
            // Measured on KaoKore (docs/generators.md): without it a conditional FastGAN
            // draws one image per class.
            diversity: self
                .diversity
                .unwrap_or(if fast && self.conditional { 4.0 } else { 0.0 }),
        }
    }

    /// These options with every architecture default written in (what `run.json` records,
    /// so a resumed run keeps them even if a default changes).
    pub fn resolved(&self) -> Self {
        let a = self.arch_settings();
        Self {
            loss: Some(a.loss),
            width: Some(a.width),
            lr_g: Some(a.lr_g),
            lr_d: Some(a.lr_d),
            betas_g: Some(a.betas_g),
            betas_d: Some(a.betas_d),
            r1: Some(a.r1),
            r1_every: Some(a.r1_every),
            augment: Some(a.augment),
            diversity: Some(a.diversity),
            ..self.clone()
        }
    }

    fn run_config(&self, steps: u64) -> RunConfig {
        let schedule = match self.lr_decay_start {
            Some(start) => LrSchedule::LinearDecay { start },
            None => LrSchedule::Constant,
        };
        self.run
            .run_config(steps, self.batch_size as usize, schedule)
    }

    fn step_config(&self) -> GanStepConfig {
        let a = self.arch_settings();
        GanStepConfig {
            n_critic: self.n_critic,
            lr_g: a.lr_g,
            lr_d: a.lr_d,
            betas_g: a.betas_g,
            betas_d: a.betas_d,
            ema_decay: self.ema,
        }
    }

    fn dcgan_configs(&self, n_classes: usize) -> (DcganGeneratorConfig, DcganDiscriminatorConfig) {
        let width = self.arch_settings().width;
        (
            DcganGeneratorConfig::new(self.size)
                .with_width(width)
                .with_z_dim(self.z_dim)
                .with_n_classes(n_classes),
            DcganDiscriminatorConfig::new(self.size)
                .with_width(width)
                .with_n_classes(n_classes)
                .with_norm(self.d_norm),
        )
    }

    fn stylegan2_configs(
        &self,
        n_classes: usize,
    ) -> (StyleGan2GeneratorConfig, ResidualDiscriminatorConfig) {
        let width = self.arch_settings().width;
        (
            StyleGan2GeneratorConfig::new(self.size)
                .with_width(width)
                .with_z_dim(self.z_dim)
                .with_n_classes(n_classes),
            ResidualDiscriminatorConfig::new(self.size)
                .with_width(width)
                .with_n_classes(n_classes),
        )
    }

    fn fastgan_configs(
        &self,
        n_classes: usize,
    ) -> (FastGanGeneratorConfig, FastGanDiscriminatorConfig) {
        let width = self.arch_settings().width;
        (
            FastGanGeneratorConfig::new(self.size)
                .with_width(width)
                .with_z_dim(self.z_dim)
                .with_n_classes(n_classes),
            FastGanDiscriminatorConfig::new(self.size)
                .with_width(width)
                .with_n_classes(n_classes),
        )
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
    // Networks are built lazily here: counting their parameters allocates nothing.
    let cpu = burn::prelude::Device::flex();
    let (g_params, d_params, per_image) = match args.arch {
        GanArch::Dcgan => {
            let (g, d) = args.dcgan_configs(0);
            g.validate()?;
            (
                param_count(&g.init(&cpu)),
                param_count(&d.init(&cpu)),
                crate::models::dcgan::activation_floats(g.width, args.size),
            )
        }
        GanArch::Stylegan2 => {
            let (g, d) = args.stylegan2_configs(0);
            g.validate()?;
            (
                param_count(&g.init(&cpu)),
                param_count(&d.init(&cpu)),
                g.activation_floats(),
            )
        }
        GanArch::Fastgan => {
            let (g, d) = args.fastgan_configs(0);
            g.validate()?;
            (
                param_count(&g.init(&cpu)),
                param_count(&d.init(&cpu)),
                g.activation_floats(),
            )
        }
    };
    // The EMA generator is one more copy of G.
    let ema = u64::from(args.ema > 0.0);
    let params = g_params * (TRAINING_COPIES + ema) + d_params * TRAINING_COPIES;
    // A step runs G twice and D on real and fake images, plus two D passes per direction
    // of the finite-difference penalties (R1, WGAN-GP).
    let a = args.arch_settings();
    let penalised = a.r1 > 0.0 || (a.loss == GanLoss::WganGp && args.gp_weight > 0.0);
    let passes = 5 + 2 * args.penalty_dirs as u64 * u64::from(penalised);
    let activations = u64::from(args.batch_size) * passes * per_image;
    check_training(params, activations, "lower --width or --batch-size")?;
    Ok(())
}

/// The generation recipe for these options: everything but the networks is the same for
/// every family.
fn generation_recipe<G, D>(
    args: &GanTrainOptions,
    n_classes: usize,
    device: &burn::prelude::Device,
    meta: ModelMeta,
    settings: serde_json::Value,
) -> GenerationRecipe<G, D> {
    let a = args.arch_settings();
    GenerationRecipe {
        r1_gamma: a.r1,
        r1_every: a.r1_every,
        gp_weight: args.gp_weight,
        penalty_dirs: args.penalty_dirs,
        augment: a.augment,
        diversity: a.diversity,
        diversity_ceiling: args.diversity_ceiling,
        sample_count: args.sample_count.max(1),
        sample_seed: args.run.seed.wrapping_add(1234),
        settings,
        ..GenerationRecipe::new(meta, n_classes, a.loss, device)
    }
}

/// Train (or resume) a generator run.
pub fn train_gan(args: &GanTrainOptions, launch: &Launch) -> anyhow::Result<TrainOutcome> {
    let args = &args.resolved();
    let steps = args.run.steps.unwrap_or(10_000);
    let cfg = args.run_config(steps);
    cfg.validate()?;
    let step_cfg = args.step_config();
    step_cfg.validate()?;
    let a = args.arch_settings();
    check_penalties(a.r1, args.gp_weight, args.penalty_dirs, a.r1_every)?;
    check_diversity(a.diversity, args.diversity_ceiling)?;
    // Sizes and memory are checked before the run directory is made.
    check_gan_memory(args)?;
    let mut opts = launch.prepare(args, steps)?;
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

    let base = select(launch.device)?;
    let train_device = base.clone().autodiff();
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
    let classes = &folder.classes.clone();
    let stream = |start| Ok(BatchLoader::new(folder, loader_cfg, start));
    // Every family runs the same way; only the configs and the model file's kind differ.
    macro_rules! run_family {
        ($configs:ident, $kind:expr) => {{
            let (g_config, d_config) = args.$configs(n_classes);
            g_config.validate()?;
            let meta = generator_meta($kind, &g_config, classes, &launch.command);
            let settings = serde_json::json!({"generator": g_config, "discriminator": d_config});
            run_gan(
                &generation_recipe(args, n_classes, &train_device, meta, settings),
                &cfg,
                &step_cfg,
                &opts,
                &train_device,
                || (g_config.init(&train_device), d_config.init(&train_device)),
                stream,
            )?
        }};
    }
    let outcome = match args.arch {
        GanArch::Dcgan => run_family!(dcgan_configs, DCGAN_GENERATOR_KIND),
        GanArch::Stylegan2 => run_family!(stylegan2_configs, STYLEGAN2_GENERATOR_KIND),
        GanArch::Fastgan => run_family!(fastgan_configs, FASTGAN_GENERATOR_KIND),
    };
    Ok(outcome)
}
