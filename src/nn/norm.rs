//! Normalisations that burn does not ship.

use burn::module::RunningState;
use burn::prelude::*;

/// Pixel-wise feature normalisation (Karras et al., ProGAN): each pixel's feature vector is
/// scaled to unit RMS. Stateless, so a generator behaves the same in training and
/// inference and its weight average (EMA) needs no re-estimated statistics.
pub fn pixel_norm(x: Tensor<4>) -> Tensor<4> {
    let rms = x
        .clone()
        .powf_scalar(2.0)
        .mean_dim(1)
        .add_scalar(1e-8)
        .sqrt();
    x / rms
}

fn l2_normalize(v: Tensor<2>) -> Tensor<2> {
    let n = v.clone().powf_scalar(2.0).sum().sqrt().add_scalar(1e-12);
    v / n.unsqueeze()
}

/// Spectral normalisation (Miyato et al. 2018): divide a weight, seen as a matrix
/// [out, rest], by its largest singular value, estimated by one power iteration per
/// forward pass from a persistent vector `u`. `u` lives in a [`RunningState`], so it is
/// saved with checkpoints and a resumed run continues with the same estimate.
///
/// `u` advances only during training (autodiff input), as in PyTorch.
pub fn spectral_normalize(
    weight: Tensor<2>,
    u: &RunningState<Tensor<1>>,
    training: bool,
) -> Tensor<2> {
    let [out, _] = weight.dims();
    let device = weight.device();
    let w = weight.clone().detach();
    let u0 = u.value_sync().to_device(&device).detach().reshape([out, 1]);
    let v = l2_normalize(w.clone().transpose().matmul(u0));
    let u1 = l2_normalize(w.matmul(v.clone()));
    if training {
        // Plain data, off the graph, so one step's graph is not kept alive by the next.
        u.update(u1.clone().reshape([out]).detach());
    }
    // sigma = u^T W v, differentiable in W (u, v are constants).
    let sigma = u1.transpose().matmul(weight.clone().matmul(v));
    weight / sigma
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_norm_gives_unit_rms_per_pixel() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![3.0f32, -1.0, 4.0, 2.0, 0.0, 2.0, 0.5, 1.0],
                [1, 2, 2, 2],
            ),
            &dev,
        );
        let y: Vec<f32> = pixel_norm(x).into_data().try_to_vec::<f32>().unwrap();
        // pixel 0: features (3, 0) -> rms 3/sqrt(2)
        let r = (4.5f32).sqrt();
        assert!((y[0] - 3.0 / r).abs() < 1e-5);
        assert!((y[4] - 0.0).abs() < 1e-5);
    }

    #[test]
    fn spectral_norm_converges_to_unit_top_singular_value() {
        let dev = Device::flex();
        // diag(3, 1): top singular value 3.
        let w = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0, 0.0, 1.0], [2, 2]), &dev);
        let u = RunningState::new(Tensor::<1>::from_data(
            TensorData::new(vec![0.6f32, 0.8], [2]),
            &dev,
        ));
        let mut out = w.clone();
        for _ in 0..30 {
            out = spectral_normalize(w.clone(), &u, true);
        }
        let v: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap();
        assert!((v[0] - 1.0).abs() < 1e-3, "{v:?}");
        assert!((v[3] - 1.0 / 3.0).abs() < 1e-3, "{v:?}");
    }
}
