//! `atelier stylize`: style transfer by optimisation. Also holds the flags that every
//! VGG image optimisation shares (`atelier texture` uses them too).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;

use crate::device::{DeviceChoice, select};
use crate::imaging::{LoadOptions, check_image_output, load_rgb, save_image};
use crate::models::vgg19::{Border, Pooling, Vgg19, Vgg19Config, parse_layers};
use crate::tasks::stylize::{
    ColorMode, Init, LayerChoice, LossWeights, Method, OptimizeOptions, Progress, StylizeOptions,
    default_scales, stylize,
};
use crate::weights::VGG19;

/// Network and optimiser flags shared by `stylize` and `texture`.
#[derive(Args, Debug, Clone)]
pub struct OptimArgs {
    /// VGG19 weights, torchvision layout, safetensors or .pth (default: $ATELIER_VGG, the hub
    /// cache, the shared data's truncated file, else a download of timm/vgg19.tv_in1k).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Pooling::Max)]
    pub pooling: Pooling,
    /// Optimiser for the image.
    #[arg(long, value_enum, default_value_t = Method::Lbfgs)]
    pub optimizer: Method,
    /// Iterations at the coarsest scale (finer scales run half as many as the one before).
    #[arg(long, default_value_t = 300)]
    pub iters: usize,
    /// Adam learning rate (pixels in [0, 1]).
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f32,
    /// Style strength. Each loss is measured relative to its target's magnitude, so the
    /// weights mean the same with any VGG19 file.
    #[arg(long, default_value_t = 100.0)]
    pub style_weight: f32,
    /// Total-variation smoothing.
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f32,
    /// Style layers. Default with the full VGG19: relu1_1,relu2_1,relu3_1,relu4_1,relu5_1;
    /// with a file that stops at conv3_4 (the shared one): relu1_1,relu2_1,relu3_1.
    #[arg(long)]
    pub style_layers: Option<String>,
    /// One weight per style layer (default: all 1).
    #[arg(long, value_delimiter = ',')]
    pub style_layer_weights: Option<Vec<f32>>,
    /// Content layers. Default: relu4_2 with the full VGG19, relu3_2 with the shared file.
    #[arg(long)]
    pub content_layers: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the current image every N iterations (next to the output, -sS-iN suffix).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Refuse sizes whose estimated working memory exceeds this (default: free memory).
    #[arg(long)]
    pub max_memory_gb: Option<f64>,
}

impl OptimArgs {
    pub fn load_vgg(
        &self,
        border: Border,
        device: &burn::prelude::Device,
    ) -> anyhow::Result<Vgg19> {
        let path = VGG19.locate(self.vgg.as_deref())?;
        let vgg = Vgg19Config::new()
            .with_pooling(self.pooling)
            .with_border(border)
            .load(&path, &device.clone().autodiff())?;
        tracing::info!(
            "VGG19 from {} ({} conv layers)",
            path.display(),
            vgg.net.convs.len()
        );
        Ok(vgg)
    }

    pub fn layers(&self, vgg: &Vgg19) -> anyhow::Result<LayerChoice> {
        let mut l = LayerChoice::defaults_for(vgg);
        if let Some(s) = &self.style_layers {
            l.style = parse_layers(s)?;
            l.style_weights = vec![1.0; l.style.len()];
        }
        if let Some(w) = &self.style_layer_weights {
            anyhow::ensure!(
                w.len() == l.style.len(),
                "--style-layer-weights has {} values for {} style layers",
                w.len(),
                l.style.len()
            );
            l.style_weights = w.clone();
        }
        if let Some(c) = &self.content_layers {
            l.content = parse_layers(c)?;
        }
        vgg.check(&l.all())?;
        Ok(l)
    }

