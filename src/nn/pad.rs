//! Spatial padding for fully convolutional image-to-image networks: reflection padding
//! (no dark frame at the borders, as in CycleGAN's generator), and padding any input up to
//! the multiple a network's down-samplings need, cropped back afterwards, so the networks
//! accept odd sizes and return the input's own size.

use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// Reflect-pad by `p` on every side (edge-replicate where the image is too small to reflect).
pub fn reflect_pad(x: Tensor<4>, p: usize) -> Tensor<4> {
    if p == 0 {
        return x;
    }
    let [_, _, h, w] = x.dims();
    let reflect = p < h && p < w;
    pad_hw(x, (p, p), (p, p), reflect)
}

/// Pad bottom and right so height and width are multiples of `m`; returns the original size.
pub fn pad_to_multiple(x: Tensor<4>, m: usize) -> (Tensor<4>, [usize; 2]) {
    let [_, _, h, w] = x.dims();
    let (ph, pw) = (h.div_ceil(m) * m - h, w.div_ceil(m) * m - w);
    if ph == 0 && pw == 0 {
        return (x, [h, w]);
    }
    let reflect = ph < h && pw < w;
    (pad_hw(x, (0, ph), (0, pw), reflect), [h, w])
}

/// Pads height by `rows` and width by `cols` (each `(before, after)`), by reflection or by
/// repeating the edge.
///
/// Inference goes to the backend's `pad` (the patched Flex writes each output row once).
/// Under autodiff burn composes `pad` from a full-size `slice_assign` per border, which cost
/// a quarter of a 1024×768 stylisation on the CPU (profiled, docs/performance.md), so
/// training pads with one concatenation per axis, whose gradient is a slice.
fn pad_hw(x: Tensor<4>, rows: (usize, usize), cols: (usize, usize), reflect: bool) -> Tensor<4> {
    if x.is_autodiff() {
        return pad_axis(pad_axis(x, 3, cols, reflect), 2, rows, reflect);
    }
    let mode = if reflect {
        PadMode::Reflect
    } else {
        PadMode::Edge
    };
    x.pad([(0, 0), (0, 0), rows, cols], mode)
}

/// Pads one spatial axis by reflection (or by repeating the edge) with one concatenation.
fn pad_axis(x: Tensor<4>, dim: usize, (before, after): (usize, usize), reflect: bool) -> Tensor<4> {
    if before == 0 && after == 0 {
        return x;
    }
    let n = x.dims()[dim];
    let band = |range: std::ops::Range<usize>| x.clone().narrow(dim, range.start, range.len());
    let mut parts = Vec::with_capacity(3);
    if before > 0 {
        parts.push(if reflect {
            band(1..before + 1).flip([dim])
        } else {
            band(0..1).repeat_dim(dim, before)
        });
    }
    parts.push(x.clone());
    if after > 0 {
        parts.push(if reflect {
            band(n - 1 - after..n - 1).flip([dim])
        } else {
            band(n - 1..n).repeat_dim(dim, after)
        });
    }
    Tensor::cat(parts, dim)
}

/// Undo [`pad_to_multiple`].
pub fn crop_to(x: Tensor<4>, [h, w]: [usize; 2]) -> Tensor<4> {
    x.slice(s![.., .., 0..h, 0..w])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_multiples_and_crops_back() {
        let d = Device::flex();
        let x = Tensor::<4>::random([1, 2, 5, 7], burn::tensor::Distribution::Default, &d);
        let (p, size) = pad_to_multiple(x.clone(), 4);
        assert_eq!(p.dims(), [1, 2, 8, 8]);
        let back = crop_to(p, size);
        let diff = (back - x).abs().max().into_scalar::<f32>();
        assert_eq!(diff, 0.0);
        // Too small to reflect: edge padding instead of a panic.
        assert_eq!(
            reflect_pad(Tensor::<4>::zeros([1, 1, 2, 2], &d), 3).dims(),
            [1, 1, 8, 8]
        );
    }

    /// Inference (the backend's one-pass pad) and training (concatenations) pad alike, and
    /// both equal reflection or edge replication written out by hand.
    #[test]
    fn inference_and_training_paths_pad_identically() {
        let d = Device::flex();
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        // Row 0 of a 3×4 image, reflected by 2 and edge-replicated by 2.
        let row: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(row, [1, 1, 3, 4]), &d);
        let top_row = |t: Tensor<4>| values(t.slice(s![.., .., 2..3, ..]));
        assert_eq!(
            top_row(reflect_pad(x.clone(), 2)),
            [2., 1., 0., 1., 2., 3., 2., 1.]
        );
        let small = x.clone().slice(s![.., .., 0..2, 0..2]);
        assert_eq!(
            top_row(reflect_pad(small, 2)),
            [0., 0., 0., 1., 1., 1.],
            "too small to reflect: edge"
        );
        for dims in [[2, 3, 6, 9], [1, 2, 2, 3], [1, 1, 5, 7]] {
            let x = Tensor::<4>::random(dims, burn::tensor::Distribution::Default, &d);
            for p in [1, 2, 4] {
                let infer = reflect_pad(x.clone(), p);
                let train = reflect_pad(x.clone().autodiff(), p).inner();
                assert_eq!(values(infer), values(train), "{dims:?} p {p}");
            }
            let infer = pad_to_multiple(x.clone(), 4).0;
            let train = pad_to_multiple(x.clone().autodiff(), 4).0.inner();
            assert_eq!(values(infer), values(train), "{dims:?} to a multiple of 4");
        }
    }
}
