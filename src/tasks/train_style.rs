//! Train a feed-forward style network (`atelier train style`): one network for one or many
//! paintings, on the engine's single-network path.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use super::training::{
    Launch, RunArgs, RunFlags, check_fine_tune, load_content, parse_betas, parse_crop_size,
};
use crate::data::loader::{Stream, centre_square, default_workers};
use crate::device::select;
use crate::imaging::io::{LoadOptions, load_rgb, resize_long_side};
use crate::losses::style_objective::LayerChoice;
use crate::models::style_net::{LoadedStyleNet, StyleNetConfig, StyleNetMeta};
use crate::models::vgg::{VggConfig, parse_layers};
use crate::recipes::style::{ContentCrops, StyleLossWeights, StyleRecipe};
use crate::train::{LrSchedule, SingleStepConfig, TrainOutcome, run_single};
use crate::weights::VGG16;

/// A style-network run's settings (the flags of `atelier train style`).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct StyleTrainOptions {
    /// A painting to learn; repeat for a multi-style network (one style per painting).
    #[arg(long, required_unless_present = "resume")]
    pub style: Vec<PathBuf>,
    /// Names for the styles, comma-separated, one per --style (default: from the file
    /// names, e.g. vangogh_starry_night.jpg -> vangogh-starry-night).
    #[arg(long, value_delimiter = ',')]
    pub style_names: Option<Vec<String>>,
    /// Folders of photos or video frames (or single images) to learn on; repeat to combine.
    #[arg(long, required_unless_present = "resume")]
    pub content: Vec<PathBuf>,
    /// File names to leave out of --content (e.g. photos kept aside for evaluation).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Training crop size.
    #[arg(long, default_value_t = 256, value_parser = parse_crop_size)]
    pub size: u32,
    /// Long side the paintings are seen at (default: 1.5 x --size). Larger makes bigger
    /// brush strokes relative to the crop.
    #[arg(long)]
    pub style_size: Option<u32>,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub batch_size: u32,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value = "0.9,0.999", value_parser = parse_betas)]
    pub betas: (f32, f32),
    /// Channels of the network's first layer (x2, x4 deeper).
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Residual blocks.
    #[arg(long, default_value_t = 5)]
    pub blocks: usize,
    /// Kernel of the first and last convolutions.
    #[arg(long, default_value_t = 9)]
    pub outer_kernel: usize,
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Style strength (terms are relative to the painting's own Gram magnitudes).
    #[arg(long, default_value_t = 5.0)]
    pub style_weight: f64,
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f64,
    /// Weight of the compound temporal term (a stylisation must follow a small random
    /// motion of its photo, not its noise): steadier video; 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub temporal_weight: f64,
    /// Style layers (default relu1_2,relu2_2,relu3_3,relu4_3).
    #[arg(long)]
    pub style_layers: Option<String>,
    /// Content layers (default relu2_2; relu3_3 lets the style change more).
    #[arg(long)]
    pub content_layers: Option<String>,
    /// Start from this trained style network's weights instead of random ones (fine-tuning,
    /// e.g. a shipped network with --temporal-weight). Its shape and number of styles must
    /// match --width, --blocks, --outer-kernel and --style.
    #[arg(long)]
    pub fine_tune: Option<PathBuf>,
    /// VGG16 weights, torchvision layout (default: $ATELIER_VGG16, the hub cache, the
    /// shared data, else a download of timm/vgg16.tv_in1k).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunFlags,
}

impl RunArgs for StyleTrainOptions {
    fn run_flags(&mut self) -> &mut RunFlags {
        &mut self.run
    }
}

/// `vangogh_starry_night.jpg` -> `vangogh-starry-night`.
pub fn style_name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

impl StyleTrainOptions {
    pub fn network(&self) -> StyleNetConfig {
        StyleNetConfig::new(self.style.len())
            .with_width(self.width)
            .with_blocks(self.blocks)
            .with_outer_kernel(self.outer_kernel)
    }

