//! Flicker: how much a stylised clip changes between frames beyond what the original
//! itself does.
//!
//! Temporal error of one frame pair: the mean over pixels and channels (0-1 scale) of
//! |(S_t - S_{t-1}) - (O_t - O_{t-1})|, S the stylised frames and O the original's, at the
//! stylised size. A perfectly stable stylisation of a still shot scores 0; so does one
//! that changes exactly as the scene does. It needs no optical flow, so it also counts
//! honest motion in textured regions: compare clips of the same shot, not across shots.

use image::RgbImage;

/// The temporal error of one step (see the module documentation).
pub fn temporal_error(original: (&RgbImage, &RgbImage), stylized: (&RgbImage, &RgbImage)) -> f64 {
    let (o0, o1) = original;
    let (s0, s1) = stylized;
    assert!(
        o0.dimensions() == o1.dimensions()
            && s0.dimensions() == s1.dimensions()
            && o0.dimensions() == s0.dimensions(),
        "frames of one size"
    );
    let mut sum = 0f64;
    for (((a0, a1), b0), b1) in o0
        .pixels()
        .zip(o1.pixels())
        .zip(s0.pixels())
        .zip(s1.pixels())
    {
        for k in 0..3 {
            let dorig = a1.0[k] as f64 - a0.0[k] as f64;
            let dsty = b1.0[k] as f64 - b0.0[k] as f64;
            sum += (dsty - dorig).abs();
        }
    }
    sum / (3.0 * o0.width() as f64 * o0.height() as f64 * 255.0)
}

/// Mean absolute change between two frames (0-1): the original's own motion, for scale.
pub fn frame_change(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum();
    sum / (a.as_raw().len().max(1) as f64 * 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_that_follow_the_original_cost_nothing() {
        let o0 = RgbImage::from_fn(6, 4, |x, y| image::Rgb([(x * 30) as u8, (y * 40) as u8, 9]));
        let o1 = RgbImage::from_fn(6, 4, |x, y| {
            image::Rgb([(x * 30 + 5) as u8, (y * 40) as u8, 9])
        });
        // The stylised frames change exactly as the original: 0.
        let s0 = RgbImage::from_fn(6, 4, |x, _| image::Rgb([(x * 20) as u8, 50, 60]));
        let s1 = RgbImage::from_fn(6, 4, |x, _| image::Rgb([(x * 20 + 5) as u8, 50, 60]));
        assert_eq!(temporal_error((&o0, &o1), (&s0, &s1)), 0.0);
        // A flicker of 51 levels in every channel of a still original: 0.2.
        let flick = RgbImage::from_fn(6, 4, |x, _| image::Rgb([(x * 20 + 51) as u8, 101, 111]));
        let e = temporal_error((&o0, &o0), (&s0, &flick));
        assert!((e - 0.2).abs() < 1e-9, "{e}");
        assert!((frame_change(&s0, &flick) - 0.2).abs() < 1e-9);
    }
}
