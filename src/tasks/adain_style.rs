//! Arbitrary style in one pass (`stylize --method adain`): any painting's encoder
//! statistics given to the photo's features, then decoded.
//!
//! Several paintings blend by weighting their statistics; a mask puts one painting where
//! it is white and another where it is black; `strength` moves from the photo's own
//! features (0) to the full transfer (1) in feature space. Large photos go through in tiles
//! that share the whole image's statistics at the AdaIN layer, so there are no seams and
//! memory is that of one tile.

use std::path::PathBuf;
use std::sync::Arc;

use burn::prelude::*;
use image::{GrayImage, RgbImage};

use crate::error::{AtelierError, Result};
use crate::imaging::color::{combine_luma_chroma, match_histograms};
use crate::imaging::io::resize_long_side;
use crate::imaging::tensor::{Range, image_to_tensor};
use crate::models::adain::{AdainModel, StyleTarget};
use crate::nn::norm::{ChannelStats, StatsHistory};
use crate::nn::tiled::{Tiling, run_tiled};
use crate::tasks::stylize::{ColorMode, check_strength};

/// The shipped AdaIN decoder, in `models/`.
pub const BUILTIN_ADAIN_FILE: &str = "adain-decoder.safetensors";

/// Where the built-in AdaIN decoder is: `$ATELIER_ADAIN`, else the file shipped in this
/// source tree's `models/`.
pub fn builtin_adain_path() -> PathBuf {
    crate::models::model_file::shipped_model_path("ATELIER_ADAIN", BUILTIN_ADAIN_FILE)
}

/// Style images smaller than this on their short side are upscaled (with a warning): the
/// statistics at relu4_1 of a tiny image come from a handful of positions.
pub const MIN_STYLE_SIDE: u32 = 64;

/// What AdaIN stylisation is asked for.
#[derive(Clone, Debug)]
pub struct AdainOptions {
    /// Paintings with their blend weights (summing to 1).
    pub styles: Vec<(RgbImage, f32)>,
    /// With exactly two styles: the first where the mask is white, the second where it is
    /// black (grey mixes them).
    pub mask: Option<GrayImage>,
    /// 0 = the decoder's reconstruction of the photo, 1 = the full transfer.
    pub strength: f32,
    /// Luminance: the photo's chroma under the result's luminance; histogram: each
    /// painting recoloured to the photo's colours before its statistics are taken.
    pub preserve_color: Option<ColorMode>,
    /// Long side the paintings are seen at (their scale of brush strokes).
    pub style_size: u32,
    /// Tile side (0: the default).
    pub tile: usize,
}

/// Tiles for AdaIN: starts on the encoder's pooling grid; an overlap wider than the
/// encoder's and decoder's reach (about 60 px each way at relu4_1).
pub fn adain_tiling(model: &AdainModel, tile: usize) -> Tiling {
    let tile = if tile == 0 { 1024 } else { tile };
    Tiling {
        tile,
        overlap: 128.min(tile / 4),
        align: model.config.factor(),
    }
}

/// A painting's statistics as the network sees it: resized to `style_size` on its long side
/// (upscaled with a warning when tiny), recoloured first if asked.
pub fn style_statistics(
    model: &AdainModel,
    style: &RgbImage,
    content: &RgbImage,
    opts: &AdainOptions,
    device: &Device,
) -> ChannelStats {
    let mut s = resize_long_side(style, opts.style_size);
    let short = s.width().min(s.height());
    if short < MIN_STYLE_SIDE {
        tracing::warn!(
            "a style image is only {}x{} at --style-size {}: upscaled to {MIN_STYLE_SIDE} px \
             on its short side (its statistics will be coarse)",
            s.width(),
            s.height(),
            opts.style_size
        );
        let k = MIN_STYLE_SIDE as f64 / short as f64;
        s = image::imageops::resize(
            &s,
            (s.width() as f64 * k).round() as u32,
            (s.height() as f64 * k).round() as u32,
            image::imageops::FilterType::CatmullRom,
        );
    }
    if opts.preserve_color == Some(ColorMode::Histogram) {
        s = match_histograms(&s, content);
    }
    model.style_stats(image_to_tensor(&s, Range::Unit, device))
}

/// Stylise `content` with the paintings in `opts`.
pub fn stylize_adain(
    model: &AdainModel,
    content: &RgbImage,
    opts: &AdainOptions,
    device: &Device,
) -> Result<RgbImage> {
    let target = adain_target(model, content, opts, device)?;
    Ok(apply_adain(model, content, &target, opts, None, device))
}

