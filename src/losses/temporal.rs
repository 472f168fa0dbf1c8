//! Temporal consistency learnt without optical flow at test time: compound regularisation
//! (Wang et al. 2020). A network f should commute with small motions: stylising a slightly
//! warped, noisy copy of an image should give the warped stylisation,
//! `f(W(x) + Δ) ≈ W(f(x))`, with W a random smooth flow and Δ noise. Trained with this
//! term, a stylizer reacts to the motion between video frames, not to their noise, so it
//! flickers less.

use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{
    GridSampleOptions, GridSamplePaddingMode, InterpolateMode, InterpolateOptions,
};

use crate::util::rng::SeededRng;

/// How large the random motions and noise are.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WarpSpec {
    /// Largest displacement of the flow, in pixels.
    pub max_shift: f32,
    /// Standard deviation of the added noise, on the 0-1 pixel scale.
    pub noise_std: f32,
}

impl Default for WarpSpec {
    /// About the motion between consecutive frames and the grain of compressed video.
    fn default() -> Self {
        Self {
            max_shift: 3.0,
            noise_std: 0.02,
        }
    }
}

/// One random smooth warp (and noise) per image of a batch.
pub struct RandomWarp {
    /// Sampling locations [N, H, W, 2] in [-1, 1] (x, y).
    grid: Tensor<4>,
    noise: Tensor<4>,
}

impl RandomWarp {
    /// A flow drawn on a 3x3 lattice of displacements (each up to `max_shift` px), smoothly
    /// interpolated over [H, W]: shifts, slight rotations, zooms and bends.
    pub fn sample(dims: [usize; 4], spec: WarpSpec, rng: &mut SeededRng, device: &Device) -> Self {
        let [n, c, h, w] = dims;
        const LATTICE: usize = 3;
        let coarse: Vec<f32> = (0..n * 2 * LATTICE * LATTICE)
            .map(|_| (rng.uniform() * 2.0 - 1.0) * spec.max_shift)
            .collect();
        let coarse =
            Tensor::<4>::from_data(TensorData::new(coarse, [n, 2, LATTICE, LATTICE]), device);
        let flow = interpolate(
            coarse,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(true)
                .with_output_size([h, w]),
        );
        // Pixel centres in [-1, 1] (align_corners = false), moved by the flow.
        let centres = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (2 * i + 1) as f32 / len as f32 - 1.0)
                .collect()
        };
        let xs = Tensor::<4>::from_data(TensorData::new(centres(w), [1, 1, 1, w]), device);
        let ys = Tensor::<4>::from_data(TensorData::new(centres(h), [1, 1, h, 1]), device);
        let gx = flow
            .clone()
            .slice(s![.., 0..1, .., ..])
            .mul_scalar(2.0 / w as f64)
            + xs;
        let gy = flow.slice(s![.., 1..2, .., ..]).mul_scalar(2.0 / h as f64) + ys;
        // [N, 2, H, W] -> [N, H, W, 2]
        let grid = Tensor::cat(vec![gx, gy], 1).permute([0, 2, 3, 1]);
        let noise = rng.normal_vec(n * c * h * w);
        let noise = Tensor::<4>::from_data(TensorData::new(noise, [n, c, h, w]), device)
            .mul_scalar(spec.noise_std as f64);
        Self { grid, noise }
    }

    /// `x` moved by the flow (bilinear; the border extends past the edges).
    pub fn warp(&self, x: Tensor<4>) -> Tensor<4> {
        x.grid_sample_2d(
            self.grid.clone(),
            GridSampleOptions::new(InterpolateMode::Bilinear)
                .with_padding_mode(GridSamplePaddingMode::Border),
        )
    }

    /// The moved, noisy copy of an input image (what the network sees second).
    pub fn perturb(&self, x: Tensor<4>) -> Tensor<4> {
        self.warp(x) + self.noise.clone()
    }
}

/// Mean squared difference between the network's output for the perturbed input and its
/// warped output for the original: `‖f(W(x) + Δ) − W(f(x))‖²`.
pub fn compound_temporal_loss(
    output: Tensor<4>,
    output_of_perturbed: Tensor<4>,
    warp: &RandomWarp,
) -> Tensor<1> {
    let diff = output_of_perturbed - warp.warp(output);
    (diff.clone() * diff).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(device: &Device) -> Tensor<4> {
        let v: Vec<f32> = (0..2 * 3 * 16 * 20)
            .map(|i| ((i % 20) as f32 / 20.0).sin())
            .collect();
        Tensor::from_data(TensorData::new(v, [2, 3, 16, 20]), device)
    }

    #[test]
    fn no_motion_is_the_identity_and_motion_moves_pixels() {
        let d = Device::flex();
        let x = ramp(&d);
        let still = WarpSpec {
            max_shift: 0.0,
            noise_std: 0.0,
        };
        let w0 = RandomWarp::sample(x.dims(), still, &mut SeededRng::new(1), &d);
        let same = (w0.perturb(x.clone()) - x.clone())
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(same < 1e-5, "{same}");
        let w = RandomWarp::sample(x.dims(), WarpSpec::default(), &mut SeededRng::new(1), &d);
        let moved = (w.warp(x.clone()) - x.clone())
            .abs()
            .mean()
            .into_scalar::<f32>();
        assert!(moved > 0.01, "{moved}");
        // A network that commutes with the warp (the identity) scores about the noise.
        let id = compound_temporal_loss(x.clone(), w.perturb(x), &w).into_scalar::<f32>();
        let noise = WarpSpec::default().noise_std.powi(2);
        assert!((id - noise).abs() < 0.3 * noise, "{id} vs {noise}");
    }

    #[test]
    fn the_loss_has_a_gradient_through_the_warp() {
        let d = Device::flex().autodiff();
        let x = ramp(&d).require_grad();
        let w = RandomWarp::sample(x.dims(), WarpSpec::default(), &mut SeededRng::new(2), &d);
        // f(x) = x^2: not commuting with the noise, so the loss is above zero.
        let loss = compound_temporal_loss(
            x.clone() * x.clone(),
            w.perturb(x.clone()).powf_scalar(2.0),
            &w,
        );
        let g = x.grad(&loss.backward()).expect("a gradient");
        let norm: f32 = g.abs().sum().into_scalar();
        assert!(norm.is_finite() && norm > 0.0, "{norm}");
    }
}
