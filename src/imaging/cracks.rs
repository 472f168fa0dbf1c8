//! A simple crack-and-loss detector (`atelier inpaint --detect cracks`): a starting mask a
//! restorer then edits, not a finished one.
//!
//! Thin dark lines (cracks) are where a grey-level closing (max then min filter) rises
//! above the image: the black top-hat. Thin bright lines and small bright spots (losses
//! down to a light ground) are where an opening falls below it: the white top-hat. Both
//! are measured on luminance with a square of `2·width + 1` pixels, so lines up to about
//! `2·width` px wide respond. A pixel is marked when its response exceeds
//! `threshold` (in [0, 1] luminance) and is part of a connected group of at least
//! `min_area` pixels (dust and grain are left out); the mask is then grown by one pixel so
//! the fill covers the crack's soft edge.
//!
//! Limits: any thin dark line is a crack to it, so ink outlines, hatching and hair in
//! KaoKore-like paintings are marked too; wide losses (wider than about `2·width`) are
//! only outlined; cracks with less contrast than `threshold` are missed. Erase what it got
//! wrong (paint black over it) before filling.

use image::{GrayImage, Luma, RgbImage};

use super::color::yuv_planes;
use crate::data::masks::{HOLE, connected_groups, morph4};

#[derive(Clone, Copy, Debug)]
pub struct CrackDetector {
    /// Half-width of the structuring square (lines up to about twice this are found).
    pub width: usize,
    /// Top-hat response, in luminance units of [0, 1], above which a pixel is marked.
    pub threshold: f32,
    /// Look for bright lines and spots (losses) as well as dark ones.
    pub bright: bool,
    /// Smallest connected group kept, in pixels.
    pub min_area: usize,
}

impl Default for CrackDetector {
    fn default() -> Self {
        Self {
            width: 2,
            threshold: 0.12,
            bright: true,
            min_area: 12,
        }
    }
}

/// Separable max (or min) filter over a (2r+1)² square.
fn rank_filter(v: &[f32], w: usize, h: usize, r: usize, max: bool) -> Vec<f32> {
    let pick = |a: f32, b: f32| if max { a.max(b) } else { a.min(b) };
    let pass = |src: &[f32], horizontal: bool| {
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                let (k, n) = if horizontal { (x, w) } else { (y, h) };
                let (a, b) = (k.saturating_sub(r), (k + r).min(n - 1));
                let mut acc = if max { f32::MIN } else { f32::MAX };
                for j in a..=b {
                    let i = if horizontal { y * w + j } else { j * w + x };
                    acc = pick(acc, src[i]);
                }
                out[y * w + x] = acc;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

impl CrackDetector {
    pub fn detect(&self, img: &RgbImage) -> GrayImage {
        let (w, h) = (img.width() as usize, img.height() as usize);
        // Luminance (BT.601 Y) in [0, 1].
        let [luma, _, _] = yuv_planes(img);
        let r = self.width.max(1);
        let closing = rank_filter(&rank_filter(&luma, w, h, r, true), w, h, r, false);
        let mut marked: Vec<bool> = closing
            .iter()
            .zip(&luma)
            .map(|(c, l)| c - l > self.threshold)
            .collect();
        if self.bright {
            let opening = rank_filter(&rank_filter(&luma, w, h, r, false), w, h, r, true);
            for ((m, o), l) in marked.iter_mut().zip(&opening).zip(&luma) {
                *m |= l - o > self.threshold;
            }
        }
        drop_small_groups(&mut marked, w, self.min_area);
        let grown = morph4(&marked, w, true);
        GrayImage::from_fn(w as u32, h as u32, |x, y| {
            Luma([if grown[y as usize * w + x as usize] {
                HOLE
            } else {
                0
            }])
        })
    }
}

/// Unmark 8-connected groups smaller than `min_area`.
fn drop_small_groups(marked: &mut [bool], w: usize, min_area: usize) {
    for group in connected_groups(marked, w) {
        if group.len() < min_area {
            for i in group {
                marked[i] = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn finds_a_dark_crack_and_ignores_flat_paint_and_specks() {
        let mut img = RgbImage::from_pixel(64, 64, Rgb([200, 180, 150]));
        for x in 5..60 {
            let y = 20 + x / 8;
            img.put_pixel(x, y, Rgb([40, 30, 20]));
        }
        // A 2-pixel speck of dirt: too small to keep.
        img.put_pixel(50, 50, Rgb([40, 30, 20]));
        img.put_pixel(51, 50, Rgb([40, 30, 20]));
        let mask = CrackDetector::default().detect(&img);
        assert_eq!(mask.get_pixel(30, 20 + 30 / 8).0[0], HOLE);
        assert_eq!(mask.get_pixel(50, 50).0[0], 0);
        assert_eq!(mask.get_pixel(10, 50).0[0], 0);
        let marked = mask.pixels().filter(|p| p.0[0] == HOLE).count();
        // The line (55 px) grown by a pixel each side: about 3 × 55.
        assert!((100..260).contains(&marked), "{marked}");
    }
}
