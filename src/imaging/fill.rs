//! Classical hole filling, the baseline `atelier inpaint --method classic` and the GAN are
//! measured against, and the seam correction both share.
//!
//! **Diffusion fill** (membrane / harmonic interpolation, the idea behind Bertalmio et
//! al.'s and Telea's inpainting): each hole pixel becomes the average of its four
//! neighbours, so the fill is the smoothest surface that meets the painting at the hole's
//! edge. Solved coarse to fine: a pyramid of half-size images (a coarse pixel is known
//! when any of its 2×2 children is, with their mean), the coarsest level filled with the
//! mean colour, then each finer level started from the coarser solution and relaxed by
//! Gauss–Seidel sweeps. No Rust crate we would trust provides inpainting (`imageproc` has
//! none; OpenCV bindings need the system library), hence these 100 lines.
//!
//! Limits: it carries colour, not texture, so wide holes become smooth blurs; thin cracks
//! and small losses, where a conservator's retouching also carries the neighbouring
//! colour across, come out well.

use image::{GrayImage, RgbImage};

use crate::data::masks::is_hole;

/// Gauss–Seidel sweeps per pyramid level.
const SWEEPS: usize = 40;

/// One level: colour planes (RGB interleaved, f32) and which pixels are known.
struct Level {
    w: usize,
    h: usize,
    rgb: Vec<[f32; 3]>,
    known: Vec<bool>,
}

impl Level {
    fn half(&self) -> Level {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut rgb = vec![[0.0; 3]; w * h];
        let mut known = vec![false; w * h];
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = ([0.0f32; 3], 0.0f32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (sx, sy) = (2 * x + dx, 2 * y + dy);
                    if sx < self.w && sy < self.h && self.known[sy * self.w + sx] {
                        let p = self.rgb[sy * self.w + sx];
                        (0..3).for_each(|c| sum[c] += p[c]);
                        n += 1.0;
                    }
                }
                if n > 0.0 {
                    rgb[y * w + x] = sum.map(|s| s / n);
                    known[y * w + x] = true;
                }
            }
        }
        Level { w, h, rgb, known }
    }

    /// Relax the unknown pixels towards the mean of their neighbours.
    fn relax(&mut self, sweeps: usize) {
        let holes: Vec<usize> = (0..self.w * self.h).filter(|&i| !self.known[i]).collect();
        for _ in 0..sweeps {
            for &i in &holes {
                let (x, y) = (i % self.w, i / self.w);
                let (mut sum, mut n) = ([0.0f32; 3], 0.0f32);
                let mut add = |j: usize| {
                    let p = self.rgb[j];
                    (0..3).for_each(|c| sum[c] += p[c]);
                    n += 1.0;
                };
                if x > 0 {
                    add(i - 1);
                }
                if x + 1 < self.w {
                    add(i + 1);
                }
                if y > 0 {
                    add(i - self.w);
                }
                if y + 1 < self.h {
                    add(i + self.w);
                }
                if n > 0.0 {
                    self.rgb[i] = sum.map(|s| s / n);
                }
            }
        }
    }
}

/// Fill the holes of `mask` in `image` by diffusion; other pixels are returned unchanged.
pub fn diffusion_fill(image: &RgbImage, mask: &GrayImage) -> RgbImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let base = Level {
        w,
        h,
        rgb: image.pixels().map(|p| p.0.map(|v| v as f32)).collect(),
        known: mask.pixels().map(|m| !is_hole(m.0[0])).collect(),
    };
    if base.known.iter().all(|&k| k) || !base.known.iter().any(|&k| k) {
        return image.clone();
    }
    let mut levels = vec![base];
    while levels
        .last()
        .is_some_and(|l| l.w.max(l.h) > 4 && l.known.iter().any(|k| !k))
    {
        let next = levels.last().expect("non-empty").half();
        levels.push(next);
    }
    // Coarsest: unknown pixels start at the mean known colour.
    let coarsest = levels.last_mut().expect("non-empty");
    let known: Vec<[f32; 3]> = coarsest
        .rgb
        .iter()
        .zip(&coarsest.known)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect();
    let mean = known
        .iter()
        .fold([0.0f32; 3], |a, p| [a[0] + p[0], a[1] + p[1], a[2] + p[2]])
        .map(|s| s / known.len().max(1) as f32);
    for (p, k) in coarsest.rgb.iter_mut().zip(&coarsest.known) {
        if !k {
            *p = mean;
        }
    }
    coarsest.relax(SWEEPS);
    for i in (0..levels.len() - 1).rev() {
        let (coarse, fine) = {
            let (a, b) = levels.split_at_mut(i + 1);
            (&b[0], &mut a[i])
        };
        for y in 0..fine.h {
            for x in 0..fine.w {
                let j = y * fine.w + x;
                if !fine.known[j] {
                    fine.rgb[j] = coarse.rgb[(y / 2) * coarse.w + x / 2];
                }
            }
        }
        fine.relax(SWEEPS);
    }
    let filled = &levels[0];
    let mut out = image.clone();
    for (i, p) in out.pixels_mut().enumerate() {
        if !filled.known[i] {
            p.0 = filled.rgb[i].map(|v| v.round().clamp(0.0, 255.0) as u8);
        }
    }
    out
}

