//! Large images through fully convolutional image-to-image networks, in tiles.
//!
//! Instance norm would normalise each tile by its own statistics and so colour tiles
//! differently; instead, for networks with a bounded receptive field (ResNet translators,
//! style networks), tiles run in lockstep and every norm layer uses the whole image's
//! statistics, summed over the tiles' non-overlapping cores (see [`NormContext`]). Tiles
//! then agree with the untiled result away from their borders, and the overlaps are blended
//! with linear ramps. Only one tile computes at a time, so memory is that of one tile.

use burn::prelude::*;
use image::RgbImage;

use super::norm::{NormContext, StatsExchange};
use crate::imaging::tensor::{Range, image_from_chw, image_to_tensor, tensor_to_images};

/// Tiles for large images.
#[derive(Clone, Copy, Debug)]
pub struct Tiling {
    /// Tile side in pixels; images no larger than this go through whole.
    pub tile: usize,
    /// Overlap between neighbouring tiles.
    pub overlap: usize,
    /// Tile starts are multiples of this: the network's total down-sampling factor, so
    /// tiles see the same pixel grid as the whole image (4 for the generators, 8 for a VGG
    /// encoder to relu4_1).
    pub align: usize,
}

impl Default for Tiling {
    fn default() -> Self {
        Self {
            tile: 512,
            overlap: 64,
            align: 4,
        }
    }
}

/// One axis cut into tiles: (start, end, core start, core end), cores partitioning the
/// axis at overlap midpoints. Starts are multiples of 4, the generators' down-sampling
/// factor, so tiles see the same pixel grid as the whole image.
pub fn spans(len: usize, tile: usize, overlap: usize) -> Vec<(usize, usize, usize, usize)> {
    spans_aligned(len, tile, overlap, 4)
}

/// [`spans`] with starts (and core bounds) multiples of `align`.
pub fn spans_aligned(
    len: usize,
    tile: usize,
    overlap: usize,
    align: usize,
) -> Vec<(usize, usize, usize, usize)> {
    let a = align.max(1);
    if len <= tile {
        return vec![(0, len, 0, len)];
    }
    // As few tiles as cover the axis with the overlap, all of one length, spread evenly:
    // the less area tiles repeat, the less memory and time tiling costs.
    let step = (tile - overlap.min(tile / 2)).max(a);
    let n = (len - overlap).div_ceil(step).max(2);
    let length = (len + (n - 1) * overlap).div_ceil(n).div_ceil(a) * a;
    // The last tile ends at the image edge (so it may be up to a-1 px longer than the others).
    let last = (len - length.min(len)) / a * a;
    let starts: Vec<usize> = (0..n).map(|k| k * last / (n - 1) / a * a).collect();
    let ends: Vec<usize> = starts
        .iter()
        .map(|&s| if s == last { len } else { s + length })
        .collect();
    (0..starts.len())
        .map(|k| {
            let c0 = if k == 0 {
                0
            } else {
                (starts[k] + ends[k - 1]) / 2 / a * a
            };
            let c1 = if k + 1 == starts.len() {
                len
            } else {
                (starts[k + 1] + ends[k]) / 2 / a * a
            };
            (starts[k], ends[k], c0, c1)
        })
        .collect()
}

/// The largest channel difference between two images of one size, outside the tile
/// overlaps of `xs` and `ys` widened by `margin` (tests of exact tiling compare there).
#[cfg(test)]
pub(crate) fn worst_outside_overlaps(
    a: &RgbImage,
    b: &RgbImage,
    xs: &[(usize, usize, usize, usize)],
    ys: &[(usize, usize, usize, usize)],
    margin: usize,
) -> i32 {
    let in_overlap = |p: usize, s: &[(usize, usize, usize, usize)]| {
        s.windows(2)
            .any(|w| p + margin >= w[1].0 && p < w[0].1 + margin)
    };
    let mut worst = 0;
    for (x, y, p) in a.enumerate_pixels() {
        if in_overlap(x as usize, xs) || in_overlap(y as usize, ys) {
            continue;
        }
        let q = b.get_pixel(x, y);
        for c in 0..3 {
            worst = worst.max((p.0[c] as i32 - q.0[c] as i32).abs());
        }
    }
    worst
}

/// Blend weight along one axis at position `p` of a tile spanning `s..e`: ramps up over the
/// overlap with the previous tile and down over the overlap with the next.
fn ramp(
    p: usize,
    (s, e): (usize, usize),
    prev_end: Option<usize>,
    next_start: Option<usize>,
) -> f32 {
    let mut w = 1.0f32;
    if let Some(pe) = prev_end
        && p < pe
    {
        w = w.min(((p - s) as f32 + 0.5) / (pe - s) as f32);
    }
    if let Some(ns) = next_start
        && p >= ns
    {
        w = w.min(((e - p) as f32 - 0.5) / (e - ns) as f32);
    }
    w.clamp(1e-3, 1.0)
}

