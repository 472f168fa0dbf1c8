//! Style-transfer scores: how much content a stylised image kept (VGG perceptual distance
//! to its content photo), how close its style is (Gram distance to the style images), and an
//! ArtFID-like summary (Wright & Ommer 2022): (1 + content distance) × (1 + FID to the
//! style set). ArtFID uses LPIPS for the content term (`tasks::evaluate::style_scores` does,
//! with [`super::lpips`]); [`perceptual_distance`] is LPIPS's unweighted form on any VGG, the
//! fallback when LPIPS's weights are not found.

use burn::prelude::*;
use image::RgbImage;

use crate::error::Result;
use crate::imaging::tensor::{Range, image_to_tensor};
use crate::losses::{gram_matrix, style_loss};
use crate::models::vgg::{Vgg, VggLayer};

/// The layers scored: relu1_1..relu5_1 as far as the loaded network goes.
pub fn score_layers(vgg: &Vgg) -> Vec<VggLayer> {
    (1..=5)
        .map(|b| VggLayer::relu(b, 1))
        .filter(|l| vgg.has(*l))
        .collect()
}

/// Unweighted LPIPS on VGG19: at each layer, unit-normalise the channel vector at every
/// position, take the squared difference summed over channels, average over positions; then
/// average over layers. 0 for identical images; about 0.5-1 for unrelated ones.
pub fn perceptual_distance(vgg: &Vgg, a: &RgbImage, b: &RgbImage) -> Result<f64> {
    let device = vgg.device();
    let layers = score_layers(vgg);
    let b = if b.dimensions() != a.dimensions() {
        image::imageops::resize(
            b,
            a.width(),
            a.height(),
            image::imageops::FilterType::Lanczos3,
        )
    } else {
        b.clone()
    };
    let fa = vgg.features(image_to_tensor(a, Range::Unit, &device), &layers)?;
    let fb = vgg.features(image_to_tensor(&b, Range::Unit, &device), &layers)?;
    let unit = super::lpips::unit_normalize;
    let mut total = 0.0;
    for (x, y) in fa.into_iter().zip(fb) {
        let d = unit(x) - unit(y);
        total += (d.clone() * d).sum_dim(1).mean().into_scalar::<f32>() as f64;
    }
    Ok(total / layers.len() as f64)
}

/// The mean Gram matrices of a set of style images, each resized to `long_side`.
pub fn style_grams(vgg: &Vgg, styles: &[RgbImage], long_side: u32) -> Result<Vec<Tensor<3>>> {
    let device = vgg.device();
    let layers = score_layers(vgg);
    let mut acc: Option<Vec<Tensor<3>>> = None;
    for s in styles {
        let s = crate::imaging::io::resize_long_side(s, long_side);
        let g: Vec<Tensor<3>> = vgg
            .features(image_to_tensor(&s, Range::Unit, &device), &layers)?
            .into_iter()
            .map(|f| gram_matrix(f) / styles.len() as f64)
            .collect();
        acc = Some(match acc {
            None => g,
            Some(a) => a.into_iter().zip(g).map(|(x, y)| x + y).collect(),
        });
    }
    Ok(acc.unwrap_or_default())
}

/// Σ_l ‖G_l(img) − A_l‖² over the scored layers (the style loss with unit layer weights).
pub fn gram_distance(vgg: &Vgg, img: &RgbImage, targets: &[Tensor<3>]) -> Result<f64> {
    let layers = score_layers(vgg);
    let grams: Vec<Tensor<3>> = vgg
        .features(image_to_tensor(img, Range::Unit, &vgg.device()), &layers)?
        .into_iter()
        .map(gram_matrix)
        .collect();
    let loss = style_loss(&grams, targets, &vec![1.0; layers.len()]);
    Ok(loss.into_scalar::<f32>() as f64)
}

/// (1 + content distance) × (1 + FID).
pub fn art_fid(content_distance: f64, fid: f64) -> f64 {
    (1.0 + content_distance) * (1.0 + fid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::stylize::tests::{picture, random_vgg};

    #[test]
    fn distances_are_zero_for_identical_images_and_grow_with_difference() {
        let (_d, vgg, _) = random_vgg(crate::models::vgg::Border::Zero);
        let a = picture(32, 32, 0.0);
        let near = picture(32, 32, 0.2);
        let far = picture(32, 32, 2.5);
        assert!(perceptual_distance(&vgg, &a, &a).unwrap() < 1e-9);
        let (dn, df) = (
            perceptual_distance(&vgg, &a, &near).unwrap(),
            perceptual_distance(&vgg, &a, &far).unwrap(),
        );
        assert!(0.0 < dn && dn < df, "near {dn}, far {df}");
        let g = style_grams(&vgg, std::slice::from_ref(&a), 32).unwrap();
        assert!(gram_distance(&vgg, &a, &g).unwrap() < 1e-9);
        assert!(gram_distance(&vgg, &far, &g).unwrap() > 0.0);
        assert_eq!(art_fid(0.5, 3.0), 6.0);
    }
}