/// Box blur of a plane (`radius` each side, edges clamped), separable.
fn box_blur(v: &[f32], w: usize, h: usize, radius: usize) -> Vec<f32> {
    let pass = |src: &[f32], stride: usize, n: usize, lines: usize, step: usize| {
        let mut out = vec![0.0; src.len()];
        for line in 0..lines {
            let at = |k: usize| line * step + k * stride;
            // Running sum over the window [k - r, k + r], clamped to the line.
            for k in 0..n {
                let (a, b) = (k.saturating_sub(radius), (k + radius).min(n - 1));
                let s: f32 = (a..=b).map(|j| src[at(j)]).sum();
                out[at(k)] = s / (b - a + 1) as f32;
            }
        }
        out
    };
    let horizontal = pass(v, 1, w, h, w);
    pass(&horizontal, w, h, w, 1)
}

/// Carry the fill's mismatch with the painting into the holes, fading over `radius` px:
/// the difference (original − fill) on known pixels is spread by a normalised blur (three
/// box passes ≈ a Gaussian) and added to the fill's hole pixels. A fill computed at a lower
/// resolution or slightly off in colour then meets the painting without a visible edge.
/// Known pixels are not touched.
pub fn feather_seams(
    original: &RgbImage,
    fill: &RgbImage,
    mask: &GrayImage,
    radius: u32,
) -> RgbImage {
    let (w, h) = (original.width() as usize, original.height() as usize);
    let mut out = fill.clone();
    if radius == 0 {
        return out;
    }
    let r = (radius as usize / 2).max(1);
    let known: Vec<f32> = mask
        .pixels()
        .map(|m| if is_hole(m.0[0]) { 0.0 } else { 1.0 })
        .collect();
    let mut weight = known.clone();
    for _ in 0..3 {
        weight = box_blur(&weight, w, h, r);
    }
    for c in 0..3 {
        let mut diff: Vec<f32> = original
            .pixels()
            .zip(fill.pixels())
            .zip(&known)
            .map(|((o, f), k)| (o.0[c] as f32 - f.0[c] as f32) * k)
            .collect();
        for _ in 0..3 {
            diff = box_blur(&diff, w, h, r);
        }
        for (i, p) in out.pixels_mut().enumerate() {
            if known[i] == 0.0 && weight[i] > 1e-4 {
                // Normalised: the local mean mismatch, faded by how much known painting
                // is within reach.
                let fade = (weight[i] * 4.0).min(1.0);
                let v = p.0[c] as f32 + diff[i] / weight[i] * fade;
                p.0[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Luma, Rgb};

    #[test]
    fn diffusion_carries_a_gradient_across_a_hole() {
        // A horizontal ramp: the harmonic fill of a linear function is the function.
        let img = RgbImage::from_fn(40, 30, |x, _| Rgb([(x * 6) as u8, 100, 50]));
        let mask = GrayImage::from_fn(40, 30, |x, y| {
            Luma([if (10..30).contains(&x) && (8..22).contains(&y) {
                255
            } else {
                0
            }])
        });
        let mut damaged = img.clone();
        for (p, m) in damaged.pixels_mut().zip(mask.pixels()) {
            if is_hole(m.0[0]) {
                p.0 = [255, 0, 255];
            }
        }
        let out = diffusion_fill(&damaged, &mask);
        let worst = out
            .pixels()
            .zip(img.pixels())
            .map(|(a, b)| {
                (0..3)
                    .map(|c| (a.0[c] as i32 - b.0[c] as i32).abs())
                    .max()
                    .unwrap()
            })
            .max()
            .unwrap();
        assert!(worst <= 4, "worst error {worst}");
        for ((o, d), m) in out.pixels().zip(damaged.pixels()).zip(mask.pixels()) {
            if !is_hole(m.0[0]) {
                assert_eq!(o, d);
            }
        }
    }

    #[test]
    fn feathering_moves_the_fill_towards_the_surroundings_and_keeps_known_pixels() {
        let orig = RgbImage::from_pixel(32, 32, Rgb([120, 120, 120]));
        let fill = RgbImage::from_pixel(32, 32, Rgb([100, 100, 100]));
        let mask = GrayImage::from_fn(32, 32, |x, y| {
            Luma([if (8..24).contains(&x) && (8..24).contains(&y) {
                255
            } else {
                0
            }])
        });
        let out = feather_seams(&orig, &fill, &mask, 8);
        // At the hole's edge the 20-level mismatch is carried in; known pixels keep the fill.
        assert!(
            out.get_pixel(8, 16).0[0] >= 115,
            "{:?}",
            out.get_pixel(8, 16)
        );
        assert_eq!(out.get_pixel(2, 2).0, [100; 3]);
    }
}
