//! Spatial padding for fully convolutional image-to-image networks: reflection padding
//! (no dark frame at the borders, as in CycleGAN's generator), and padding any input up to
//! the multiple a network's down-samplings need, cropped back afterwards, so the networks
//! accept odd sizes and return the input's own size.

use burn::prelude::*;

/// Reflect-pad by `p` on every side (edge-replicate where the image is too small to reflect).
pub fn reflect_pad(x: Tensor<4>, p: usize) -> Tensor<4> {
    if p == 0 {
        return x;
    }
    let [_, _, h, w] = x.dims();
    let reflect = p < h && p < w;
    pad_axis(pad_axis(x, 3, (p, p), reflect), 2, (p, p), reflect)
}

/// Pad bottom and right so height and width are multiples of `m`; returns the original size.
pub fn pad_to_multiple(x: Tensor<4>, m: usize) -> (Tensor<4>, [usize; 2]) {
    let [_, _, h, w] = x.dims();
    let (ph, pw) = (h.div_ceil(m) * m - h, w.div_ceil(m) * m - w);
    if ph == 0 && pw == 0 {
        return (x, [h, w]);
    }
    let reflect = ph < h && pw < w;
    (
        pad_axis(pad_axis(x, 3, (0, pw), reflect), 2, (0, ph), reflect),
        [h, w],
    )
}

/// Pads one spatial axis by reflection (or by repeating the edge) with one concatenation.
/// burn's `pad` writes each border into a fresh full-size tensor with `slice_assign`, which
/// cost a quarter of a 1024×768 stylisation on the CPU (profiled, docs/performance.md).
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
        assert_eq!(
            reflect_pad(Tensor::<4>::zeros([1, 1, 4, 4], &d), 3).dims(),
            [1, 1, 10, 10]
        );
        // Values equal burn's own padding, reflect and edge, in both functions.
        use burn::tensor::ops::PadMode;
        let x = Tensor::<4>::random([2, 3, 6, 9], burn::tensor::Distribution::Default, &d);
        let same = |a: Tensor<4>, b: Tensor<4>| {
            assert_eq!(a.dims(), b.dims());
            assert_eq!((a - b).abs().max().into_scalar::<f32>(), 0.0);
        };
        same(
            reflect_pad(x.clone(), 3),
            x.clone().pad((3, 3, 3, 3), PadMode::Reflect),
        );
        same(
            pad_to_multiple(x.clone(), 4).0,
            x.clone().pad((0, 3, 0, 2), PadMode::Reflect),
        );
        let small = Tensor::<4>::random([1, 2, 2, 3], burn::tensor::Distribution::Default, &d);
        same(
            reflect_pad(small.clone(), 2),
            small.clone().pad((2, 2, 2, 2), PadMode::Edge),
        );
        same(
            pad_to_multiple(small.clone(), 4).0,
            small.pad((0, 1, 0, 2), PadMode::Edge),
        );
        // Too small to reflect: edge padding instead of a panic.
        assert_eq!(
            reflect_pad(Tensor::<4>::zeros([1, 1, 2, 2], &d), 3).dims(),
            [1, 1, 8, 8]
        );
    }
}
