//! `atelier stylize`: fast (a style network), AdaIN (any painting in one pass) or by
//! optimisation (Gatys), and `atelier styles`, the built-in styles. Also holds the progress observer
//! that every VGG image optimisation shows (`atelier texture` uses it too).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;

use crate::device::{DeviceChoice, select};
use crate::imaging::io::resize_long_side;
use crate::imaging::{LoadOptions, check_image_output, load_rgb, save_image};
use crate::models::adain::{ADAIN_KIND, LoadedAdain};
use crate::models::model_file::model_kind;
use crate::models::style_net::LoadedStyleNet;
use crate::models::vgg::{Border, Vgg, VggArch, VggConfig};
use crate::tasks::adain_style::{AdainOptions, builtin_adain_path, stylize_adain};
use crate::tasks::fast_style::{FastOptions, builtin_styles_path, is_style_model, stylize_fast};
use crate::tasks::image_optim::VggOptimOptions;
use crate::tasks::stylize::{
    ColorMode, Init, LayerChoice, Progress, StylizeOptions, blend_weights, default_scales, stylize,
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

/// How `stylize` paints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StyleMethod {
    /// One pass of a feed-forward style network (built-in styles or `train style` models):
    /// seconds.
    Fast,
    /// Arbitrary style in one pass (AdaIN): any painting, a second or a few.
    Adain,
    /// Optimise the image (Gatys et al.) against any painting: minutes, the quality
    /// reference.
    Optimize,
}

/// How to paint: the styles and the method with its settings. Shared by `stylize` and
/// `video`.
#[derive(Args, Debug, Clone)]
pub struct StyleArgs {
    /// Styles, comma-separated: built-in names (`atelier styles` lists them), names in
    /// --model, a style-network file, or painting images (with --method adain or optimize).
    #[arg(long, value_delimiter = ',')]
    pub style: Vec<String>,
    /// Blend weights, one per style (normalised to sum to 1).
    #[arg(long, value_delimiter = ',')]
    pub style_weights: Option<Vec<f32>>,
    /// fast, adain or optimize (default: fast for style names and network files; adain for
    /// painting images when an AdaIN decoder is available, else optimize).
    #[arg(long, value_enum)]
    pub method: Option<StyleMethod>,
    /// Fast: the style network whose styles --style names (default: the built-in one).
    /// AdaIN: the decoder (default: the built-in one, or $ATELIER_ADAIN).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Fast and AdaIN: how much of the style, 0 (the photo) to 1 (full); fast blends
    /// pixels, AdaIN features (0 is then the decoder's rendering of the photo).
    #[arg(long, default_value_t = 1.0)]
    pub strength: f32,
    /// AdaIN: a greyscale mask (any size; resized to the photo): the first style where it
    /// is white, the second where it is black.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// AdaIN: long side the paintings are seen at; larger gives finer strokes.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(32..=4096))]
    pub style_size: u32,
    /// Fast and AdaIN: tile side for large images (tiles share whole-image statistics: no
    /// seams).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(64..=16384))]
    pub tile: u64,
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
}

#[derive(Args, Debug)]
pub struct StylizeArgs {
    /// The content photo.
    pub content: PathBuf,
    #[command(flatten)]
    pub styling: StyleArgs,
    /// Long side of the output in pixels (default: optimize 512; fast the photo's own size).
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=16384))]
    pub size: Option<u32>,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// The AdaIN decoder to use: --model when it holds one, else the built-in one.
fn adain_model_path(model: Option<&Path>) -> PathBuf {
    model
        .map(Path::to_path_buf)
        .unwrap_or_else(builtin_adain_path)
}

/// The method when none is given: fast when every style is a name or a network file;
/// when every one is an image, AdaIN if a decoder is at hand, else optimize; a mix cannot
/// be painted in one pass.
fn choose_method(styles: &[String], model: Option<&Path>) -> anyhow::Result<StyleMethod> {
    let fast: Vec<bool> = styles
        .iter()
        .map(|s| is_style_model(s) || !Path::new(s).exists())
        .collect();
    if fast.iter().all(|f| *f) {
        Ok(StyleMethod::Fast)
    } else if fast.iter().all(|f| !*f) {
        let decoder = adain_model_path(model);
        if model_kind(&decoder).is_ok_and(|k| k == ADAIN_KIND) {
            Ok(StyleMethod::Adain)
        } else {
            Ok(StyleMethod::Optimize)
        }
    } else {
        anyhow::bail!(
            "--style mixes style names or networks with painting images: use names with \
             --method fast, or images with --method adain or optimize"
        )
    }
}

impl StyleArgs {
    /// The method to paint with and the styles' blend weights, checked.
    pub fn method_and_blend(&self) -> anyhow::Result<(StyleMethod, Vec<f32>)> {
        anyhow::ensure!(
            !self.style.is_empty(),
            "--style is required (a built-in style name, a network file or painting images)"
        );
        let blend = blend_weights(self.style.len(), self.style_weights.as_deref())?;
        let method = match self.method {
            Some(m) => m,
            None => choose_method(&self.style, self.model.as_deref())?,
        };
        if self.mask.is_some() && method != StyleMethod::Adain {
            anyhow::bail!("--mask works with --method adain");
        }
        Ok((method, blend))
    }
}