    pub fn optimize_options(&self) -> anyhow::Result<OptimizeOptions> {
        for (name, v) in [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--tv-weight", self.tv_weight),
        ] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be >= 0, got {v}");
        }
        anyhow::ensure!(self.iters > 0, "--iters must be at least 1");
        Ok(OptimizeOptions {
            method: self.optimizer,
            iters: self.iters,
            lr: self.lr,
            weights: LossWeights {
                content: self.content_weight,
                style: self.style_weight,
                tv: self.tv_weight,
            },
        })
    }

    pub fn memory_limit(&self) -> anyhow::Result<Option<u64>> {
        Ok(crate::device::memory_limit_gb(
            "--max-memory-gb",
            self.max_memory_gb,
        )?)
    }

    /// A progress bar plus intermediate saves, as an observer for the optimisation.
    pub fn observer<'a>(
        &'a self,
        output: &'a Path,
        total: u64,
    ) -> (ProgressBar, impl FnMut(&Progress) -> crate::Result<()> + 'a) {
        let bar = crate::util::progress::bar(total);
        let b = bar.clone();
        let save_every = self.save_every;
        let observe = move |p: &Progress| {
            b.inc(1);
            b.set_message(format!(
                "scale {}/{} {}x{}  {}",
                p.scale + 1,
                p.n_scales,
                p.width,
                p.height,
                p.terms
            ));
            if let Some(n) = save_every
                && n > 0
                && p.iter.is_multiple_of(n)
            {
                let stem = output.file_stem().unwrap_or_default().to_string_lossy();
                let ext = output.extension().unwrap_or_default().to_string_lossy();
                let path = output.with_file_name(format!(
                    "{stem}-s{}-i{:04}.{}",
                    p.scale + 1,
                    p.iter,
                    if ext.is_empty() { "png".into() } else { ext }
                ));
                save_image(&p.image(), &path)?;
            }
            Ok(())
        };
        (bar, observe)
    }
}

#[derive(Args, Debug)]
pub struct StylizeArgs {
    /// The content photo.
    pub content: PathBuf,
    /// Style image(s), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub style: Vec<PathBuf>,
    /// Blend weights, one per style image (normalised to sum to 1).
    #[arg(long, value_delimiter = ',')]
    pub style_weights: Option<Vec<f32>>,
    /// How to stylise: `optimize` (Gatys et al.), slow, the quality reference.
    #[arg(long, default_value = "optimize", value_parser = ["optimize"])]
    pub method: String,
    /// Long side of the output in pixels.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(16..=16384))]
    pub size: u32,
    /// Coarse-to-fine levels, each half the size of the next (default: 1 up to 384 px, one
    /// more per doubling above 256).
    #[arg(long)]
    pub scales: Option<usize>,
    #[arg(long, value_enum, default_value_t = Init::Content)]
    pub init: Init,
    /// Keep the content's colours: `luminance` (style on luminance only) or `histogram`
    /// (recolour the style image first). `--preserve-color` alone means luminance.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "luminance")]
    pub preserve_color: Option<ColorMode>,
    /// Style images are resized to this fraction of the output's long side.
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f32,
    #[command(flatten)]
    pub optim: OptimArgs,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run(a: StylizeArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let blend = match &a.style_weights {
        None => vec![1.0 / a.style.len() as f32; a.style.len()],
        Some(w) => {
            anyhow::ensure!(
                w.len() == a.style.len(),
                "--style-weights has {} values for {} style images",
                w.len(),
                a.style.len()
            );
            anyhow::ensure!(
                w.iter().all(|v| v.is_finite() && *v >= 0.0) && w.iter().sum::<f32>() > 0.0,
                "--style-weights must be non-negative and not all zero, got {w:?}"
            );
            let s: f32 = w.iter().sum();
            w.iter().map(|v| v / s).collect()
        }
    };
    anyhow::ensure!(
        a.style_scale.is_finite() && a.style_scale > 0.0,
        "--style-scale must be positive"
    );
    check_image_output(&a.output)?;
    let load = LoadOptions::default();
    let content = load_rgb(&a.content, &load).context("content image")?;
    let styles = a
        .style
        .iter()
        .zip(&blend)
        .map(|(p, &b)| Ok((load_rgb(p, &load).context("style image")?, b)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device = select(device)?;
    let vgg = a.optim.load_vgg(Border::Zero, &device)?;
    let layers = a.optim.layers(&vgg)?;
    let scales = a
        .scales
        .unwrap_or_else(|| default_scales(a.size))
        .clamp(1, 8);
    let opts = StylizeOptions {
        size: a.size,
        scales,
        init: a.init,
        preserve_color: a.preserve_color,
        style_scale: a.style_scale,
        seed: a.optim.seed,
        optimize: a.optim.optimize_options()?,
        memory_limit: a.optim.memory_limit()?,
    };
    let total = (0..scales).map(|k| opts.optimize.iters_at(k) as u64).sum();
    let (bar, mut observe) = a.optim.observer(&a.output, total);
    let out = stylize(&vgg, &layers, &content, &styles, &opts, &mut observe)?;
    bar.finish();
    save_image(&out, &a.output)?;
    super::status(format_args!("wrote {}", a.output.display()));
    Ok(())
}
