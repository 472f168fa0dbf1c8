//! Paired image metrics, for restoration and translation against ground truth: SSIM
//! (Wang et al. 2004: 11x11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, over the
//! window positions fully inside the image, averaged over RGB channels), PSNR and L1, all on
//! pixel values in [0, 1].
//!
//! burn-train 0.22 ships SSIM and PSNR, but only as `Learner` metrics behind burn's `train`
//! and `vision` features (which pull a TUI and system-metrics stack), and its SSIM zero-pads
//! the borders, which pulls scores down near edges compared with the reference definition.
//! These are a few dozen lines on the host.

use image::RgbImage;
use serde::Serialize;

use crate::error::{AtelierError, Result};

const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;
const C1: f64 = 0.01 * 0.01;
const C2: f64 = 0.03 * 0.03;

fn gaussian() -> [f64; WINDOW] {
    let c = (WINDOW / 2) as f64;
    let mut g: [f64; WINDOW] =
        std::array::from_fn(|i| (-((i as f64 - c).powi(2)) / (2.0 * SIGMA * SIGMA)).exp());
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// Separable "valid" Gaussian filter of a w x h plane.
fn filter(p: &[f64], w: usize, h: usize, g: &[f64; WINDOW]) -> (Vec<f64>, usize, usize) {
    let (ow, oh) = (w - WINDOW + 1, h - WINDOW + 1);
    let mut rows = vec![0.0; ow * h];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = (0..WINDOW).map(|k| g[k] * p[y * w + x + k]).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..WINDOW).map(|k| g[k] * rows[(y + k) * ow + x]).sum();
        }
    }
    (out, ow, oh)
}

fn check_pair(a: &RgbImage, b: &RgbImage) -> Result<()> {
    if a.dimensions() != b.dimensions() {
        return Err(AtelierError::Config(format!(
            "images differ in size: {:?} vs {:?}",
            a.dimensions(),
            b.dimensions()
        )));
    }
    Ok(())
}

/// Mean SSIM of two same-sized images (at least 11x11).
pub fn ssim(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    check_pair(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    if w < WINDOW || h < WINDOW {
        return Err(AtelierError::Config(format!(
            "SSIM needs images of at least {WINDOW}x{WINDOW}, got {w}x{h}"
        )));
    }
    let g = gaussian();
    let mut total = 0.0;
    for c in 0..3 {
        let plane =
            |img: &RgbImage| -> Vec<f64> { img.pixels().map(|p| p.0[c] as f64 / 255.0).collect() };
        let (x, y) = (plane(a), plane(b));
        let prod = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).collect::<Vec<_>>();
        let (mx, ow, oh) = filter(&x, w, h, &g);
        let (my, _, _) = filter(&y, w, h, &g);
        let (sxx, _, _) = filter(&prod(&x, &x), w, h, &g);
        let (syy, _, _) = filter(&prod(&y, &y), w, h, &g);
        let (sxy, _, _) = filter(&prod(&x, &y), w, h, &g);
        let mut sum = 0.0;
        for i in 0..ow * oh {
            let (vx, vy, cxy) = (
                sxx[i] - mx[i] * mx[i],
                syy[i] - my[i] * my[i],
                sxy[i] - mx[i] * my[i],
            );
            sum += ((2.0 * mx[i] * my[i] + C1) * (2.0 * cxy + C2))
                / ((mx[i] * mx[i] + my[i] * my[i] + C1) * (vx + vy + C2));
        }
        total += sum / (ow * oh) as f64;
    }
    Ok(total / 3.0)
}

fn mean_abs_and_sq(a: &RgbImage, b: &RgbImage) -> Result<(f64, f64)> {
    check_pair(a, b)?;
    let n = (a.width() * a.height() * 3) as f64;
    let (mut l1, mut l2) = (0.0, 0.0);
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            let d = (p.0[c] as f64 - q.0[c] as f64) / 255.0;
            l1 += d.abs();
            l2 += d * d;
        }
    }
    Ok((l1 / n, l2 / n))
}

/// PSNR in dB for pixel values in [0, 1]; infinite for identical images.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    let (_, mse) = mean_abs_and_sq(a, b)?;
    Ok(if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / mse).log10()
    })
}

/// Mean absolute difference in [0, 1].
pub fn l1(a: &RgbImage, b: &RgbImage) -> Result<f64> {
    Ok(mean_abs_and_sq(a, b)?.0)
}

/// Sum of |a − b| over the pixels `mask` marks as holes (all channels, [0, 1] units) and the
/// number of values summed: the error of an inpainting where it filled.
pub fn hole_l1(a: &RgbImage, b: &RgbImage, mask: &image::GrayImage) -> (f64, f64) {
    let (mut sum, mut n) = (0.0, 0.0);
    for ((p, q), m) in a.pixels().zip(b.pixels()).zip(mask.pixels()) {
        if crate::data::masks::is_hole(m.0[0]) {
            for c in 0..3 {
                sum += (p.0[c] as f64 - q.0[c] as f64).abs() / 255.0;
            }
            n += 3.0;
        }
    }
    (sum, n)
}

