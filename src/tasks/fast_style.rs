//! Fast stylisation: one pass of a feed-forward style network (`stylize --method fast`).
//!
//! Styles are rows of a style network (built-in ones ship in `models/`); several are
//! blended by mixing their conditional instance-norm parameters. `strength` blends the
//! result with the photo in pixel space; colour preservation keeps the photo's chroma.
//! Any size: large images go through in tiles that share the whole image's normalisation
//! statistics (`nn::tiled`), so memory is bounded and there are no seams.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use image::RgbImage;

use crate::error::Result;
use crate::imaging::color::{combine_luma_chroma, match_histograms};
use crate::imaging::tensor::Range;
use crate::models::model_file::model_kind;
use crate::models::style_net::{LoadedStyleNet, STYLE_NET_KIND, StyleNet, style_mix};
use crate::nn::norm::StatsHistory;
use crate::nn::tiled::{Tiling, run_tiled};
use crate::tasks::stylize::{ColorMode, check_strength};

/// The built-in multi-style network, shipped in `models/`.
pub const BUILTIN_STYLES_FILE: &str = "styles-fast.safetensors";

/// Where the built-in style network is: `$ATELIER_STYLES`, else the file shipped in this
/// source tree's `models/`.
pub fn builtin_styles_path() -> PathBuf {
    crate::models::model_file::shipped_model_path("ATELIER_STYLES", BUILTIN_STYLES_FILE)
}

/// Whether `s` names a style-network model file (by its recorded kind, not its name).
pub fn is_style_model(s: &str) -> bool {
    let p = Path::new(s);
    p.is_file() && model_kind(p).is_ok_and(|k| k == STYLE_NET_KIND)
}

/// Tiles for fast stylisation: larger overlap than translation, as a style network sees
/// about 55 px around each pixel (9x9 convs at full size, residual blocks at a quarter).
/// Tiles of 1024 px keep a 1024x768 image whole (tiling costs the overlaps twice) while
/// bounding memory for large ones.
pub fn default_tiling() -> Tiling {
    Tiling {
        tile: 1024,
        overlap: 128,
        align: 4,
    }
}

/// Stylise an image of any size with style weights `mix` [1, styles]; `tile` 0 means the
/// default tiling. Whole-image instance-norm statistics in every case, smoothed across a
/// video's frames by `history` when given.
pub fn stylize_tiled(
    net: &StyleNet,
    img: &RgbImage,
    mix: &Tensor<2>,
    tile: usize,
    history: Option<&Arc<StatsHistory>>,
    device: &Device,
) -> RgbImage {
    let mut tiling = default_tiling();
    if tile > 0 {
        tiling.tile = tile;
        tiling.overlap = tiling.overlap.min(tile / 4);
    }
    run_tiled(img, tiling, true, Range::Unit, device, |x, _, ctx| {
        ctx.set_history(history.cloned());
        net.forward_with(x, mix, ctx)
    })
}

/// What fast stylisation is asked for.
#[derive(Clone, Debug)]
pub struct FastOptions {
    /// Style names of the network with their blend weights (summing to 1).
    pub styles: Vec<(String, f32)>,
    /// 0 = the photo, 1 = the full style.
    pub strength: f32,
    /// Keep the photo's colours: its chroma under the stylised luminance, or the result
    /// recoloured to the photo's histogram.
    pub preserve_color: Option<ColorMode>,
    /// Tile side (0: default).
    pub tile: usize,
    /// A video's normalisation statistics carried across frames.
    pub history: Option<Arc<StatsHistory>>,
}

impl FastOptions {
    /// One of the network's styles at full strength, the photo's colours not kept, default
    /// tiles, no video state.
    pub fn style(name: &str) -> Self {
        Self {
            styles: vec![(name.to_string(), 1.0)],
            strength: 1.0,
            preserve_color: None,
            tile: 0,
            history: None,
        }
    }
}

/// Stylise `content` with the network's named styles.
pub fn stylize_fast(
    model: &LoadedStyleNet,
    content: &RgbImage,
    opts: &FastOptions,
    device: &Device,
) -> Result<RgbImage> {
    check_strength(opts.strength)?;
    let weights = opts
        .styles
        .iter()
        .map(|(name, w)| Ok((model.style_index(name)?, *w)))
        .collect::<Result<Vec<_>>>()?;
    let mix = style_mix(model.net.styles(), &weights, device);
    let mut out = stylize_tiled(
        &model.net,
        content,
        &mix,
        opts.tile,
        opts.history.as_ref(),
        device,
    );
    match opts.preserve_color {
        Some(ColorMode::Luminance) => out = combine_luma_chroma(&out, content),
        Some(ColorMode::Histogram) => out = match_histograms(&out, content),
        None => {}
    }
    if opts.strength < 1.0 {
        let s = opts.strength;
        for (o, c) in out.pixels_mut().zip(content.pixels()) {
            for k in 0..3 {
                o.0[k] = (s * o.0[k] as f32 + (1.0 - s) * c.0[k] as f32).round() as u8;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::style_net::StyleNetConfig;

    /// Tiled stylisation equals the whole-image pass away from the tile overlaps.
    #[test]
    fn tiled_equals_untiled_away_from_the_overlaps() {
        let d = Device::flex();
        d.seed(5);
        let net = StyleNetConfig::new(2)
            .with_width(4)
            .with_blocks(1)
            .with_outer_kernel(5)
            .init(&d);
        let img = RgbImage::from_fn(200, 150, |x, y| {
            image::Rgb([
                (x * 255 / 200) as u8,
                (y * 255 / 150) as u8,
                (((x / 11 + y / 5) % 2) * 220) as u8,
            ])
        });
        let mix = style_mix(2, &[(0, 0.3), (1, 0.7)], &d);
        let whole = stylize_tiled(&net, &img, &mix, 10_000, None, &d);
        let tiled = stylize_tiled(&net, &img, &mix, 96, None, &d);
        let (xs, ys) = (
            crate::nn::tiled::spans(200, 96, 24),
            crate::nn::tiled::spans(150, 96, 24),
        );
        assert!(xs.len() > 1 && ys.len() > 1, "the image must need tiles");
        let worst = crate::nn::tiled::worst_outside_overlaps(&tiled, &whole, &xs, &ys, 0);
        assert!(
            worst <= 2,
            "tiles differ from the whole image by {worst}/255"
        );
    }
}
