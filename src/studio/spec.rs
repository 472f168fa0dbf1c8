//! What a studio job asks for (the JSON the page posts), how it is checked before it is
//! queued (a bad request is a 400 at once, not a failed job later), and how it runs. Each
//! task goes through the same code as its command: `stylize` and `video` through the CLI's
//! own argument structs (so defaults, checks and method choice are the command's), the
//! others through their task functions.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde::{Deserialize, Serialize};

use super::Studio;
use super::jobs::{Finished, JobContext};
use super::uploads::UploadKind;
use crate::cli::stylize::{StyleArgs, StyleMethod};
use crate::cli::video::VideoArgs;
use crate::imaging::grid::{make_grid, square_cols};
use crate::imaging::io::resize_long_side;
use crate::imaging::{LoadOptions, load_rgb, save_image};
use crate::models::inpaint::LoadedInpainter;
use crate::models::translator::LoadedTranslator;
use crate::tasks::inpaint::{InpaintOptions, inpaint, prepare_mask, shipped_inpainter};
use crate::tasks::stylize::ColorMode;
use crate::tasks::translate::{Tiling, translate_image};

/// The most styles one job blends.
pub const MAX_STYLES: usize = 4;
/// The most images one generate job draws.
pub const MAX_GENERATE: u32 = 64;

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum JobSpec {
    Stylize(StylizeSpec),
    Generate(GenerateSpec),
    Translate(TranslateSpec),
    Inpaint(InpaintSpec),
    Video(VideoSpec),
}

/// A style: a built-in one by name, or an uploaded painting by id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum StyleRef {
    Builtin(String),
    Upload(String),
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PaintMethod {
    Fast,
    Adain,
    Optimize,
}