/// Mean of [`l1`] over image pairs (0 for none).
pub fn mean_l1(a: &[RgbImage], b: &[RgbImage]) -> Result<f64> {
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        sum += l1(x, y)?;
    }
    Ok(sum / a.len().min(b.len()).max(1) as f64)
}

/// Means over a set of pairs. PSNR is averaged over pairs that are not identical
/// (identical pairs are counted separately), so one perfect image does not make it infinite.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PairScores {
    pub n: usize,
    pub ssim: f64,
    pub psnr: f64,
    pub l1: f64,
    pub identical: usize,
}

pub fn score_pairs(pairs: &[(RgbImage, RgbImage)]) -> Result<PairScores> {
    let mut s = PairScores {
        n: pairs.len(),
        ..Default::default()
    };
    let mut psnr_n = 0;
    for (a, b) in pairs {
        s.ssim += ssim(a, b)?;
        s.l1 += l1(a, b)?;
        let p = psnr(a, b)?;
        if p.is_finite() {
            s.psnr += p;
            psnr_n += 1;
        } else {
            s.identical += 1;
        }
    }
    let n = pairs.len().max(1) as f64;
    s.ssim /= n;
    s.l1 /= n;
    s.psnr = if psnr_n > 0 {
        s.psnr / psnr_n as f64
    } else {
        f64::INFINITY
    };
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed)
                .wrapping_mul(2246822519);
            Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        })
    }

    #[test]
    fn ssim_of_identical_images_is_one() {
        let a = noise(40, 30, 1);
        assert!((ssim(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        assert!(ssim(&a, &noise(40, 30, 2)).unwrap() < 0.2);
    }

    #[test]
    fn ssim_matches_a_hand_computation() {
        // Constant images 0.4 and 0.6 (x255 rounded): no variance, so SSIM reduces to the
        // luminance term (2·μx·μy + C1) / (μx² + μy² + C1).
        let (va, vb) = (102u8, 153u8);
        let a = RgbImage::from_pixel(11, 11, Rgb([va; 3]));
        let b = RgbImage::from_pixel(11, 11, Rgb([vb; 3]));
        let (x, y) = (va as f64 / 255.0, vb as f64 / 255.0);
        let want = (2.0 * x * y + C1) / (x * x + y * y + C1);
        assert!((ssim(&a, &b).unwrap() - want).abs() < 1e-12);
        // One window with structure: a left/right split against its mirror, where every
        // term is a Gaussian-weighted sum written out here.
        let split = |flip: bool| {
            RgbImage::from_fn(11, 11, |x, _| {
                Rgb([if (x < 5) != flip { 200 } else { 50 }; 3])
            })
        };
        let (p, q) = (split(false), split(true));
        let g = gaussian();
        let wx = |x: usize| g[x]; // weights are separable and the rows sum to 1
        let val = |img: &RgbImage, x: usize| img.get_pixel(x as u32, 0).0[0] as f64 / 255.0;
        let mu = |img: &RgbImage| (0..11).map(|x| wx(x) * val(img, x)).sum::<f64>();
        let (mp, mq) = (mu(&p), mu(&q));
        let var = |img: &RgbImage, m: f64| {
            (0..11)
                .map(|x| wx(x) * (val(img, x) - m).powi(2))
                .sum::<f64>()
        };
        let cov = (0..11)
            .map(|x| wx(x) * (val(&p, x) - mp) * (val(&q, x) - mq))
            .sum::<f64>();
        let want = ((2.0 * mp * mq + C1) * (2.0 * cov + C2))
            / ((mp * mp + mq * mq + C1) * (var(&p, mp) + var(&q, mq) + C2));
        let got = ssim(&p, &q).unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        assert!(
            got < 0.0,
            "anti-correlated halves give negative SSIM: {got}"
        );
    }

    #[test]
    fn psnr_and_l1_of_a_known_error() {
        let a = RgbImage::from_pixel(8, 8, Rgb([100, 100, 100]));
        let b = RgbImage::from_pixel(8, 8, Rgb([151, 151, 151])); // off by 51/255 = 0.2
        assert!((psnr(&a, &b).unwrap() - 10.0 * (1.0f64 / 0.04).log10()).abs() < 1e-9);
        assert!((l1(&a, &b).unwrap() - 0.2).abs() < 1e-12);
        assert!(psnr(&a, &a).unwrap().is_infinite());
        assert!(ssim(&a, &RgbImage::new(9, 8)).is_err());
        assert!(ssim(&RgbImage::new(8, 8), &RgbImage::new(8, 8)).is_err());
    }
}