pub fn run(a: StylizeArgs, device: DeviceChoice) -> anyhow::Result<()> {
    check_image_output(&a.output)?;
    let (method, _) = a.styling.method_and_blend()?;
    let content = load_rgb(&a.content, &LoadOptions::default()).context("content image")?;
    let device = select(device)?;
    let t = std::time::Instant::now();
    if method != StyleMethod::Optimize {
        let out = a
            .styling
            .paint(&content, a.size, &device, &mut |_, _| Ok(()))?;
        return save_timed(&out, &a.output, t);
    }
    let (bar, mut observe) = observer(a.styling.optim.save_every, &a.output, 0);
    let out = a
        .styling
        .paint(&content, a.size, &device, &mut |total, p| {
            bar.set_length(total);
            observe(p)
        })?;
    bar.finish();
    save_image(&out, &a.output)?;
    super::status(format_args!("wrote {}", a.output.display()));
    Ok(())
}

/// What a failed model load says: the file given with --model, or that the built-in one is
/// missing and what to do instead.
fn load_context(given: bool, path: &Path, what: &str, otherwise: &str) -> String {
    if given {
        format!("loading the {what} {}", path.display())
    } else {
        format!(
            "the built-in {what} is missing or damaged ({}); {otherwise}",
            path.display()
        )
    }
}

/// The style network and the style names to use from it.
fn fast_model(
    a: &StyleArgs,
    device: &burn::prelude::Device,
) -> anyhow::Result<(LoadedStyleNet, Vec<String>)> {
    if a.style.len() == 1 && is_style_model(&a.style[0]) {
        anyhow::ensure!(
            a.model.is_none(),
            "--style names a network file: leave out --model"
        );
        let model = LoadedStyleNet::load(Path::new(&a.style[0]), device)?;
        anyhow::ensure!(
            model.meta.styles.len() == 1,
            "{} holds {} styles ({}): pass it as --model and name styles with --style",
            a.style[0],
            model.meta.styles.len(),
            model.meta.styles.join(", ")
        );
        let names = model.meta.styles.clone();
        return Ok((model, names));
    }
    let path = a.model.clone().unwrap_or_else(builtin_styles_path);
    let model = LoadedStyleNet::load(&path, device).with_context(|| {
        load_context(
            a.model.is_some(),
            &path,
            "style network",
            "set ATELIER_STYLES or pass --model FILE",
        )
    })?;
    for s in &a.style {
        if is_style_model(s) {
            anyhow::bail!("--style {s} is a network file: give it alone, or as --model");
        }
        if Path::new(s).is_file() {
            anyhow::bail!(
                "--style {s} is an image: fast stylisation paints trained styles (names, or \
                 a network file); any painting works with --method adain or optimize"
            );
        }
    }
    Ok((model, a.style.clone()))
}