    fn names(&self) -> anyhow::Result<Vec<String>> {
        let names = match &self.style_names {
            Some(n) => {
                anyhow::ensure!(
                    n.len() == self.style.len(),
                    "--style-names has {} names for {} --style images",
                    n.len(),
                    self.style.len()
                );
                n.clone()
            }
            None => self.style.iter().map(|p| style_name_of(p)).collect(),
        };
        for (i, a) in names.iter().enumerate() {
            anyhow::ensure!(!a.is_empty(), "style {} has an empty name", i + 1);
            anyhow::ensure!(
                !names[..i].contains(a),
                "two styles are called '{a}': give --style-names"
            );
        }
        Ok(names)
    }

    fn layers(&self) -> anyhow::Result<LayerChoice> {
        let mut l = LayerChoice::johnson();
        if let Some(s) = &self.style_layers {
            l.style = parse_layers(s)?;
            l.style_weights = vec![1.0; l.style.len()];
        }
        if let Some(c) = &self.content_layers {
            l.content = parse_layers(c)?;
        }
        anyhow::ensure!(
            !l.style.is_empty() && !l.content.is_empty(),
            "at least one style and one content layer are needed"
        );
        Ok(l)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.style.is_empty(), "--style is required");
        anyhow::ensure!(!self.content.is_empty(), "--content is required");
        for (name, v) in [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--temporal-weight", self.temporal_weight),
            ("--tv-weight", self.tv_weight),
        ] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be >= 0, got {v}");
        }
        self.network()
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// Train (or resume) a style-network run.
pub fn train_style(args: &StyleTrainOptions, launch: &Launch) -> anyhow::Result<TrainOutcome> {
    args.check()?;
    let names = args.names()?;
    let layers = args.layers()?;
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
    let style_size = args.style_size.unwrap_or(args.size * 3 / 2).max(32);
    let min_style = layers.min_side().1.max(16);
    let mut paintings = Vec::with_capacity(args.style.len());
    for p in &args.style {
        let img = load_rgb(p, &LoadOptions::default())
            .with_context(|| format!("reading style image {}", p.display()))?;
        anyhow::ensure!(
            img.width().min(img.height()) >= min_style,
            "style image {} is {}x{}: too small for the style layers (at least {} px a side)",
            p.display(),
            img.width(),
            img.height(),
            min_style
        );
        paintings.push(resize_long_side(&img, style_size));
    }
    let content = load_content(&args.content, &args.exclude)?;
    let opts = launch.prepare(args, steps)?;
    let base = select(launch.device)?;
    let device = base.clone().autodiff();
    // Loaded on --resume too: a run killed before its first checkpoint restarts from it.
    let fine_tuned = match &args.fine_tune {
        Some(path) => {
            let loaded = LoadedStyleNet::load(path, &device)?;
            check_fine_tune(path, &loaded.meta.network, &args.network())?;
            Some(loaded.net)
        }
        None => None,
    };
    let vgg_path = VGG16.locate(args.vgg.as_deref())?;
    let vgg = VggConfig::new().load(&vgg_path, &device)?;
    let sheet: Vec<image::RgbImage> = content
        .iter()
        .take(3)
        .map(|img| centre_square(img, args.size))
        .collect();
    let meta = StyleNetMeta {
        network: args.network(),
        styles: names,
        sources: args
            .style
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect(),
        size: args.size as usize,
    };
    let recipe = StyleRecipe::new(
        vgg,
        layers,
        &paintings,
        StyleLossWeights {
            content: args.content_weight,
            style: args.style_weight,
            tv: args.tv_weight,
            temporal: args.temporal_weight,
        },
        meta,
        sheet,
        launch.command.clone(),
        device.clone(),
    )?;
    let examples = ContentCrops::new(content, args.size, args.style.len());
    let workers = args.run.workers.unwrap_or_else(default_workers);
    let (bs, seed, net) = (cfg.batch_size, args.run.seed, args.network());
    Ok(run_single(
        &recipe,
        &cfg,
        &step_cfg,
        &opts,
        &device,
        || fine_tuned.clone().unwrap_or_else(|| net.init(&device)),
        |start| Ok(Stream::new(examples, bs, seed, workers, start)),
    )?)
}
