//! Sizes and resampling for coarse-to-fine image optimisation: the pyramid of sizes, the
//! long side that keeps a short side usable, and bicubic resizing of CHW pixels.

use image::{ImageBuffer, Rgb};

use crate::imaging::io::dims_for_long_side;

/// The smallest long side at which a `w` x `h` image keeps its short side >= `min`.
pub fn long_side_for_short(w: u32, h: u32, min: u32) -> u64 {
    let (long, short) = (w.max(h).max(1) as u64, w.min(h).max(1) as u64);
    let mut l = (min as u64 * long).div_ceil(short).max(min as u64);
    // `dims_for_long_side` rounds; step past any size it rounds below `min`.
    while l < u32::MAX as u64 {
        let (a, b) = dims_for_long_side(w, h, l as u32);
        if a.min(b) >= min {
            break;
        }
        l += 1;
    }
    l
}

/// Resize CHW pixels in [0, 1] (bicubic), for moving a solution to the next scale.
pub fn resize_chw(v: &[f32], w: u32, h: u32, nw: u32, nh: u32) -> Vec<f32> {
    let plane = (w * h) as usize;
    let img: ImageBuffer<Rgb<f32>, Vec<f32>> = ImageBuffer::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        Rgb([v[i], v[plane + i], v[2 * plane + i]])
    });
    let r = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::CatmullRom);
    let nplane = (nw * nh) as usize;
    let mut out = vec![0f32; 3 * nplane];
    for (i, p) in r.pixels().enumerate() {
        for c in 0..3 {
            out[c * nplane + i] = p.0[c];
        }
    }
    out
}

/// Sizes of the coarse-to-fine pyramid ending at `(w, h)`, coarsest first: each level
/// halves the one after it. Levels whose short side would fall below `min_side` (what the
/// network can see) are left out rather than enlarged, so every level keeps the aspect
/// ratio and the last one is exactly `(w, h)`.
pub fn pyramid(w: u32, h: u32, levels: usize, min_side: u32) -> Vec<(u32, u32)> {
    let mut sizes: Vec<(u32, u32)> = (0..levels.max(1))
        .rev()
        .map(|k| (w >> k, h >> k))
        .filter(|&(a, b)| a.min(b) >= min_side)
        .collect();
    if sizes.is_empty() {
        sizes.push((w, h));
    }
    sizes
}

/// Default number of scales: one below 384 px, and one more per doubling above 256.
pub fn default_scales(long_side: u32) -> usize {
    let mut n = 1;
    while long_side >> n >= 256 && long_side > 384 {
        n += 1;
    }
    n
}

/// The size a `w` x `h` style image is seen at: long side `wanted`, enlarged where needed
/// so that its short side is at least `min_side` (a panorama keeps features at every layer).
pub fn style_view_dims(w: u32, h: u32, wanted: u64, min_side: u32) -> (u32, u32) {
    let long = wanted.max(long_side_for_short(w, h, min_side));
    dims_for_long_side(w, h, long.min(u32::MAX as u64) as u32)
}