/// Save a one-pass result and say where, its size and how long it took.
fn save_timed(
    out: &image::RgbImage,
    path: &Path,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    save_image(out, path)?;
    super::status(format_args!(
        "wrote {} ({}x{}, {:.2} s)",
        path.display(),
        out.width(),
        out.height(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

impl StyleArgs {
    /// The style network and what to ask of it (`--method fast`).
    pub fn fast(
        &self,
        blend: Vec<f32>,
        device: &burn::prelude::Device,
    ) -> anyhow::Result<(LoadedStyleNet, FastOptions)> {
        let (model, names) = fast_model(self, device)?;
        let opts = FastOptions {
            styles: names.into_iter().zip(blend).collect(),
            strength: self.strength,
            preserve_color: self.preserve_color,
            tile: self.tile as usize,
            history: None,
        };
        Ok((model, opts))
    }

    /// The AdaIN decoder with the VGG it was trained against, and what to ask of them
    /// (`--method adain`); `model.with(&vgg)` joins the two.
    pub fn adain(
        &self,
        blend: &[f32],
        device: &burn::prelude::Device,
    ) -> anyhow::Result<(LoadedAdain, Vgg, AdainOptions)> {
        let path = adain_model_path(self.model.as_deref());
        let loaded = LoadedAdain::load(&path, device).with_context(|| {
            load_context(
                self.model.is_some(),
                &path,
                "AdaIN decoder",
                "set ATELIER_ADAIN, pass --model FILE, or use --method optimize",
            )
        })?;
        let weights = match loaded.meta.decoder.arch {
            VggArch::Vgg16 => crate::weights::VGG16,
            VggArch::Vgg19 => crate::weights::VGG19,
        };
        let vgg_path = weights.locate(self.optim.vgg.as_deref())?;
        let vgg = VggConfig::new().load(&vgg_path, device)?;
        let opts = AdainOptions {
            styles: load_paintings(&self.style, blend)?,
            mask: self.mask.as_deref().map(load_mask).transpose()?,
            strength: self.strength,
            preserve_color: self.preserve_color,
            style_size: self.style_size,
            tile: self.tile as usize,
        };
        Ok((loaded, vgg, opts))
    }

    /// The VGG, its layers, the paintings and the settings of an optimisation at long side
    /// `size` (`--method optimize`).
    pub fn optimize(
        &self,
        blend: &[f32],
        size: u32,
        device: &burn::prelude::Device,
    ) -> anyhow::Result<OptimizeSetup> {
        anyhow::ensure!(
            self.style_scale.is_finite() && self.style_scale > 0.0,
            "--style-scale must be positive"
        );
        let styles = load_paintings(&self.style, blend)?;
        let vgg = self.optim.load_vgg(Border::Zero, device)?;
        let layers = self.optim.layers(&vgg)?;
        let scales = self
            .scales
            .unwrap_or_else(|| default_scales(size))
            .clamp(1, 8);
        let opts = StylizeOptions {
            size,
            scales,
            init: self.init,
            preserve_color: self.preserve_color,
            style_scale: self.style_scale,
            seed: self.optim.seed,
            optimize: self.optim.optimize_options()?,
            memory_limit: self.optim.memory_limit()?,
            start: None,
        };
        Ok(OptimizeSetup {
            vgg,
            layers,
            styles,
            opts,
        })
    }
}

/// What an optimisation needs besides the photo.
pub struct OptimizeSetup {
    pub vgg: Vgg,
    pub layers: LayerChoice,
    pub styles: Vec<(image::RgbImage, f32)>,
    pub opts: StylizeOptions,
}

/// Told the total number of iterations and each iteration's progress (optimisation only).
pub type PaintObserver<'a> = dyn FnMut(u64, &Progress) -> crate::Result<()> + 'a;

impl StyleArgs {
    /// Paint `content` by the chosen method. `size` is the output's long side: fast and
    /// AdaIN resize the photo to it when given; optimisation works at it (default 512).
    /// `observe` hears every optimisation iteration (its error stops the work). `stylize`
    /// and the studio both paint through here.
    pub fn paint(
        &self,
        content: &image::RgbImage,
        size: Option<u32>,
        device: &burn::prelude::Device,
        observe: &mut PaintObserver,
    ) -> anyhow::Result<image::RgbImage> {
        let (method, blend) = self.method_and_blend()?;
        let resized = || match size {
            Some(long) => resize_long_side(content, long),
            None => content.clone(),
        };
        Ok(match method {
            StyleMethod::Fast => {
                let (model, opts) = self.fast(blend, device)?;
                stylize_fast(&model, &resized(), &opts, device)?
            }
            StyleMethod::Adain => {
                let (loaded, vgg, opts) = self.adain(&blend, device)?;
                let model = loaded.with(&vgg)?;
                stylize_adain(&model, &resized(), &opts, device)?
            }
            StyleMethod::Optimize => {
                let setup = self.optimize(&blend, size.unwrap_or(512), device)?;
                let opts = &setup.opts;
                let total = (0..opts.scales)
                    .map(|k| opts.optimize.iters_at(k) as u64)
                    .sum();
                stylize(
                    &setup.vgg,
                    &setup.layers,
                    content,
                    &setup.styles,
                    opts,
                    &mut |p: &Progress| observe(total, p),
                )?
            }
        })
    }
}

/// The painting images of --style with their blend weights (AdaIN and optimisation).
fn load_paintings(styles: &[String], blend: &[f32]) -> anyhow::Result<Vec<(image::RgbImage, f32)>> {
    let load = LoadOptions::default();
    styles
        .iter()
        .zip(blend)
        .map(|(p, &b)| {
            let path = Path::new(p);
            anyhow::ensure!(
                !is_style_model(p),
                "--style {p} is a style network, not a painting: use it with --method fast"
            );
            anyhow::ensure!(
                path.exists(),
                "style image '{p}' does not exist (built-in style names work with \
                 --method fast; `atelier styles` lists them)"
            );
            Ok((load_rgb(path, &load).context("style image")?, b))
        })
        .collect()
}

/// A mask image as greyscale (a colour mask by its luminance, with a warning).
fn load_mask(path: &Path) -> anyhow::Result<image::GrayImage> {
    let rgb = load_rgb(path, &LoadOptions::default()).context("mask image")?;
    if rgb.pixels().any(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2]) {
        tracing::warn!(
            "the mask {} is not greyscale: its luminance is used (white = first style)",
            path.display()
        );
    }
    Ok(image::DynamicImage::ImageRgb8(rgb).to_luma8())
}

#[derive(Args, Debug)]
pub struct StylesArgs {
    /// A style network to list instead of the built-in one.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// `atelier styles`: the built-in styles (or a network's), with the paintings they learnt.
pub fn run_styles(a: StylesArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let path = a.model.unwrap_or_else(builtin_styles_path);
    let model = LoadedStyleNet::load(&path, &select(device)?)
        .with_context(|| format!("reading style network {}", path.display()))?;
    for (name, source) in model.meta.styles.iter().zip(&model.meta.sources) {
        super::output(format_args!("{name:<20} {source}"));
    }
    Ok(())
}