/// What the photo's features are given: the paintings' statistics, blended or masked. A
/// video computes it once, from its first frame, and reuses it for every frame.
pub fn adain_target(
    model: &AdainModel,
    content: &RgbImage,
    opts: &AdainOptions,
    device: &Device,
) -> Result<StyleTarget> {
    check_strength(opts.strength)?;
    if opts.styles.is_empty() {
        return Err(AtelierError::Config(
            "at least one style image is needed".into(),
        ));
    }
    let stats: Vec<(ChannelStats, f32)> = opts
        .styles
        .iter()
        .map(|(img, w)| (style_statistics(model, img, content, opts, device), *w))
        .collect();
    Ok(match &opts.mask {
        None => StyleTarget::Uniform(ChannelStats::blend(&stats)),
        Some(mask) => {
            if stats.len() != 2 {
                return Err(AtelierError::Config(format!(
                    "--mask needs exactly two styles (the first where the mask is white, the \
                     second where it is black), got {}",
                    stats.len()
                )));
            }
            StyleTarget::Masked {
                mask: mask_tensor(mask, content.width(), content.height(), device),
                white: stats[0].0.clone(),
                black: stats[1].0.clone(),
            }
        }
    })
}

/// Decode `content` with `target`'s statistics (tiled when large); `history` carries the
/// photo's feature statistics across a video's frames.
pub fn apply_adain(
    model: &AdainModel,
    content: &RgbImage,
    target: &StyleTarget,
    opts: &AdainOptions,
    history: Option<&Arc<StatsHistory>>,
    device: &Device,
) -> RgbImage {
    let tiling = adain_tiling(model, opts.tile);
    let mut out = run_tiled(
        content,
        tiling,
        true,
        Range::Unit,
        device,
        |x, [y0, x0], ctx| {
            ctx.set_history(history.cloned());
            let target = match target {
                StyleTarget::Masked { mask, white, black } => {
                    let [_, _, h, w] = x.dims();
                    StyleTarget::Masked {
                        mask: mask.clone().slice(s![.., .., y0..y0 + h, x0..x0 + w]),
                        white: white.clone(),
                        black: black.clone(),
                    }
                }
                t => t.clone(),
            };
            model.stylize_with(x, &target, opts.strength, ctx)
        },
    );
    if opts.preserve_color == Some(ColorMode::Luminance) {
        out = combine_luma_chroma(&out, content);
    }
    out
}

