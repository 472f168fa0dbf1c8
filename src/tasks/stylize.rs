//! Style transfer by optimisation (Gatys, Ecker & Bethge 2016): find an image whose VGG19
//! features match a content photo and whose Gram matrices match one or more paintings.
//!
//! The same machinery synthesises textures ([`super::texture`]): Gram loss only, from noise.
//! Large outputs go coarse to fine: optimise small, upsample, continue, which keeps the
//! painting's strokes at a sensible scale and saves most of the iterations at full size.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::imaging::color::{
    combine_luma_chroma, luminance_image, match_histograms, matched_luminance,
};
use crate::imaging::io::{dims_for_long_side, resize_long_side};
pub use crate::imaging::pyramid::default_scales;
use crate::imaging::pyramid::{long_side_for_short, pyramid, resize_chw, style_view_dims};
use crate::imaging::tensor::{Range, image_from_chw, image_to_tensor, unit_chw};
use crate::losses::style_objective::{ImageObjective, style_targets};
pub use crate::losses::style_objective::{
    LayerChoice, LossWeights, Targets, Terms, check_memory, check_style_memory,
};
use crate::models::vgg::Vgg;
pub use crate::optim::image::{Method, Observer, OptimizeOptions, Progress, noise_image, optimize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    Content,
    Random,
    Style,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Transfer style on luminance only, then put back the content's chroma.
    Luminance,
    /// Recolour the style images to the content's colour histogram first.
    Histogram,
}

/// Everything a style transfer needs besides the images.
#[derive(Clone, Debug)]
pub struct StylizeOptions {
    /// Long side of the output.
    pub size: u32,
    pub scales: usize,
    pub init: Init,
    pub preserve_color: Option<ColorMode>,
    /// Style images are resized to this fraction of the output's long side.
    pub style_scale: f32,
    pub seed: u64,
    pub optimize: OptimizeOptions,
    pub memory_limit: Option<u64>,
    /// Start from this image instead of `init` (a video's previous result), resized to the
    /// first scale.
    pub start: Option<RgbImage>,
}

/// Add what only style transfer can change to a divergence's advice.
fn stylize_hint(e: AtelierError, init: Init) -> AtelierError {
    match e {
        AtelierError::OptimisationDiverged {
            loss,
            grad_finite,
            mut hint,
        } => {
            hint.push_str(", or raise --content-weight");
            if init != Init::Content {
                hint.push_str(", or start from the photo with --init content");
            }
            AtelierError::OptimisationDiverged {
                loss,
                grad_finite,
                hint,
            }
        }
        other => other,
    }
}

/// Blend weights for `n` style images: equal by default, else the given ones (one per
/// style, non-negative, not all zero) normalised to sum to 1.
pub fn blend_weights(n: usize, given: Option<&[f32]>) -> anyhow::Result<Vec<f32>> {
    let Some(w) = given else {
        return Ok(vec![1.0 / n as f32; n]);
    };
    anyhow::ensure!(
        w.len() == n,
        "--style-weights has {} values for {n} style images",
        w.len()
    );
    anyhow::ensure!(
        w.iter().all(|v| v.is_finite() && *v >= 0.0) && w.iter().sum::<f32>() > 0.0,
        "--style-weights must be non-negative and not all zero, got {w:?}"
    );
    let s: f32 = w.iter().sum();
    Ok(w.iter().map(|v| v / s).collect())
}

/// The one-pass methods' `--strength`: 0 (the photo) to 1 (the full style).
pub fn check_strength(strength: f32) -> crate::Result<()> {
    if (0.0..=1.0).contains(&strength) {
        Ok(())
    } else {
        Err(crate::error::AtelierError::Config(format!(
            "--strength must be between 0 and 1, got {strength}"
        )))
    }
}