fn one() -> f32 {
    1.0
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct StylizeSpec {
    /// Upload id of the photo.
    pub photo: String,
    pub styles: Vec<StyleRef>,
    /// Blend weights, one per style (default: equal).
    #[serde(default)]
    pub weights: Option<Vec<f32>>,
    /// Default: fast for built-in styles; AdaIN for paintings (optimise without a decoder).
    #[serde(default)]
    pub method: Option<PaintMethod>,
    #[serde(default = "one")]
    pub strength: f32,
    #[serde(default)]
    pub preserve_color: bool,
    /// Long side of the result (default: the photo's, at most the server's limit; 512 for
    /// optimise).
    #[serde(default)]
    pub size: Option<u32>,
    /// Optimise: iterations (default: the command's).
    #[serde(default)]
    pub iterations: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GenerateMode {
    /// `n` new works.
    #[default]
    Grid,
    /// A strip of `n` frames between two latents.
    Interpolate,
    /// Image `index` of the grid with `seed`, and `n - 1` works like it.
    Variations,
}

fn sixteen() -> u32 {
    16
}

fn half() -> f32 {
    0.5
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    #[serde(default)]
    pub mode: GenerateMode,
    /// A class name of the generator (default: every class in turn).
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub truncation: Option<f32>,
    #[serde(default = "sixteen")]
    pub n: u32,
    /// Variations: which image of the grid.
    #[serde(default)]
    pub index: u32,
    /// Variations: how far from it (latent noise scale).
    #[serde(default = "half")]
    pub spread: f32,
    /// Variations: the images picked in earlier rounds of variations ("more like this" on
    /// a variation), each the centre of the next round.
    #[serde(default)]
    pub picks: Vec<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct TranslateSpec {
    pub photo: String,
    /// A translator's name from the catalogue.
    pub model: String,
    #[serde(default)]
    pub size: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FillChoice {
    #[default]
    Gan,
    Classic,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct InpaintSpec {
    pub photo: String,
    /// Upload id of the mask: white (or any light colour) where to fill.
    pub mask: String,
    #[serde(default)]
    pub method: FillChoice,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct VideoSpec {
    /// Upload id of the clip.
    pub clip: String,
    pub styles: Vec<StyleRef>,
    #[serde(default)]
    pub weights: Option<Vec<f32>>,
    /// Fast or AdaIN (optimising every frame takes minutes each: the command does it).
    #[serde(default)]
    pub method: Option<PaintMethod>,
    #[serde(default = "one")]
    pub strength: f32,
    /// Long side of the frames (default 360).
    #[serde(default)]
    pub size: Option<u32>,
    /// Seconds from the start (default: the whole clip).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Keep every Nth frame (a quick preview).
    #[serde(default)]
    pub every: Option<u32>,
}

/// The argument struct `T` of a command with its defaults, from a minimal command line.
fn command_args<T: clap::Args>(argv: &[OsString]) -> anyhow::Result<T> {
    #[derive(Parser)]
    struct Line<T: clap::Args> {
        #[command(flatten)]
        args: T,
    }
    let argv = std::iter::once(OsString::from("atelier")).chain(argv.iter().cloned());
    Ok(Line::<T>::try_parse_from(argv)?.args)
}

type Check = Result<(), String>;

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(msg()) }
}

impl Studio {
    fn upload_path(&self, id: &str, kind: UploadKind, what: &str) -> Result<PathBuf, String> {
        match self.uploads.get(id) {
            Some((u, path)) if u.kind == kind => Ok(path),
            Some(_) => Err(format!(
                "{what} '{id}' is not {}",
                match kind {
                    UploadKind::Image => "an image",
                    UploadKind::Video => "a video clip",
                }
            )),
            None => Err(format!("{what}: no upload '{id}'")),
        }
    }

    fn check_size(&self, size: Option<u32>) -> Check {
        ensure(
            size.is_none_or(|s| (32..=self.opts.max_side).contains(&s)),
            || {
                format!(
                    "size must be 32 to {} pixels (the server's --max-side)",
                    self.opts.max_side
                )
            },
        )
    }

    /// The painting method for `styles`, checked against what is installed.
    fn paint_method(
        &self,
        styles: &[StyleRef],
        asked: Option<PaintMethod>,
    ) -> Result<PaintMethod, String> {
        ensure(!styles.is_empty() && styles.len() <= MAX_STYLES, || {
            format!("give 1 to {MAX_STYLES} styles")
        })?;
        let builtin = styles
            .iter()
            .filter(|s| matches!(s, StyleRef::Builtin(_)))
            .count();
        for s in styles {
            match s {
                StyleRef::Builtin(name) => ensure(self.catalog.has_style(name), || {
                    format!("no built-in style '{name}'")
                })?,
                StyleRef::Upload(id) => {
                    self.upload_path(id, UploadKind::Image, "style")?;
                }
            }
        }
        if builtin == styles.len() {
            ensure(asked.is_none_or(|m| m == PaintMethod::Fast), || {
                "built-in styles paint with the fast method; upload a painting for AdaIN or \
                 optimise"
                    .into()
            })?;
            return Ok(PaintMethod::Fast);
        }
        ensure(builtin == 0, || {
            "mix built-in styles or uploaded paintings, not both".into()
        })?;
        let method = asked.unwrap_or(if self.catalog.adain {
            PaintMethod::Adain
        } else {
            PaintMethod::Optimize
        });
        ensure(method != PaintMethod::Fast, || {
            "the fast method paints built-in styles only".into()
        })?;
        ensure(method != PaintMethod::Adain || self.catalog.adain, || {
            "no AdaIN decoder is installed: use optimise".into()
        })?;
        Ok(method)
    }

    fn check_blend(&self, styles: &[StyleRef], weights: &Option<Vec<f32>>, strength: f32) -> Check {
        if let Some(w) = weights {
            ensure(w.len() == styles.len(), || {
                format!("{} weights for {} styles", w.len(), styles.len())
            })?;
            ensure(
                w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f32>() > 0.0,
                || "weights must be 0 or more and not all 0".into(),
            )?;
        }
        ensure((0.0..=1.0).contains(&strength), || {
            "strength must be 0 to 1".into()
        })
    }

    /// Check a job before it is queued: every id names an upload of the right kind, every
    /// name is in the catalogue, every number in range.
    pub fn check(&self, spec: &JobSpec) -> Check {
        match spec {
            JobSpec::Stylize(s) => {
                self.upload_path(&s.photo, UploadKind::Image, "photo")?;
                self.paint_method(&s.styles, s.method)?;
                self.check_blend(&s.styles, &s.weights, s.strength)?;
                self.check_size(s.size)?;
                ensure(
                    s.iterations.is_none_or(|i| (10..=2000).contains(&i)),
                    || "iterations must be 10 to 2000".into(),
                )
            }
            JobSpec::Generate(g) => {
                let gen_ = self
                    .catalog
                    .generator
                    .as_ref()
                    .ok_or("no generator is installed")?;
                if let Some(c) = &g.class {
                    ensure(gen_.classes.contains(c), || {
                        format!(
                            "unknown class '{c}'; the generator knows {}",
                            gen_.classes.join(", ")
                        )
                    })?;
                }
                let min = if g.mode == GenerateMode::Grid { 1 } else { 2 };
                ensure((min..=MAX_GENERATE).contains(&g.n), || {
                    format!("n must be {min} to {MAX_GENERATE}")
                })?;
                ensure(
                    g.truncation.is_none_or(|t| t.is_finite() && t > 0.0),
                    || "truncation must be a positive number".into(),
                )?;
                ensure(g.index < 4096, || "index must be below 4096".into())?;
                ensure(
                    g.picks.len() <= 64 && g.picks.iter().all(|p| *p < MAX_GENERATE),
                    || format!("at most 64 picks, each below {MAX_GENERATE}"),
                )?;
                ensure(
                    g.spread.is_finite() && g.spread > 0.0 && g.spread <= 4.0,
                    || "spread must be above 0 and at most 4".into(),
                )
            }
            JobSpec::Translate(t) => {
                self.upload_path(&t.photo, UploadKind::Image, "photo")?;
                ensure(self.catalog.translator(&t.model).is_some(), || {
                    format!("no translation model '{}'", t.model)
                })?;
                self.check_size(t.size)
            }
            JobSpec::Inpaint(i) => {
                self.upload_path(&i.photo, UploadKind::Image, "photo")?;
                self.upload_path(&i.mask, UploadKind::Image, "mask")?;
                ensure(
                    i.method == FillChoice::Classic || self.catalog.inpainter,
                    || "no inpainting model is installed: use the classic fill".into(),
                )
            }
            JobSpec::Video(v) => {
                self.upload_path(&v.clip, UploadKind::Video, "clip")?;
                let m = self.paint_method(&v.styles, v.method)?;
                ensure(m != PaintMethod::Optimize, || {
                    "optimising a video takes minutes per frame: use `atelier video --method \
                     optimize` from a terminal"
                        .into()
                })?;
                self.check_blend(&v.styles, &v.weights, v.strength)?;
                self.check_size(v.size)?;
                ensure(v.duration.is_none_or(|d| d.is_finite() && d > 0.0), || {
                    "duration must be a positive number of seconds".into()
                })?;
                ensure(v.every.is_none_or(|e| (1..=100).contains(&e)), || {
                    "every must be 1 to 100".into()
                })
            }
        }
    }

    /// The command's style flags for these styles (paths of uploads, names of built-ins).
    fn style_args(
        &self,
        styles: &[StyleRef],
        weights: &Option<Vec<f32>>,
        method: Option<PaintMethod>,
        strength: f32,
        styling: &mut StyleArgs,
    ) -> anyhow::Result<()> {
        let method = self
            .paint_method(styles, method)
            .map_err(anyhow::Error::msg)?;
        styling.style = styles
            .iter()
            .map(|s| match s {
                StyleRef::Builtin(name) => Ok(name.clone()),
                StyleRef::Upload(id) => Ok(self
                    .upload_path(id, UploadKind::Image, "style")
                    .map_err(anyhow::Error::msg)?
                    .to_string_lossy()
                    .to_string()),
            })
            .collect::<anyhow::Result<_>>()?;
        styling.style_weights = weights.clone();
        styling.method = Some(match method {
            PaintMethod::Fast => StyleMethod::Fast,
            PaintMethod::Adain => StyleMethod::Adain,
            PaintMethod::Optimize => StyleMethod::Optimize,
        });
        styling.strength = strength;
        Ok(())
    }

    fn load_image(&self, id: &str) -> anyhow::Result<image::RgbImage> {
        let path = self
            .upload_path(id, UploadKind::Image, "image")
            .map_err(anyhow::Error::msg)?;
        Ok(load_rgb(
            &path,
            &LoadOptions {
                max_pixels: self.opts.max_pixels,
            },
        )?)
    }

    /// The long side to work at: `size` if given, else the image's own, within --max-side.
    fn long_side(&self, size: Option<u32>, img: &image::RgbImage) -> u32 {
        size.unwrap_or(img.width().max(img.height()))
            .min(self.opts.max_side)
    }

    /// Run a checked job.
    pub fn run(&self, spec: &JobSpec, ctx: &JobContext) -> anyhow::Result<Finished> {
        self.check(spec).map_err(anyhow::Error::msg)?;
        ctx.check_cancel()?;
        let done = |outputs: &[&str]| Finished {
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            notes: Vec::new(),
        };
        match spec {
            JobSpec::Stylize(s) => {
                let mut styling: StyleArgs = command_args(&[])?;
                self.style_args(&s.styles, &s.weights, s.method, s.strength, &mut styling)?;
                styling.preserve_color = s.preserve_color.then_some(ColorMode::Luminance);
                if let Some(i) = s.iterations {
                    styling.optim.iters = i as usize;
                }
                let photo = self.load_image(&s.photo)?;
                let optimise = styling.method == Some(StyleMethod::Optimize);
                let size = if optimise {
                    s.size.unwrap_or(512).min(self.opts.max_side)
                } else {
                    self.long_side(s.size, &photo)
                };
                ctx.progress(0.0, "painting");
                let mut step = 0u64;
                let mut last_preview = std::time::Instant::now();
                let out = styling.paint(&photo, Some(size), &self.device, &mut |total, p| {
                    ctx.check_cancel()?;
                    step += 1;
                    ctx.progress(
                        step as f32 / total.max(1) as f32,
                        format!(
                            "scale {}/{}, iteration {}/{} ({}x{})",
                            p.scale + 1,
                            p.n_scales,
                            p.iter,
                            p.iters,
                            p.width,
                            p.height
                        ),
                    );
                    // A live preview about once a second (writing one costs a few ms).
                    if last_preview.elapsed().as_secs_f32() > 1.0 || p.iter == p.iters {
                        last_preview = std::time::Instant::now();
                        ctx.preview(&p.image())?;
                    }
                    Ok(())
                })?;
                ctx.check_cancel()?;
                save_image(&out, &ctx.path("result.png"))?;
                Ok(done(&["result.png"]))
            }
            JobSpec::Generate(g) => self.generate(g, ctx),
            JobSpec::Translate(t) => {
                let entry = self.catalog.translator(&t.model).context("no such model")?;
                let model = LoadedTranslator::load(&entry.path, &self.device)?;
                let photo = self.load_image(&t.photo)?;
                let photo = resize_long_side(&photo, self.long_side(t.size, &photo));
                ctx.progress(0.1, format!("translating with {}", entry.task));
                let tiling = Tiling {
                    tile: 512,
                    overlap: 64,
                    align: 4,
                };
                let out = translate_image(&model.net, &photo, tiling, None, &self.device);
                save_image(&out, &ctx.path("result.png"))?;
                Ok(done(&["result.png"]))
            }
            JobSpec::Inpaint(i) => {
                let photo = self.load_image(&i.photo)?;
                let mask = self.load_image(&i.mask).context("the mask")?;
                let mask = image::DynamicImage::ImageRgb8(mask).to_luma8();
                let prepared = prepare_mask(mask, photo.width(), photo.height())?;
                let model = match i.method {
                    FillChoice::Classic => None,
                    FillChoice::Gan => {
                        Some(LoadedInpainter::load(&shipped_inpainter(), &self.device)?)
                    }
                };
                ctx.progress(0.1, "filling");
                let opts = InpaintOptions {
                    feather: 6,
                    max_window: None,
                };
                let out = inpaint(&photo, &prepared.mask, model.as_ref(), &opts, &self.device)?;
                save_image(&out, &ctx.path("result.png"))?;
                let mut notes = prepared.notes;
                notes.push(format!(
                    "filled {:.1} % of the image ({})",
                    100.0 * crate::data::masks::hole_fraction(&prepared.mask),
                    match i.method {
                        FillChoice::Gan => "the inpainting network",
                        FillChoice::Classic => "the classic diffusion fill",
                    }
                ));
                Ok(Finished {
                    outputs: vec!["result.png".into()],
                    notes,
                })
            }
            JobSpec::Video(v) => self.video(v, ctx),
        }
    }

    fn generate(&self, g: &GenerateSpec, ctx: &JobContext) -> anyhow::Result<Finished> {
        let generator = crate::tasks::generate::LoadedGenerator::load(
            &crate::tasks::generate::default_model_path(),
            &self.device,
        )?;
        let class = g
            .class
            .as_deref()
            .map(|c| generator.class_index(c))
            .transpose()?;
        let n = g.n as usize;
        ctx.progress(0.1, "drawing");
        let images = match g.mode {
            GenerateMode::Grid => generator.generate(n, class, g.seed, g.truncation),
            GenerateMode::Interpolate => generator.interpolate(n, class, g.seed),
            GenerateMode::Variations => {
                let picks: Vec<usize> = g.picks.iter().map(|p| *p as usize).collect();
                generator.variations(
                    n,
                    g.index as usize,
                    class,
                    g.seed,
                    g.truncation,
                    g.spread,
                    &picks,
                )
            }
        };
        let cols = match g.mode {
            GenerateMode::Grid => square_cols(images.len()),
            _ => images.len(),
        };
        let mut outputs = vec!["result.png".to_string()];
        save_image(&make_grid(&images, cols, 2), &ctx.path("result.png"))?;
        for (i, img) in images.iter().enumerate() {
            let name = format!("{i:03}.png");
            save_image(img, &ctx.path(&name))?;
            outputs.push(name);
        }
        Ok(Finished {
            outputs,
            notes: Vec::new(),
        })
    }

    fn video(&self, v: &VideoSpec, ctx: &JobContext) -> anyhow::Result<Finished> {
        let clip = self
            .upload_path(&v.clip, UploadKind::Video, "clip")
            .map_err(anyhow::Error::msg)?;
        let out = ctx.path("result.mp4");
        let mut args: VideoArgs =
            command_args(&[clip.into_os_string(), "-o".into(), out.into_os_string()])?;
        self.style_args(
            &v.styles,
            &v.weights,
            v.method,
            v.strength,
            &mut args.styling,
        )?;
        args.size = Some(v.size.unwrap_or(360).min(self.opts.max_side));
        args.duration = v.duration;
        args.every = v.every.unwrap_or(1) as u64;
        let bar = indicatif::ProgressBar::hidden();
        let finished = std::sync::atomic::AtomicBool::new(false);
        let report = std::thread::scope(|scope| {
            // The video pipeline counts frames on a progress bar; mirror it to the page.
            scope.spawn(|| {
                while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Some(total) = bar.length().filter(|t| *t > 0) {
                        let pos = bar.position();
                        ctx.progress(pos as f32 / total as f32, format!("frame {pos}/{total}"));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
            });
            let r = crate::cli::video::stylize_with(
                &args,
                self.device.clone(),
                ctx.cancel_flag(),
                &bar,
            );
            finished.store(true, std::sync::atomic::Ordering::Relaxed);
            r
        })?;
        ctx.check_cancel()?;
        let _ = std::fs::remove_file(crate::tasks::video::state_path(&ctx.path("result.mp4")));
        Ok(Finished {
            outputs: vec!["result.mp4".into()],
            notes: vec![format!(
                "{} frames, {}x{} at {:.2} fps (audio is not carried over)",
                report.frames, report.width, report.height, report.fps
            )],
        })
    }
}