/// A mask as [1, 1, H, W] in [0, 1] at the photo's size (resized, with a note, when it
/// is another size).
pub fn mask_tensor(mask: &GrayImage, w: u32, h: u32, device: &Device) -> Tensor<4> {
    let m = if mask.dimensions() == (w, h) {
        mask.clone()
    } else {
        tracing::warn!(
            "the mask is {}x{}, the photo {w}x{h}: mask resized to the photo",
            mask.width(),
            mask.height()
        );
        image::imageops::resize(mask, w, h, image::imageops::FilterType::Triangle)
    };
    let v: Vec<f32> = m.pixels().map(|p| p.0[0] as f32 / 255.0).collect();
    Tensor::from_data(TensorData::new(v, [1, 1, h as usize, w as usize]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::adain::{AdainDecoder, AdainDecoderConfig};
    use crate::models::vgg::{Vgg, VggArch, VggConfig, VggLayer, write_random_vgg_of};
    use burn::module::Param;

    /// A random VGG16 to relu3_1 and a random slim decoder for it.
    fn parts(dir: &std::path::Path) -> (Vgg, AdainDecoder, AdainDecoderConfig) {
        let d = Device::flex();
        d.seed(11);
        let path = dir.join("vgg16.safetensors");
        write_random_vgg_of(VggArch::Vgg16, &path, 5, 3);
        let vgg = VggConfig::new().load(&path, &d).unwrap();
        let cfg = AdainDecoderConfig::new()
            .with_depth("relu3_1".into())
            .with_width(8);
        // A random decoder's output varies by a few hundredths: amplify it and centre it on
        // mid-grey, so styles and strengths show in 8-bit pixels.
        let mut dec = cfg.init(&d);
        let x = image_to_tensor(&photo(64, 48, 1), Range::Unit, &d);
        let f = vgg.features(x, &[VggLayer::relu(3, 1)]).unwrap().remove(0);
        let last = dec.blocks.last_mut().unwrap().convs.last_mut().unwrap();
        last.weight = Param::from_tensor(last.weight.val() * 40.0);
        let bias = last.bias.as_ref().unwrap().val() * 40.0;
        last.bias = Some(Param::from_tensor(bias.clone()));
        let mean = dec.forward(f).mean().into_scalar::<f32>();
        let last = dec.blocks.last_mut().unwrap().convs.last_mut().unwrap();
        last.bias = Some(Param::from_tensor(bias.add_scalar(0.5 - mean)));
        (vgg, dec, cfg)
    }

    fn photo(w: u32, h: u32, k: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((((x + k) / 7 + y / 5) % 2) * 200 + 20) as u8,
            ])
        })
    }

    fn diff(a: &RgbImage, b: &RgbImage) -> i32 {
        a.pixels()
            .zip(b.pixels())
            .flat_map(|(p, q)| (0..3).map(move |c| (p.0[c] as i32 - q.0[c] as i32).abs()))
            .max()
            .unwrap()
    }

    fn opts(styles: Vec<(RgbImage, f32)>) -> AdainOptions {
        AdainOptions {
            styles,
            mask: None,
            strength: 1.0,
            preserve_color: None,
            style_size: 96,
            tile: 0,
        }
    }

    #[test]
    fn strength_masks_and_tiles() {
        let dir = tempfile::tempdir().unwrap();
        let (vgg, decoder, config) = parts(dir.path());
        let model = AdainModel {
            encoder: &vgg,
            decoder: &decoder,
            config: &config,
        };
        let d = Device::flex();
        let content = photo(72, 56, 0);
        let (a, b) = (
            photo(90, 90, 3),
            RgbImage::from_pixel(80, 80, image::Rgb([200, 30, 60])),
        );

        // Strength 0 is the decoder's reconstruction of the photo's own features.
        let mut o = opts(vec![(a.clone(), 1.0)]);
        o.strength = 0.0;
        let zero = stylize_adain(&model, &content, &o, &d).unwrap();
        let x = image_to_tensor(&content, Range::Unit, &d);
        let recon = crate::imaging::tensor::tensor_to_images(
            model.decoder.forward(model.encode(x)).clamp(0.0, 1.0),
            Range::Unit,
        )
        .remove(0);
        assert!(diff(&zero, &recon) <= 1, "strength 0 must reconstruct");
        let full = stylize_adain(&model, &content, &opts(vec![(a.clone(), 1.0)]), &d).unwrap();
        assert!(diff(&zero, &full) > 3, "strength 1 must differ from 0");

        // A blend with all weight on one style is that style.
        let blend = stylize_adain(
            &model,
            &content,
            &opts(vec![(a.clone(), 1.0), (b.clone(), 0.0)]),
            &d,
        )
        .unwrap();
        assert!(
            diff(&blend, &full) <= 1,
            "blend 1,0: {}",
            diff(&blend, &full)
        );
        // An all-white mask is the first style alone, all black the second.
        let only_b = stylize_adain(&model, &content, &opts(vec![(b.clone(), 1.0)]), &d).unwrap();
        for (value, want) in [(255u8, &full), (0u8, &only_b)] {
            let mut o = opts(vec![(a.clone(), 0.5), (b.clone(), 0.5)]);
            // Another size than the photo: resized.
            o.mask = Some(GrayImage::from_pixel(30, 20, image::Luma([value])));
            let got = stylize_adain(&model, &content, &o, &d).unwrap();
            assert!(diff(&got, want) <= 1, "mask {value}: {}", diff(&got, want));
        }
        assert!(diff(&full, &only_b) > 3, "the two styles must differ");
        // A mask with three styles is an error, not a panic.
        let mut o = opts(vec![(a.clone(), 0.4), (b.clone(), 0.3), (a.clone(), 0.3)]);
        o.mask = Some(GrayImage::new(4, 4));
        assert!(stylize_adain(&model, &content, &o, &d).is_err());

        // Tiles share the whole image's statistics: equal away from their overlaps.
        let big = photo(200, 136, 2);
        let whole = stylize_adain(&model, &big, &opts(vec![(a.clone(), 1.0)]), &d).unwrap();
        let mut o = opts(vec![(a, 1.0)]);
        o.tile = 96;
        let tiled = stylize_adain(&model, &big, &o, &d).unwrap();
        let t = adain_tiling(&model, 96);
        let (xs, ys) = (
            crate::nn::tiled::spans_aligned(200, t.tile, t.overlap, t.align),
            crate::nn::tiled::spans_aligned(136, t.tile, t.overlap, t.align),
        );
        assert!(xs.len() > 1 && ys.len() > 1, "the image must need tiles");
        // A margin for the encoder's coarser grid (it pools to 1/4 here).
        let worst = crate::nn::tiled::worst_outside_overlaps(&tiled, &whole, &xs, &ys, 8);
        assert!(
            worst <= 2,
            "tiles differ from the whole image by {worst}/255"
        );
    }
}
