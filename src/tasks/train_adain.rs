//! Train an AdaIN decoder (`atelier train adain`): arbitrary style in one pass, on the
//! engine's single-network path.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::training::{
    Launch, RunArgs, RunFlags, check_fine_tune, list_images, load_content, parse_betas,
    parse_crop_size,
};
use crate::data::loader::{Stream, centre_square, default_workers};
use crate::device::select;
use crate::imaging::io::{LoadOptions, load_rgb};
use crate::models::adain::{AdainDecoderConfig, AdainMeta, LoadedAdain};
use crate::models::vgg::VggConfig;
use crate::recipes::adain::{AdainLossWeights, AdainRecipe, StyleBank, style_layers};
use crate::recipes::style::ContentCrops;
use crate::train::{LrSchedule, SingleStepConfig, TrainOutcome, run_single};
use crate::weights::VGG16;

/// An AdaIN run's settings (the flags of `atelier train adain`).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct AdainTrainOptions {
    /// Folders of photos or video frames (or single images); repeat to combine.
    #[arg(long, required_unless_present = "resume")]
    pub content: Vec<PathBuf>,
    /// Folders of paintings (or single paintings); repeat to combine. Each source gets an
    /// equal share of the style samples, however many images it holds.
    #[arg(long, required_unless_present = "resume")]
    pub style: Vec<PathBuf>,
    /// File names to leave out of --content and --style (e.g. paintings kept aside to show
    /// the model on styles it never saw).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Training crop size (photos and paintings).
    #[arg(long, default_value_t = 256, value_parser = parse_crop_size)]
    pub size: u32,
    /// Painting crops whose statistics are the style targets (computed once at the start:
    /// the encoder is frozen).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub style_samples: u32,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch_size: u32,
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    #[arg(long, default_value = "0.9,0.999", value_parser = parse_betas)]
    pub betas: (f32, f32),
    /// Encoder layer AdaIN works at (relu4_1 as in the paper; relu3_1 is lighter and keeps
    /// more of the photo).
    #[arg(long, default_value = "relu4_1")]
    pub depth: String,
    /// Decoder width (64 mirrors VGG; 32 is the slim variant).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    #[arg(long, default_value_t = 10.0)]
    pub style_weight: f64,
    /// Weight of the compound temporal term (a stylisation must follow a small random
    /// motion of its photo, not its noise): steadier video; 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub temporal_weight: f64,
    /// The encoder: VGG16 (or a full VGG19) in torchvision's layout (default:
    /// $ATELIER_VGG16, the hub cache, the shared data, else a download of
    /// timm/vgg16.tv_in1k).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// Start from this trained decoder's weights instead of random ones (fine-tuning, e.g.
    /// the shipped decoder with --temporal-weight). Its encoder, --depth and --width must
    /// match.
    #[arg(long)]
    pub fine_tune: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunFlags,
}

impl RunArgs for AdainTrainOptions {
    fn run_flags(&mut self) -> &mut RunFlags {
        &mut self.run
    }
}

impl AdainTrainOptions {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.content.is_empty(), "--content is required");
        anyhow::ensure!(!self.style.is_empty(), "--style is required");
        for (name, v) in [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--temporal-weight", self.temporal_weight),
        ] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be >= 0, got {v}");
        }
        AdainDecoderConfig::new()
            .with_depth(self.depth.clone())
            .with_width(self.width)
            .validate()
            .map_err(|e| anyhow::anyhow!("--depth/--width: {e}"))
    }
}

/// A source's name for the model file: its folder or file name.
fn source_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Train (or resume) an AdaIN decoder run.
pub fn train_adain(args: &AdainTrainOptions, launch: &Launch) -> anyhow::Result<TrainOutcome> {
    args.check()?;
    let steps = args.run.steps.unwrap_or(20_000);
    let cfg = args
        .run
        .run_config(steps, args.batch_size as usize, LrSchedule::Constant);
    cfg.validate()?;
    let step_cfg = SingleStepConfig {
        lr: args.lr,
        betas: args.betas,
    };
    step_cfg.validate()?;
    let sources = args
        .style
        .iter()
        .map(|s| {
            let files = list_images(std::slice::from_ref(s), &args.exclude)?;
            anyhow::ensure!(!files.is_empty(), "no style images in {}", s.display());
            Ok(files)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let content = load_content(&args.content, &args.exclude)?;
    let opts = launch.prepare(args, steps)?;
    let base = select(launch.device)?;
    let device = base.clone().autodiff();
    let vgg_path = VGG16.locate(args.vgg.as_deref())?;
    let vgg = VggConfig::new().load(&vgg_path, &device)?;
    let decoder = AdainDecoderConfig::new()
        .with_arch(vgg.arch())
        .with_depth(args.depth.clone())
        .with_width(args.width);
    // Loaded on --resume too: a run killed before its first checkpoint restarts from it.
    let fine_tuned = match &args.fine_tune {
        Some(path) => {
            let loaded = LoadedAdain::load(path, &device)?;
            check_fine_tune(path, &loaded.meta.decoder, &decoder)?;
            Some(loaded.decoder)
        }
        None => None,
    };
    // StyleBank::build checks that the VGG has these layers, naming the file if not.
    let layers = style_layers(decoder.layer().map_err(anyhow::Error::msg)?);
    // Statistics on the plain device (no graph), kept on the training one.
    let bank = {
        let plain = vgg.valid();
        StyleBank::build(
            &sources,
            args.style_samples as usize,
            args.size,
            args.run.seed,
            &plain,
            &layers,
            &device,
        )?
    };
    tracing::info!(
        "{} style samples from {} sources",
        bank.len(),
        sources.len()
    );
    let sheet_content = content
        .iter()
        .take(3)
        .map(|img| centre_square(img, args.size))
        .collect();
    // One painting from each source in turn.
    let n_sheet = 4.min(sources.iter().map(Vec::len).sum::<usize>());
    let sheet_styles = (0..n_sheet)
        .map(|k| {
            let src = &sources[k % sources.len()];
            let f = &src[(k / sources.len()) % src.len()];
            Ok(centre_square(
                &load_rgb(f, &LoadOptions::default())?,
                args.size,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let meta = AdainMeta {
        decoder: decoder.clone(),
        size: args.size as usize,
        styles_seen: args.style.iter().map(|p| source_name(p)).collect(),
        held_out: args.exclude.clone(),
    };
    let recipe = AdainRecipe::new(
        vgg,
        bank,
        AdainLossWeights {
            content: args.content_weight,
            style: args.style_weight,
            temporal: args.temporal_weight,
        },
        meta,
        sheet_content,
        sheet_styles,
        launch.command.clone(),
        device.clone(),
    )?;
    let examples = ContentCrops::new(content, args.size, recipe.style_samples());
    let workers = args.run.workers.unwrap_or_else(default_workers);
    let (bs, seed) = (cfg.batch_size, args.run.seed);
    Ok(run_single(
        &recipe,
        &cfg,
        &step_cfg,
        &opts,
        &device,
        || fine_tuned.clone().unwrap_or_else(|| decoder.init(&device)),
        |start| Ok(Stream::new(examples, bs, seed, workers, start)),
    )?)
}