/// Stylise `content` with `styles` (image, blend weight). `observe` sees every iteration.
pub fn stylize(
    vgg: &Vgg,
    layers: &LayerChoice,
    content: &RgbImage,
    styles: &[(RgbImage, f32)],
    opts: &StylizeOptions,
    observe: &mut Observer,
) -> Result<RgbImage> {
    vgg.check(&layers.all())?;
    let (w, h) = dims_for_long_side(content.width(), content.height(), opts.size);
    let (deepest_layer, min_side) = layers.min_side();
    let layer_name = deepest_layer.map(|l| l.to_string()).unwrap_or_default();
    if w.min(h) < min_side {
        return Err(AtelierError::Config(format!(
            "at --size {} the content image ({}x{}) becomes {w}x{h}, but {layer_name} needs at \
             least {min_side} px on each side; use --size {} or more, or shallower layers",
            opts.size,
            content.width(),
            content.height(),
            long_side_for_short(content.width(), content.height(), min_side)
        )));
    }
    check_memory(vgg.arch, layers.deepest(), w, h, opts.memory_limit)?;
    // Style images are seen at `style_scale` of the output's long side, and never so small
    // that the deepest layer has nothing to see (a panorama style stays at least
    // `min_side` tall). Checked before anything is resized: a large scale must not allocate.
    let style_dims = |long: u32| -> Vec<(u32, u32)> {
        styles
            .iter()
            .map(|(s, _)| {
                let wanted = ((long as f32) * opts.style_scale).round().max(16.0) as u64;
                style_view_dims(s.width(), s.height(), wanted, min_side)
            })
            .collect()
    };
    for dims in style_dims(w.max(h)) {
        check_style_memory(
            vgg.arch,
            layers,
            dims,
            opts.memory_limit,
            "lower --style-scale (style images are resized to that fraction of --size)",
        )?;
    }
    let device = vgg.device();

    // Colour preservation changes what the network sees.
    let content_full = resize_long_side(content, opts.size);
    let (content_seen, styles_seen): (RgbImage, Vec<(RgbImage, f32)>) = match opts.preserve_color {
        None => (content_full.clone(), styles.to_vec()),
        Some(ColorMode::Histogram) => (
            content_full.clone(),
            styles
                .iter()
                .map(|(s, b)| (match_histograms(s, &content_full), *b))
                .collect(),
        ),
        Some(ColorMode::Luminance) => (
            luminance_image(&content_full),
            styles
                .iter()
                .map(|(s, b)| (matched_luminance(s, &content_full), *b))
                .collect(),
        ),
    };

    let sizes = pyramid(w, h, opts.scales, min_side);
    let mut x: Option<(Vec<f32>, u32, u32)> = None;
    for (k, &(sw, sh)) in sizes.iter().enumerate() {
        let content_k =
            image::imageops::resize(&content_seen, sw, sh, image::imageops::FilterType::Lanczos3);
        let styles_k: Vec<(RgbImage, f32)> = styles_seen
            .iter()
            .zip(style_dims(sw.max(sh)))
            .map(|((s, b), (tw, th))| {
                let r = image::imageops::resize(s, tw, th, image::imageops::FilterType::Lanczos3);
                (r, *b)
            })
            .collect();
        let targets = Targets::new(
            vgg.features(
                image_to_tensor(&content_k, Range::Unit, &device),
                &layers.content,
            )?
            .into_iter()
            .map(|t| t.detach())
            .collect(),
            style_targets(vgg, &layers.style, &styles_k, &device)?,
        );
        let x0 = match (x.take(), &opts.start) {
            (Some((v, pw, ph)), _) => resize_chw(&v, pw, ph, sw, sh),
            (None, Some(start)) => unit_chw(&image::imageops::resize(
                start,
                sw,
                sh,
                image::imageops::FilterType::Lanczos3,
            )),
            (None, None) => match opts.init {
                Init::Content => unit_chw(&content_k),
                Init::Random => noise_image((3 * sw * sh) as usize, opts.seed),
                Init::Style => unit_chw(&image::imageops::resize(
                    &styles_k[0].0,
                    sw,
                    sh,
                    image::imageops::FilterType::Lanczos3,
                )),
            },
        };
        let mut objective =
            ImageObjective::new(vgg, layers, &targets, opts.optimize.weights, sw, sh);
        let v = optimize(&mut objective, x0, &opts.optimize, k, sizes.len(), observe)
            .map_err(|e| stylize_hint(e, opts.init))?;
        x = Some((v, sw, sh));
    }
    let (v, _, _) = x.expect("at least one scale");
    let out = image_from_chw(&v, w, h, Range::Unit);
    Ok(match opts.preserve_color {
        Some(ColorMode::Luminance) => combine_luma_chroma(&out, &content_full),
        _ => out,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::imaging::color::yuv_planes;
    use crate::models::vgg::{Border, VggArch, VggConfig, VggLayer, write_random_vgg};
    use burn::prelude::*;
    use image::Rgb;

    /// A seeded random VGG19 holding conv1_1..conv2_1, on the autodiff CPU device.
    pub fn random_vgg(border: Border) -> (tempfile::TempDir, Vgg, LayerChoice) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vgg.safetensors");
        write_random_vgg(&path, 3, 7);
        let vgg = VggConfig::new()
            .with_border(border)
            .load(&path, &Device::flex().autodiff())
            .unwrap();
        let layers = LayerChoice {
            style: vec![VggLayer::relu(1, 1), VggLayer::relu(2, 1)],
            style_weights: vec![1.0, 1.0],
            content: vec![VggLayer::relu(1, 2)],
        };
        (dir, vgg, layers)
    }

    /// Smooth colourful test pictures.
    pub fn picture(w: u32, h: u32, phase: f32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let v = |k: f32| (127.0 + 120.0 * (6.0 * fx * k + 4.0 * fy + phase * k).sin()) as u8;
            Rgb([v(1.0), v(1.7), v(2.3)])
        })
    }

    #[test]
    fn blend_weights_are_equal_by_default_normalised_and_checked() {
        assert_eq!(blend_weights(4, None).unwrap(), vec![0.25; 4]);
        assert_eq!(
            blend_weights(2, Some(&[3.0, 1.0])).unwrap(),
            vec![0.75, 0.25]
        );
        assert!(blend_weights(2, Some(&[1.0])).is_err());
        assert!(blend_weights(2, Some(&[0.0, 0.0])).is_err());
        assert!(blend_weights(2, Some(&[-1.0, 2.0])).is_err());
        assert!(blend_weights(1, Some(&[f32::NAN])).is_err());
    }

    #[test]
    fn divergence_advice_names_only_flags_the_command_has() {
        let diverged = || crate::optim::lbfgs::check_finite(f64::NAN, &[0.0]).unwrap_err();
        // What texture shows: no content, no --init.
        let texture = diverged().to_string();
        assert!(texture.contains("--style-weight"), "{texture}");
        assert!(!texture.contains("--init"), "{texture}");
        assert!(!texture.contains("content"), "{texture}");
        let from_noise = stylize_hint(diverged(), Init::Random).to_string();
        assert!(from_noise.contains("--init content"), "{from_noise}");
        let from_photo = stylize_hint(diverged(), Init::Content).to_string();
        assert!(!from_photo.contains("--init"), "{from_photo}");
        assert!(from_photo.contains("--content-weight"), "{from_photo}");
    }

    #[test]
    fn default_layers_follow_the_loaded_network() {
        let dir = tempfile::tempdir().unwrap();
        let names = |ls: &[VggLayer]| ls.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        for (convs, style, content) in [
            (8, vec!["relu1_1", "relu2_1", "relu3_1"], vec!["relu3_2"]),
            (
                16,
                vec!["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                vec!["relu4_2"],
            ),
        ] {
            let path = dir.path().join(format!("vgg{convs}.safetensors"));
            write_random_vgg(&path, convs, 1);
            let vgg = VggConfig::new().load(&path, &Device::flex()).unwrap();
            let l = LayerChoice::defaults_for(&vgg);
            assert_eq!(names(&l.style), style, "{convs} convs");
            assert_eq!(names(&l.content), content, "{convs} convs");
            assert_eq!(l.style_weights, vec![1.0; style.len()]);
            vgg.check(&l.all()).unwrap();
        }
    }

    #[test]
    fn style_gradient_matches_finite_differences() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let dev = vgg.device();
        let (w, h) = (16, 16);
        let targets = Targets::new(
            Vec::new(),
            style_targets(&vgg, &layers.style, &[(picture(16, 16, 1.0), 1.0)], &dev).unwrap(),
        );
        let weights = LossWeights {
            content: 0.0,
            style: 1.0,
            tv: 0.0,
        };
        let mut obj = ImageObjective::new(&vgg, &layers, &targets, weights, w, h);
        let x = noise_image(3 * 16 * 16, 3);
        let (_, grad) = obj.eval(&x).unwrap();
        let gmax = grad.iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(gmax > 0.0);
        let eps = 1e-2;
        for &i in &[0usize, 17, 130, 256 + 77, 2 * 256 + 255] {
            let mut xp = x.clone();
            xp[i] += eps;
            let mut xm = x.clone();
            xm[i] -= eps;
            let fd = (obj.eval(&xp).unwrap().0 - obj.eval(&xm).unwrap().0) / (2.0 * eps as f64);
            let diff = (fd - grad[i] as f64).abs();
            assert!(
                diff <= 0.05 * gmax as f64 + 0.05 * grad[i].abs() as f64,
                "pixel {i}: finite difference {fd}, gradient {}",
                grad[i]
            );
        }
    }

    #[test]
    fn lbfgs_lowers_the_style_transfer_loss() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let content = picture(24, 24, 0.0);
        let style = picture(24, 24, 2.0);
        let opts = StylizeOptions {
            size: 24,
            scales: 1,
            init: Init::Content,
            preserve_color: None,
            style_scale: 1.0,
            seed: 0,
            optimize: OptimizeOptions {
                method: Method::Lbfgs,
                iters: 15,
                lr: 0.02,
                weights: LossWeights {
                    content: 1.0,
                    style: 1e3,
                    tv: 0.0,
                },
            },
            memory_limit: None,
            start: None,
        };
        let mut totals = Vec::new();
        stylize(
            &vgg,
            &layers,
            &content,
            &[(style, 1.0)],
            &opts,
            &mut |p: &Progress| {
                totals.push(p.terms.total);
                Ok(())
            },
        )
        .unwrap();
        assert!(totals.windows(2).all(|w| w[1] <= w[0]), "{totals:?}");
        assert!(totals.last().unwrap() < &(0.5 * totals[0]), "{totals:?}");
    }

    #[test]
    fn luminance_transfer_keeps_the_content_chroma() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let content = picture(32, 32, 0.0);
        // A style with very different colours.
        let style = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, 255 - (y * 8) as u8, 40]));
        let run = |mode| {
            let opts = StylizeOptions {
                size: 32,
                scales: 1,
                init: Init::Content,
                preserve_color: mode,
                style_scale: 1.0,
                seed: 0,
                optimize: OptimizeOptions {
                    method: Method::Lbfgs,
                    iters: 20,
                    lr: 0.02,
                    weights: LossWeights {
                        content: 1.0,
                        style: 1e4,
                        tv: 0.0,
                    },
                },
                memory_limit: None,
                start: None,
            };
            let out = stylize(
                &vgg,
                &layers,
                &content,
                &[(style.clone(), 1.0)],
                &opts,
                &mut |_| Ok(()),
            )
            .unwrap();
            let (a, b) = (yuv_planes(&out), yuv_planes(&content));
            let chroma: f32 = (1..3)
                .map(|c| {
                    a[c].iter()
                        .zip(&b[c])
                        .map(|(x, y)| (x - y).abs())
                        .sum::<f32>()
                })
                .sum::<f32>()
                / (2 * a[0].len()) as f32;
            let luma = a[0]
                .iter()
                .zip(&b[0])
                .map(|(x, y)| (x - y).abs())
                .sum::<f32>()
                / a[0].len() as f32;
            (chroma, luma)
        };
        let (kept, luma_change) = run(Some(ColorMode::Luminance));
        let (free, _) = run(None);
        assert!(kept < 0.01, "chroma moved by {kept}");
        assert!(
            luma_change > 0.01,
            "the luminance should be stylised, moved {luma_change}"
        );
        assert!(
            free > 3.0 * kept.max(0.005),
            "without preservation chroma moves: {free}"
        );
    }

    #[test]
    fn sizes_too_large_for_memory_are_refused_with_the_number() {
        let err = check_memory(
            VggArch::Vgg19,
            VggLayer::relu(5, 4),
            8192,
            8192,
            Some(8 << 30),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("GiB") && err.contains("8192x8192"), "{err}");
        assert!(
            check_memory(
                VggArch::Vgg19,
                VggLayer::relu(3, 4),
                256,
                256,
                Some(8 << 30)
            )
            .is_ok()
        );
        assert_eq!(pyramid(512, 384, 2, 16), vec![(256, 192), (512, 384)]);
        // Too-small coarse levels are dropped, never enlarged past the final size.
        assert_eq!(pyramid(256, 13, 2, 8), vec![(256, 13)]);
        assert_eq!(pyramid(16, 11, 3, 4), vec![(8, 5), (16, 11)]);
        assert_eq!(long_side_for_short(2000, 100, 16), 320);
        assert_eq!(long_side_for_short(100, 2000, 16), 320);
        assert_eq!(
            (
                default_scales(256),
                default_scales(512),
                default_scales(1024)
            ),
            (1, 2, 3)
        );
    }
}
