//! `atelier stylize`: style transfer by optimisation. Also holds the progress observer
//! that every VGG image optimisation shows (`atelier texture` uses it too).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;

use crate::device::{DeviceChoice, select};
use crate::imaging::{LoadOptions, check_image_output, load_rgb, save_image};
use crate::models::vgg::Border;
use crate::tasks::image_optim::VggOptimOptions;
use crate::tasks::stylize::{
    ColorMode, Init, Progress, StylizeOptions, blend_weights, default_scales, stylize,
};

/// A progress bar plus intermediate saves every `save_every` iterations, as an observer
/// for an image optimisation (`texture` uses it too).
pub(super) fn observer(
    save_every: Option<usize>,
    output: &Path,
    total: u64,
) -> (ProgressBar, impl FnMut(&Progress) -> crate::Result<()> + '_) {
    let bar = crate::util::progress::bar(total);
    let b = bar.clone();
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
    pub optim: VggOptimOptions,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run(a: StylizeArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let blend = blend_weights(a.style.len(), a.style_weights.as_deref())?;
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
    let (bar, mut observe) = observer(a.optim.save_every, &a.output, total);
    let out = stylize(&vgg, &layers, &content, &styles, &opts, &mut observe)?;
    bar.finish();
    save_image(&out, &a.output)?;
    super::status(format_args!("wrote {}", a.output.display()));
    Ok(())
}
