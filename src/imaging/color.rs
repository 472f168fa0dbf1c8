//! Colour: YUV (BT.601) conversion, luminance-only images, chroma transfer and histogram
//! matching. These serve colour preservation in style transfer (Gatys et al. 2017,
//! "Controlling perceptual factors"): either transfer style on luminance only and put the
//! content's chroma back, or recolour the style image to the content's histogram first.

use image::{Rgb, RgbImage};

/// RGB in [0, 1] to YUV (BT.601, analogue form).
pub fn rgb_to_yuv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [y, 0.492 * (b - y), 0.877 * (r - y)]
}

pub fn yuv_to_rgb([y, u, v]: [f32; 3]) -> [f32; 3] {
    let r = y + v / 0.877;
    let b = y + u / 0.492;
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b]
}

fn unit(p: &Rgb<u8>) -> [f32; 3] {
    p.0.map(|c| c as f32 / 255.0)
}

fn byte(v: [f32; 3]) -> Rgb<u8> {
    Rgb(v.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8))
}

/// Y, U, V planes of an image.
pub fn yuv_planes(img: &RgbImage) -> [Vec<f32>; 3] {
    let mut planes = [Vec::new(), Vec::new(), Vec::new()];
    for p in img.pixels() {
        let yuv = rgb_to_yuv(unit(p));
        for c in 0..3 {
            planes[c].push(yuv[c]);
        }
    }
    planes
}

/// The image's luminance as a grey RGB image.
pub fn luminance_image(img: &RgbImage) -> RgbImage {
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let l = rgb_to_yuv(unit(img.get_pixel(x, y)))[0];
        byte([l; 3])
    })
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f32;
    let m = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / n;
    (m, var.sqrt())
}

/// `source`'s luminance shifted and scaled to the mean and spread of `reference`'s, as a grey
/// image (the style side of luminance-only transfer).
pub fn matched_luminance(source: &RgbImage, reference: &RgbImage) -> RgbImage {
    let ys = &yuv_planes(source)[0];
    let (ms, ss) = mean_std(ys);
    let (mr, sr) = mean_std(&yuv_planes(reference)[0]);
    let k = sr / ss.max(1e-6);
    let mut it = ys.iter();
    RgbImage::from_fn(source.width(), source.height(), |_, _| {
        let y = *it.next().expect("one luminance per pixel");
        byte([(y - ms) * k + mr; 3])
    })
}

/// `luma`'s luminance with `chroma`'s U and V (same size).
pub fn combine_luma_chroma(luma: &RgbImage, chroma: &RgbImage) -> RgbImage {
    assert_eq!(luma.dimensions(), chroma.dimensions(), "same size");
    RgbImage::from_fn(luma.width(), luma.height(), |x, y| {
        let l = rgb_to_yuv(unit(luma.get_pixel(x, y)))[0];
        let [_, u, v] = rgb_to_yuv(unit(chroma.get_pixel(x, y)));
        byte(yuv_to_rgb([l, u, v]))
    })
}

/// Each channel of `source` remapped so its histogram matches `reference`'s (CDF matching).
pub fn match_histograms(source: &RgbImage, reference: &RgbImage) -> RgbImage {
    let cdf = |img: &RgbImage, c: usize| {
        let mut hist = [0u64; 256];
        img.pixels().for_each(|p| hist[p.0[c] as usize] += 1);
        let total = hist.iter().sum::<u64>().max(1) as f64;
        let mut acc = 0u64;
        hist.map(|h| {
            acc += h;
            acc as f64 / total
        })
    };
    let maps: [[u8; 256]; 3] = std::array::from_fn(|c| {
        let (src, refc) = (cdf(source, c), cdf(reference, c));
        std::array::from_fn(|v| {
            // The smallest reference level whose CDF reaches the source level's.
            refc.iter()
                .position(|&r| r >= src[v] - 1e-12)
                .unwrap_or(255) as u8
        })
    });
    RgbImage::from_fn(source.width(), source.height(), |x, y| {
        let p = source.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|c| maps[c][p[c] as usize]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_round_trips() {
        for rgb in [
            [0.2, 0.5, 0.9],
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.3, 0.3, 0.3],
        ] {
            let back = yuv_to_rgb(rgb_to_yuv(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-5, "{rgb:?} -> {back:?}");
            }
        }
        assert_eq!(rgb_to_yuv([0.3, 0.3, 0.3])[1..], [0.0, 0.0]);
    }

    #[test]
    fn chroma_comes_from_the_second_image() {
        let luma = RgbImage::from_fn(8, 8, |x, _| Rgb([(x * 30) as u8; 3]));
        let chroma = RgbImage::from_pixel(8, 8, Rgb([180, 90, 60]));
        let out = combine_luma_chroma(&luma, &chroma);
        let (o, c, l) = (yuv_planes(&out), yuv_planes(&chroma), yuv_planes(&luma));
        // Clipping to the RGB cube bends colours only near black and white.
        let mid: Vec<usize> = (0..64).filter(|&i| (0.2..0.8).contains(&l[0][i])).collect();
        assert!(mid.len() >= 32);
        for i in mid {
            assert!((o[0][i] - l[0][i]).abs() < 0.01);
            assert!((o[1][i] - c[1][i]).abs() < 0.01 && (o[2][i] - c[2][i]).abs() < 0.01);
        }
    }

    #[test]
    fn histogram_matching_takes_the_reference_levels() {
        let src = RgbImage::from_fn(16, 1, |x, _| Rgb([x as u8, 0, 0]));
        let reference = RgbImage::from_fn(16, 1, |x, _| Rgb([100 + 2 * x as u8, 7, 0]));
        let out = match_histograms(&src, &reference);
        let reds: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        let want: Vec<u8> = (0..16).map(|x| 100 + 2 * x).collect();
        assert_eq!(reds, want);
        assert!(out.pixels().all(|p| p.0[1] == 7));
    }
}
