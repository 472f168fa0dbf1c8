//! Losses on feature maps of a fixed network (VGG19): content (feature matching), style
//! (Gram-matrix matching, Gatys et al. 2016) and total variation on the image itself.

use burn::prelude::*;

/// Gram matrices of features [N, C, H, W] → [N, C, C], normalised by C·H·W so that layers
/// of different sizes contribute on one scale.
pub fn gram_matrix(features: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = features.dims();
    let f = features.reshape([n, c, h * w]);
    f.clone().matmul(f.swap_dims(1, 2)) / ((c * h * w) as f64)
}

/// Σ_l w_l · ‖G_l(x) − A_l‖², the squared Frobenius distance of Gram matrices per layer,
/// averaged over the batch. `targets` are [1, C, C] or [N, C, C] Gram matrices.
pub fn style_loss(grams: &[Tensor<3>], targets: &[Tensor<3>], weights: &[f32]) -> Tensor<1> {
    assert_eq!(grams.len(), targets.len(), "one target per layer");
    assert_eq!(grams.len(), weights.len(), "one weight per layer");
    let device = grams.first().map(|g| g.device()).unwrap_or_default();
    let mut total = Tensor::<1>::zeros([1], &device);
    for ((g, a), &w) in grams.iter().zip(targets).zip(weights) {
        let n = g.dims()[0];
        let d = g.clone() - a.clone();
        total = total + (d.clone() * d).sum() * (w as f64 / n as f64);
    }
    total
}

/// Σ_l w_l · mean squared difference of feature maps at layer l.
pub fn content_loss(features: &[Tensor<4>], targets: &[Tensor<4>], weights: &[f32]) -> Tensor<1> {
    assert_eq!(features.len(), targets.len(), "one target per layer");
    assert_eq!(features.len(), weights.len(), "one weight per layer");
    let device = features.first().map(|f| f.device()).unwrap_or_default();
    let mut total = Tensor::<1>::zeros([1], &device);
    for ((f, t), &w) in features.iter().zip(targets).zip(weights) {
        let d = f.clone() - t.clone();
        total = total + (d.clone() * d).mean() * w as f64;
    }
    total
}

/// Total variation: mean squared difference of vertically and horizontally adjacent
/// pixels. It suppresses the high-frequency noise that optimising through VGG leaves.
pub fn tv_loss(x: Tensor<4>) -> Tensor<1> {
    tv_loss_with(x, false)
}

/// Total variation; with `wrap`, the last row and column also count as neighbours of the
/// first (for images that must tile).
pub fn tv_loss_with(x: Tensor<4>, wrap: bool) -> Tensor<1> {
    let [_, _, h, w] = x.dims();
    if wrap {
        let down = Tensor::cat(
            vec![
                x.clone().slice(s![.., .., 1..h, ..]),
                x.clone().slice(s![.., .., 0..1, ..]),
            ],
            2,
        );
        let right = Tensor::cat(
            vec![
                x.clone().slice(s![.., .., .., 1..w]),
                x.clone().slice(s![.., .., .., 0..1]),
            ],
            3,
        );
        let (dy, dx) = (down - x.clone(), right - x);
        return (dy.clone() * dy).mean() + (dx.clone() * dx).mean();
    }
    let dy = x.clone().slice(s![.., .., 1..h, ..]) - x.clone().slice(s![.., .., 0..h - 1, ..]);
    let dx = x.clone().slice(s![.., .., .., 1..w]) - x.slice(s![.., .., .., 0..w - 1]);
    (dy.clone() * dy).mean() + (dx.clone() * dx).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t4(v: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(v, shape), &Device::flex())
    }

    #[test]
    fn gram_matrix_matches_a_hand_computation() {
        // Two channels over a 1x3 map: a = [1, 2, 3], b = [0, 1, -1].
        let g = gram_matrix(t4(vec![1., 2., 3., 0., 1., -1.], [1, 2, 1, 3]));
        let v = g.into_data().try_to_vec::<f32>().unwrap();
        // a·a = 14, a·b = -1, b·b = 2; divided by C·H·W = 6.
        let want = [14. / 6., -1. / 6., -1. / 6., 2. / 6.];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
    }

    #[test]
    fn style_loss_is_the_weighted_squared_distance() {
        let d = Device::flex();
        let g = Tensor::<3>::from_data(TensorData::new(vec![1f32, 2., 3., 4.], [1, 2, 2]), &d);
        let a = Tensor::<3>::from_data(TensorData::new(vec![0f32, 2., 3., 2.], [1, 2, 2]), &d);
        let l = style_loss(&[g.clone(), g], &[a.clone(), a], &[1.0, 0.5]);
        // (1 + 4) * 1 + (1 + 4) * 0.5.
        assert!((l.into_scalar::<f32>() - 7.5).abs() < 1e-5);
    }

    #[test]
    fn tv_loss_of_a_constant_is_zero_and_of_a_ramp_is_known() {
        assert_eq!(
            tv_loss(t4(vec![0.5; 16], [1, 1, 4, 4])).into_scalar::<f32>(),
            0.0
        );
        // Horizontal ramp 0,1,2,3: dx = 1 everywhere, dy = 0.
        let ramp: Vec<f32> = (0..16).map(|i| (i % 4) as f32).collect();
        assert!((tv_loss(t4(ramp.clone(), [1, 1, 4, 4])).into_scalar::<f32>() - 1.0).abs() < 1e-6);
        // Wrapped, the jump 3 -> 0 joins in: dx² = 1, 1, 1, 9 per row, mean 3.
        let wrapped = tv_loss_with(t4(ramp, [1, 1, 4, 4]), true).into_scalar::<f32>();
        assert!((wrapped - 3.0).abs() < 1e-6, "{wrapped}");
    }
}
