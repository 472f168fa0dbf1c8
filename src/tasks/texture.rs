//! Texture synthesis (Gatys, Ecker & Bethge 2015): an image from noise whose VGG Gram
//! matrices match an exemplar's. With `tileable`, the network sees the image as a torus
//! (circular padding), so the result wraps seamlessly and can be tiled.

use image::RgbImage;

use crate::error::{AtelierError, Result};
use crate::imaging::pyramid::style_view_dims;
use crate::imaging::tensor::{Range, image_from_chw};
use crate::losses::style_objective::{
    ImageObjective, LayerChoice, LossWeights, Targets, check_memory, check_style_memory,
    style_targets,
};
use crate::models::vgg::{Vgg, VggLayer};
use crate::optim::image::{Observer, OptimizeOptions, noise_image, optimize};

#[derive(Clone, Debug)]
pub struct TextureOptions {
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    pub optimize: OptimizeOptions,
    pub memory_limit: Option<u64>,
}

/// The size multiple a tileable texture needs: every pooling must halve it exactly, or the
/// torus would not close at deeper layers.
pub fn tile_multiple(vgg_layers: &LayerChoice) -> u32 {
    let pools = vgg_layers
        .style
        .iter()
        .map(|l| l.block())
        .max()
        .unwrap_or(0);
    1 << pools
}

/// `(width, height)` rounded up to the multiple a tileable texture needs.
pub fn tileable_size(vgg_layers: &LayerChoice, (w, h): (u32, u32)) -> (u32, u32) {
    let m = tile_multiple(vgg_layers);
    (w.div_ceil(m) * m, h.div_ceil(m) * m)
}

/// Synthesize a texture like `exemplar`. For a tileable result, load `vgg` with
/// `Border::Circular` and pass sizes that are multiples of [`tile_multiple`].
pub fn synthesize(
    vgg: &Vgg,
    layers: &LayerChoice,
    exemplar: &RgbImage,
    opts: &TextureOptions,
    observe: &mut Observer,
) -> Result<RgbImage> {
    vgg.check(&layers.style)?;
    let (w, h) = (opts.width, opts.height);
    if w < 16 || h < 16 {
        return Err(AtelierError::Config(format!(
            "texture size {w}x{h} is too small (at least 16x16)"
        )));
    }
    // Only the style layers run: a texture has no content term.
    let deepest = layers
        .style
        .iter()
        .copied()
        .max()
        .unwrap_or(VggLayer::relu(1, 1));
    check_memory(vgg.arch, deepest, w, h, opts.memory_limit)?;
    // The exemplar is seen at its own size, enlarged only where the deepest layer would have
    // nothing to see (a tiny or panorama exemplar), and checked before its features are made.
    let (ew, eh) = exemplar.dimensions();
    let seen = style_view_dims(ew, eh, ew.max(eh) as u64, layers.min_side().1);
    check_style_memory(
        vgg.arch,
        layers,
        seen,
        opts.memory_limit,
        "use a smaller exemplar image",
    )?;
    let exemplar = if seen == (ew, eh) {
        exemplar.clone()
    } else {
        image::imageops::resize(
            exemplar,
            seen.0,
            seen.1,
            image::imageops::FilterType::Lanczos3,
        )
    };
    let device = vgg.device();
    let targets = Targets::new(
        Vec::new(),
        style_targets(vgg, &layers.style, &[(exemplar, 1.0)], &device)?,
    );
    // Texture has no content term.
    let weights = LossWeights {
        content: 0.0,
        ..opts.optimize.weights
    };
    let mut objective = ImageObjective::new(vgg, layers, &targets, weights, w, h);
    let x0 = noise_image((3 * w * h) as usize, opts.seed);
    let v = optimize(&mut objective, x0, &opts.optimize, 0, 1, observe)?;
    Ok(image_from_chw(&v, w, h, Range::Unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::vgg::Border;
    use crate::tasks::stylize::tests::{picture, random_vgg};
    use crate::tasks::stylize::{LossWeights, Method};

    /// Mean absolute difference across the wrap-around seams, and between interior
    /// neighbours, over all channels.
    fn seam_and_interior(img: &RgbImage) -> (f32, f32) {
        let (w, h) = img.dimensions();
        let d = |a: &image::Rgb<u8>, b: &image::Rgb<u8>| {
            (0..3)
                .map(|c| (a.0[c] as f32 - b.0[c] as f32).abs())
                .sum::<f32>()
                / 3.0
        };
        let mut seam = 0.0;
        for y in 0..h {
            seam += d(img.get_pixel(w - 1, y), img.get_pixel(0, y));
        }
        for x in 0..w {
            seam += d(img.get_pixel(x, h - 1), img.get_pixel(x, 0));
        }
        let mut inner = 0.0;
        for y in 0..h {
            for x in 0..w - 1 {
                inner += d(img.get_pixel(x, y), img.get_pixel(x + 1, y));
            }
        }
        (seam / (w + h) as f32, inner / (h * (w - 1)) as f32)
    }

    fn texture(border: Border) -> RgbImage {
        let (_d, vgg, layers) = random_vgg(border);
        let opts = TextureOptions {
            width: 32,
            height: 32,
            seed: 5,
            optimize: OptimizeOptions {
                method: Method::Lbfgs,
                iters: 40,
                lr: 0.02,
                weights: LossWeights {
                    content: 0.0,
                    style: 1e4,
                    tv: 1.0,
                },
            },
            memory_limit: None,
        };
        synthesize(&vgg, &layers, &picture(48, 48, 0.5), &opts, &mut |_| Ok(())).unwrap()
    }

    #[test]
    fn tileable_textures_wrap_seamlessly() {
        let (seam, inner) = seam_and_interior(&texture(Border::Circular));
        eprintln!("tileable seam {seam} interior {inner}");
        assert!(seam < 1.5 * inner, "seam {seam} vs interior {inner}");
        // The control: without circular padding the edges do not meet.
        let (seam_plain, inner_plain) = seam_and_interior(&texture(Border::Zero));
        eprintln!("plain seam {seam_plain} interior {inner_plain}");
        assert!(
            seam_plain > 2.0 * inner_plain,
            "plain seam {seam_plain} vs {inner_plain}"
        );
    }

    #[test]
    fn tile_multiple_follows_the_deepest_layer() {
        let (_d, _vgg, layers) = random_vgg(Border::Zero);
        assert_eq!(tile_multiple(&layers), 2);
        assert_eq!(tileable_size(&layers, (255, 256)), (256, 256));
        assert_eq!(tileable_size(&layers, (17, 3)), (18, 4));
    }
}
