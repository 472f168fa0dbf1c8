//! Training pairs made from a single folder of paintings: each painting is the target (B)
//! and a degraded copy is the input (A), so pix2pix learns to undo the degradation.
//!
//! - `edges`: line art (a thresholded difference of Gaussians, after Winnemöller et al.
//!   2012), for line art -> painting;
//! - `gray`: luminance only, for grey -> colour;
//! - `damage`: cracks, stains, fading and missing patches, for restoration.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::imaging::color::luminance_image;
use crate::util::rng::SeededRng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PairMaker {
    Edges,
    Gray,
    Damage,
}

impl PairMaker {
    /// The input image for target `clean`. Randomness (damage only) comes from `rng`.
    pub fn make(self, clean: &RgbImage, rng: &mut SeededRng) -> RgbImage {
        match self {
            PairMaker::Edges => line_art(clean),
            PairMaker::Gray => luminance_image(clean),
            PairMaker::Damage => damage(clean, rng),
        }
    }
}

fn luma(img: &RgbImage) -> image::ImageBuffer<image::Luma<f32>, Vec<f32>> {
    image::ImageBuffer::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        image::Luma([(0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32) / 255.0])
    })
}

/// Black lines on white: a difference of Gaussians (a band-pass that is zero on flat
/// areas of any brightness and negative on the dark side of edges), softly thresholded.
pub fn line_art(img: &RgbImage) -> RgbImage {
    const SIGMA: f32 = 0.8;
    const K: f32 = 1.6;
    /// Contrast below which texture is not drawn.
    const EPS: f32 = 0.008;
    const PHI: f32 = 80.0;
    let l = luma(img);
    let g1 = image::imageops::blur(&l, SIGMA);
    let g2 = image::imageops::blur(&l, SIGMA * K);
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let d = g1.get_pixel(x, y).0[0] - g2.get_pixel(x, y).0[0];
        let v = if d >= -EPS {
            1.0
        } else {
            1.0 + (PHI * (d + EPS)).tanh()
        };
        let u = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([u, u, u])
    })
}

/// Blend `colour` into pixel (x, y) with opacity `a`.
fn tint(img: &mut RgbImage, x: i64, y: i64, colour: [f32; 3], a: f32) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 {
        return;
    }
    let p = img.get_pixel_mut(x as u32, y as u32);
    for (v, c) in p.0.iter_mut().zip(colour) {
        *v = (*v as f32 * (1.0 - a) + c * a).round() as u8;
    }
}

/// Synthetic damage of the kinds conservators see: an overall fade towards yellowed paper,
/// a few brown stains, dark hairline cracks and missing (paper-coloured) patches.
pub fn damage(clean: &RgbImage, rng: &mut SeededRng) -> RgbImage {
    let mut img = clean.clone();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let scale = w.min(h);
    let paper = [
        228.0 + 20.0 * rng.uniform(),
        214.0 + 20.0 * rng.uniform(),
        178.0 + 30.0 * rng.uniform(),
    ];

    // Fading: lower contrast towards the paper colour, by a random amount.
    let fade = 0.15 + 0.35 * rng.uniform();
    for p in img.pixels_mut() {
        for (v, c) in p.0.iter_mut().zip(paper) {
            *v = (*v as f32 * (1.0 - fade) + c * fade).round() as u8;
        }
    }

    // Stains: soft-edged brown discs.
    for _ in 0..1 + rng.below(3) {
        let (cx, cy) = (rng.uniform() * w, rng.uniform() * h);
        let r = scale * (0.05 + 0.12 * rng.uniform());
        let strength = 0.25 + 0.35 * rng.uniform();
        let brown = [120.0, 82.0, 40.0];
        let (x0, x1) = ((cx - r) as i64, (cx + r) as i64 + 1);
        let (y0, y1) = ((cy - r) as i64, (cy + r) as i64 + 1);
        for y in y0..y1 {
            for x in x0..x1 {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / r;
                if d < 1.0 {
                    tint(&mut img, x, y, brown, strength * (1.0 - d * d));
                }
            }
        }
    }

    // Cracks: random walks with a slowly turning heading.
    for _ in 0..2 + rng.below(4) {
        let (mut x, mut y) = (rng.uniform() * w, rng.uniform() * h);
        let mut heading = rng.uniform() * std::f32::consts::TAU;
        let len = (scale * (0.3 + 0.6 * rng.uniform())) as usize;
        for _ in 0..len {
            heading += (rng.uniform() - 0.5) * 0.6;
            x += heading.cos();
            y += heading.sin();
            tint(&mut img, x as i64, y as i64, [35.0, 28.0, 22.0], 0.85);
        }
    }

    // Missing patches: paint lost down to the paper.
    for _ in 0..rng.below(3) {
        let pw = scale * (0.06 + 0.14 * rng.uniform());
        let ph = scale * (0.06 + 0.14 * rng.uniform());
        let (px, py) = (rng.uniform() * (w - pw), rng.uniform() * (h - ph));
        for y in py as i64..(py + ph) as i64 {
            for x in px as i64..(px + pw) as i64 {
                tint(&mut img, x, y, paper, 1.0);
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_image() -> RgbImage {
        RgbImage::from_fn(32, 32, |x, _| {
            if x < 16 {
                Rgb([30, 60, 90])
            } else {
                Rgb([220, 200, 180])
            }
        })
    }

    #[test]
    fn line_art_is_white_on_flat_areas_and_dark_at_edges() {
        let art = line_art(&step_image());
        assert_eq!(art.get_pixel(4, 16).0, [255; 3]);
        assert_eq!(art.get_pixel(28, 16).0, [255; 3]);
        // The dark side of the step gets the line.
        let darkest = (12..20).map(|x| art.get_pixel(x, 16).0[0]).min().unwrap();
        assert!(darkest < 60, "darkest {darkest}");
        let flat = line_art(&RgbImage::from_pixel(16, 16, Rgb([90, 140, 20])));
        assert!(flat.pixels().all(|p| p.0 == [255; 3]));
    }

    #[test]
    fn gray_has_equal_channels() {
        let g = PairMaker::Gray.make(&step_image(), &mut SeededRng::new(0));
        assert!(g.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
        assert_ne!(g.get_pixel(0, 0).0, g.get_pixel(31, 0).0);
    }

    #[test]
    fn damage_is_seeded_and_changes_the_image() {
        let clean = RgbImage::from_fn(64, 64, |x, y| Rgb([(x * 4) as u8, (y * 4) as u8, 128]));
        let a = damage(&clean, &mut SeededRng::new(3));
        let b = damage(&clean, &mut SeededRng::new(3));
        let c = damage(&clean, &mut SeededRng::new(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let changed = a
            .pixels()
            .zip(clean.pixels())
            .filter(|(p, q)| p != q)
            .count();
        assert!(
            changed > 64 * 64 / 2,
            "fading touches most pixels: {changed}"
        );
    }
}
