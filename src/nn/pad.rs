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
    let mode = if p < h && p < w {
        PadMode::Reflect
    } else {
        PadMode::Edge
    };
    x.pad((p, p, p, p), mode)
}

/// Pad bottom and right so height and width are multiples of `m`; returns the original size.
pub fn pad_to_multiple(x: Tensor<4>, m: usize) -> (Tensor<4>, [usize; 2]) {
    let [_, _, h, w] = x.dims();
    let (ph, pw) = (h.div_ceil(m) * m - h, w.div_ceil(m) * m - w);
    if ph == 0 && pw == 0 {
        return (x, [h, w]);
    }
    let mode = if ph < h && pw < w {
        PadMode::Reflect
    } else {
        PadMode::Edge
    };
    (x.pad((0, pw, 0, ph), mode), [h, w])
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
        // Too small to reflect: edge padding instead of a panic.
        assert_eq!(
            reflect_pad(Tensor::<4>::zeros([1, 1, 2, 2], &d), 3).dims(),
            [1, 1, 8, 8]
        );
    }
}
