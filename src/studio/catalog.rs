//! What the studio offers: the built-in styles (with thumbnails painted by the style network
//! itself), whether an AdaIN decoder and an inpainting model are present, the generator's
//! classes and the shipped translation models. Read once at start-up from the model files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use image::RgbImage;
use serde::Serialize;

use crate::models::adain::ADAIN_KIND;
use crate::models::inpaint::INPAINTER_KIND;
use crate::models::model_file::model_kind;
use crate::models::style_net::LoadedStyleNet;
use crate::models::translator::{LoadedTranslator, TRANSLATOR_KIND};
use crate::tasks::adain_style::builtin_adain_path;
use crate::tasks::fast_style::{FastOptions, builtin_styles_path, stylize_fast};
use crate::tasks::generate::{LoadedGenerator, default_model_path};
use crate::tasks::inpaint::shipped_inpainter;

#[derive(Serialize, Clone, Debug)]
pub struct StyleEntry {
    pub name: String,
    /// The painting the style was learnt from.
    pub source: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct GeneratorEntry {
    pub classes: Vec<String>,
    pub size: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct TranslatorEntry {
    /// The file's stem: what a job names.
    pub name: String,
    /// What it was trained to do (`photo2ukiyoe`, `edges2painting`, ...).
    pub task: String,
    pub size: usize,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Serialize, Debug)]
pub struct Catalog {
    pub styles: Vec<StyleEntry>,
    pub adain: bool,
    pub inpainter: bool,
    pub generator: Option<GeneratorEntry>,
    pub translators: Vec<TranslatorEntry>,
    #[serde(skip)]
    thumbs: Mutex<HashMap<String, Vec<u8>>>,
}

fn is_kind(path: &Path, kind: &str) -> bool {
    model_kind(path).is_ok_and(|k| k == kind)
}

impl Catalog {
    /// Look at the shipped (or `$ATELIER_*`) models and the translators in `models_dir`.
    /// A missing or damaged model only removes what needs it, with a warning.
    pub fn load(models_dir: &Path, device: &burn::prelude::Device) -> Self {
        let styles = match LoadedStyleNet::load(&builtin_styles_path(), device) {
            Ok(m) => m
                .meta
                .styles
                .iter()
                .zip(&m.meta.sources)
                .map(|(name, source)| StyleEntry {
                    name: name.clone(),
                    source: source.clone(),
                })
                .collect(),
            Err(e) => {
                tracing::warn!("no built-in styles in the studio: {e}");
                Vec::new()
            }
        };
        let generator = match LoadedGenerator::load(&default_model_path(), device) {
            Ok(g) => Some(GeneratorEntry {
                classes: g.classes.clone(),
                size: g.size,
            }),
            Err(e) => {
                tracing::warn!("no generator in the studio: {e}");
                None
            }
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(models_dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        let translators = files
            .into_iter()
            .filter(|p| is_kind(p, TRANSLATOR_KIND))
            .filter_map(|path| {
                let m = LoadedTranslator::load(&path, device)
                    .map_err(|e| tracing::warn!("skipping translator: {e}"))
                    .ok()?;
                Some(TranslatorEntry {
                    name: path.file_stem()?.to_string_lossy().to_string(),
                    task: m.meta.task.clone(),
                    size: m.meta.size,
                    path,
                })
            })
            .collect();
        Self {
            styles,
            adain: is_kind(&builtin_adain_path(), ADAIN_KIND),
            inpainter: is_kind(&shipped_inpainter(), INPAINTER_KIND),
            generator,
            translators,
            thumbs: Mutex::new(HashMap::new()),
        }
    }

    pub fn has_style(&self, name: &str) -> bool {
        self.styles.iter().any(|s| s.name == name)
    }

    pub fn translator(&self, name: &str) -> Option<&TranslatorEntry> {
        self.translators.iter().find(|t| t.name == name)
    }

    /// A JPEG thumbnail of style `name`: the style network painting a small built-in scene.
    /// The first request paints them all (one network load) and they are kept.
    pub fn thumbnail(&self, name: &str, device: &burn::prelude::Device) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(self.has_style(name), "no built-in style '{name}'");
        let cached = |name: &str| {
            let thumbs = self.thumbs.lock().unwrap_or_else(|e| e.into_inner());
            thumbs.get(name).cloned()
        };
        if let Some(t) = cached(name) {
            return Ok(t);
        }
        self.paint_thumbnails(device)?;
        cached(name).context("the thumbnail was just painted")
    }

    /// Paint every style's thumbnail not painted yet, loading the style network once.
    pub fn paint_thumbnails(&self, device: &burn::prelude::Device) -> anyhow::Result<()> {
        let model = LoadedStyleNet::load(&builtin_styles_path(), device)?;
        let scene = scene(192, 128);
        for s in &self.styles {
            if self
                .thumbs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&s.name)
            {
                continue;
            }
            let img = stylize_fast(&model, &scene, &FastOptions::style(&s.name), device)?;
            let mut jpeg = Vec::new();
            img.write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )?;
            self.thumbs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(s.name.clone(), jpeg);
        }
        Ok(())
    }
}

/// A small landscape (sky, sun, two hills, a lake) for style thumbnails: it has the flat
/// areas, edges and colours that show what a style does, and needs no photo in the binary.
pub fn scene(w: u32, h: u32) -> RgbImage {
    let (fw, fh) = (w as f32, h as f32);
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / fw, y as f32 / fh);
        let far = 0.55 - 0.12 * (u * 7.0).sin() * (u * 2.3 + 0.4).cos();
        let near = 0.72 - 0.08 * (u * 4.0 + 1.5).sin();
        let sun = ((u - 0.72).powi(2) * (fw / fh).powi(2) + (v - 0.25).powi(2)).sqrt();
        let c: [f32; 3] = if v > 0.86 {
            let ripple = 0.08 * ((v * 90.0).sin() + (u * 31.0).sin());
            [0.15 + ripple, 0.35 + ripple, 0.55 + ripple]
        } else if v > near {
            [0.25 + 0.2 * u, 0.45 - 0.1 * v, 0.15]
        } else if v > far {
            [0.35, 0.4 + 0.2 * u, 0.5]
        } else if sun < 0.11 {
            [1.0, 0.85, 0.35]
        } else {
            [0.95 - 0.5 * v, 0.6 + 0.2 * v, 0.45 + 0.5 * v]
        };
        image::Rgb(c.map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}