/// Run an image-to-image network over `img` of any size: whole when it fits in one tile,
/// else in overlapping tiles blended with linear ramps. `exact`: the network's
/// receptive field is bounded, so tiles share the whole image's normalisation statistics
/// (through the `NormContext` passed to `forward`) and agree with the untiled result away
/// from their borders. Pixels go in and come out in `range`; `forward` also gets the
/// tile's top-left corner (y, x) in the image, for inputs that vary over it (masks).
pub fn run_tiled<F>(
    img: &RgbImage,
    tiling: Tiling,
    exact: bool,
    range: Range,
    device: &Device,
    forward: F,
) -> RgbImage
where
    F: Fn(Tensor<4>, [usize; 2], &mut NormContext) -> Tensor<4> + Sync,
{
    let (w, h) = (img.width() as usize, img.height() as usize);
    let a = tiling.align.max(1);
    let tile = tiling.tile.max(4 * a) / a * a;
    let overlap = tiling.overlap.min(tile / 2) / a * a;
    if w <= tile && h <= tile {
        let x = image_to_tensor(img, range, device);
        return tensor_to_images(forward(x, [0, 0], &mut NormContext::own()), range).remove(0);
    }
    let (xs, ys) = (
        spans_aligned(w, tile, overlap, a),
        spans_aligned(h, tile, overlap, a),
    );
    // (tile index along y, along x, its core in tile coordinates). A tile's pixels become a
    // tensor only when it runs and its output is blended in as soon as it is done, so
    // memory holds the image, the result and one tile's work beside the waiting tiles'
    // activations.
    let mut tiles = vec![];
    for (ty, &(y0, _, cy0, cy1)) in ys.iter().enumerate() {
        for (tx, &(x0, _, cx0, cx1)) in xs.iter().enumerate() {
            // The last tile's core runs to the padded edge, as the whole image's
            // statistics include its padding.
            let ry1 = if ty + 1 == ys.len() {
                usize::MAX
            } else {
                cy1 - y0
            };
            let rx1 = if tx + 1 == xs.len() {
                usize::MAX
            } else {
                cx1 - x0
            };
            tiles.push((ty, tx, [cy0 - y0, ry1, cx0 - x0, rx1]));
        }
    }
    let exchange = StatsExchange::new(tiles.len());
    let blended = std::sync::Mutex::new((vec![0f32; 3 * w * h], vec![0f32; w * h]));
    let blend = |ty: usize, tx: usize, v: &[f32]| {
        let ((y0, y1), (x0, x1)) = ((ys[ty].0, ys[ty].1), (xs[tx].0, xs[tx].1));
        let (tw, th) = (x1 - x0, y1 - y0);
        let prev_y = (ty > 0).then(|| ys[ty - 1].1);
        let next_y = ys.get(ty + 1).map(|s| s.0);
        let prev_x = (tx > 0).then(|| xs[tx - 1].1);
        let next_x = xs.get(tx + 1).map(|s| s.0);
        let mut guard = blended.lock().unwrap_or_else(|e| e.into_inner());
        let (acc, weight) = &mut *guard;
        for j in 0..th {
            let wy = ramp(y0 + j, (y0, y1), prev_y, next_y);
            for i in 0..tw {
                let wt = wy * ramp(x0 + i, (x0, x1), prev_x, next_x);
                let p = (y0 + j) * w + x0 + i;
                weight[p] += wt;
                for c in 0..3 {
                    acc[c * w * h + p] += wt * v[c * tw * th + j * tw + i];
                }
            }
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = tiles
            .into_iter()
            .map(|(ty, tx, core)| {
                let (ex, forward, blend) = (exchange.clone(), &forward, &blend);
                let ((y0, y1), (x0, x1)) = ((ys[ty].0, ys[ty].1), (xs[tx].0, xs[tx].1));
                scope.spawn(move || {
                    // If this tile fails, the others must not wait for it forever.
                    struct OnPanic(std::sync::Arc<StatsExchange>);
                    impl Drop for OnPanic {
                        fn drop(&mut self) {
                            if std::thread::panicking() {
                                self.0.fail();
                            }
                        }
                    }
                    let _guard = OnPanic(ex.clone());
                    ex.acquire();
                    let mut ctx = if exact {
                        NormContext::shared(core, ex.clone())
                    } else {
                        NormContext::own()
                    };
                    let crop = image::imageops::crop_imm(
                        img,
                        x0 as u32,
                        y0 as u32,
                        (x1 - x0) as u32,
                        (y1 - y0) as u32,
                    )
                    .to_image();
                    let pixels = image_to_tensor(&crop, range, device);
                    drop(crop);
                    let v = forward(pixels, [y0, x0], &mut ctx)
                        .into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .expect("f32 output");
                    blend(ty, tx, &v);
                    ex.release();
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a tile failed");
        }
    });
    let (mut acc, weight) = blended.into_inner().unwrap_or_else(|e| e.into_inner());
    for c in 0..3 {
        for p in 0..w * h {
            acc[c * w * h + p] /= weight[p];
        }
    }
    image_from_chw(&acc, w as u32, h as u32, range)
}
