//! Differentiable augmentation for the discriminator (DiffAugment, Zhao et al. 2020).
//!
//! Both real and generated images pass through random colour, translation and cutout
//! before D sees them; every op is built from tensor arithmetic, so G's gradient flows
//! back through the augmentation. D then cannot memorise a small training set pixel for
//! pixel, and G is not taught to reproduce the augmentations (they are applied to both).
//!
//! A draw ([`AugmentDraw`]) fixes each sample's transform; applying one draw to two batches
//! applies the same transform to both.

use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::util::rng::SeededRng;

/// Which augmentations run, in DiffAugment's order: colour, translation, cutout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AugmentPolicy {
    pub color: bool,
    pub translation: bool,
    pub cutout: bool,
}

impl AugmentPolicy {
    pub fn any(&self) -> bool {
        self.color || self.translation || self.cutout
    }

    /// A fresh draw for a batch shaped `dims`; none when every augmentation is off, so
    /// runs without augmentation draw exactly the random numbers they always did.
    pub fn draw(&self, dims: [usize; 4], rng: &mut SeededRng) -> Option<AugmentDraw> {
        self.any().then(|| AugmentDraw::new(*self, dims, rng))
    }
}

/// `x` through `draw`, or unchanged without one.
pub fn augment(draw: &Option<AugmentDraw>, x: Tensor<4>) -> Tensor<4> {
    match draw {
        Some(d) => d.apply(x),
        None => x,
    }
}

impl FromStr for AugmentPolicy {
    type Err = String;
    /// `color,translation,cutout` (any subset, comma-separated), `all`, or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut p = AugmentPolicy::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "color" | "colour" => p.color = true,
                "translation" => p.translation = true,
                "cutout" => p.cutout = true,
                "all" => {
                    p = AugmentPolicy {
                        color: true,
                        translation: true,
                        cutout: true,
                    }
                }
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown augmentation '{other}' (use color, translation, cutout, all or \
                         none)"
                    ));
                }
            }
        }
        Ok(p)
    }
}

/// DiffAugment's ranges: translation up to 1/8 of the side, a cutout square of half the side.
const TRANSLATION_RATIO: f32 = 0.125;
const CUTOUT_RATIO: f32 = 0.5;

/// One random transform per sample of a batch of `n` images of `h`×`w`.
#[derive(Clone, Debug)]
pub struct AugmentDraw {
    pub policy: AugmentPolicy,
    n: usize,
    h: usize,
    w: usize,
    /// Per sample: brightness shift in [-0.5, 0.5), saturation factor in [0, 2), contrast
    /// factor in [0.5, 1.5) (DiffAugment's ranges, for images in [-1, 1]).
    brightness: Vec<f32>,
    saturation: Vec<f32>,
    contrast: Vec<f32>,
    /// Per sample: shift (rows, columns) in pixels.
    shift: Vec<(i64, i64)>,
    /// Per sample: the cutout square's top-left corner (may start outside the image).
    cutout: Vec<(i64, i64)>,
}

impl AugmentDraw {
    pub fn new(policy: AugmentPolicy, [n, _, h, w]: [usize; 4], rng: &mut SeededRng) -> Self {
        let mut u = |n: usize| (0..n).map(|_| rng.uniform()).collect::<Vec<f32>>();
        let (brightness, saturation, contrast) = if policy.color {
            (
                u(n).iter().map(|r| r - 0.5).collect(),
                u(n).iter().map(|r| r * 2.0).collect(),
                u(n).iter().map(|r| r + 0.5).collect(),
            )
        } else {
            (vec![], vec![], vec![])
        };
        let shift_in = |side: usize, r: f32| {
            let max = (side as f32 * TRANSLATION_RATIO + 0.5) as i64;
            ((r * (2 * max + 1) as f32) as i64 - max).clamp(-max, max)
        };
        let shift = if policy.translation {
            let (a, b) = (u(n), u(n));
            a.iter()
                .zip(&b)
                .map(|(&ry, &rx)| (shift_in(h, ry), shift_in(w, rx)))
                .collect()
        } else {
            vec![]
        };
        let cut_h = (h as f32 * CUTOUT_RATIO + 0.5) as i64;
        let cut_w = (w as f32 * CUTOUT_RATIO + 0.5) as i64;
        let cutout = if policy.cutout {
            let (a, b) = (u(n), u(n));
            // The centre anywhere in the image (as DiffAugment), so part may fall outside.
            a.iter()
                .zip(&b)
                .map(|(&ry, &rx)| {
                    let cy = (ry * h as f32) as i64;
                    let cx = (rx * w as f32) as i64;
                    (cy - cut_h / 2, cx - cut_w / 2)
                })
                .collect()
        } else {
            vec![]
        };
        Self {
            policy,
            n,
            h,
            w,
            brightness,
            saturation,
            contrast,
            shift,
            cutout,
        }
    }

    /// The same draw without its colour part: for a channel that must move with the image
    /// but is not a colour (an inpainting mask).
    pub fn geometric(&self) -> Self {
        Self {
            policy: AugmentPolicy {
                color: false,
                ..self.policy
            },
            ..self.clone()
        }
    }

    /// The augmented batch; differentiable in `x`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        assert_eq!(
            [n, h, w],
            [self.n, self.h, self.w],
            "an augmentation draw applies to batches of the shape it was drawn for"
        );
        let device = x.device();
        let per_sample =
            |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [n, 1, 1, 1]), &device);
        let mut x = x;
        if self.policy.color {
            x = x + per_sample(&self.brightness);
            let mean_c = x.clone().mean_dim(1);
            x = (x - mean_c.clone()) * per_sample(&self.saturation) + mean_c;
            let mean = x.clone().mean_dims(&[1, 2, 3]);
            x = (x - mean.clone()) * per_sample(&self.contrast) + mean;
        }
        if self.policy.translation {
            // out[i, j] = x[i - dy, j - dx], zero outside: shift matrices on both sides.
            let rows = shift_matrices(self.shift.iter().map(|s| s.0), h, &device);
            let cols = shift_matrices(self.shift.iter().map(|s| s.1), w, &device);
            x = rows
                .expand([n, c, h, h])
                .matmul(x)
                .matmul(cols.swap_dims(2, 3).expand([n, c, w, w]));
        }
        if self.policy.cutout {
            let cut_h = (h as f32 * CUTOUT_RATIO + 0.5) as i64;
            let cut_w = (w as f32 * CUTOUT_RATIO + 0.5) as i64;
            let mut mask = vec![1.0f32; n * h * w];
            for (k, &(top, left)) in self.cutout.iter().enumerate() {
                for i in top.max(0)..(top + cut_h).min(h as i64) {
                    for j in left.max(0)..(left + cut_w).min(w as i64) {
                        mask[k * h * w + i as usize * w + j as usize] = 0.0;
                    }
                }
            }
            x = x * Tensor::<4>::from_data(TensorData::new(mask, [n, 1, h, w]), &device);
        }
        x
    }
}

/// [N, 1, side, side] matrices S with S[i, i - d] = 1: S·x moves rows down by d, zero-filled.
fn shift_matrices(shifts: impl Iterator<Item = i64>, side: usize, device: &Device) -> Tensor<4> {
    let shifts: Vec<i64> = shifts.collect();
    let n = shifts.len();
    let mut m = vec![0.0f32; n * side * side];
    for (k, d) in shifts.iter().enumerate() {
        for i in 0..side as i64 {
            let src = i - d;
            if (0..side as i64).contains(&src) {
                m[k * side * side + i as usize * side + src as usize] = 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [n, 1, side, side]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> AugmentPolicy {
        "color,translation,cutout".parse().unwrap()
    }

    #[test]
    fn policy_parses_and_refuses_unknown_names() {
        assert_eq!("all".parse::<AugmentPolicy>().unwrap(), all());
        assert!(!"none".parse::<AugmentPolicy>().unwrap().any());
        let p: AugmentPolicy = "translation".parse().unwrap();
        assert!(p.translation && !p.color && !p.cutout);
        assert!(
            "rotate"
                .parse::<AugmentPolicy>()
                .unwrap_err()
                .contains("rotate")
        );
    }

    #[test]
    fn shapes_kept_and_translation_moves_pixels() {
        let dev = Device::flex();
        let x = Tensor::<4>::random([4, 3, 16, 12], burn::tensor::Distribution::Default, &dev);
        let mut rng = SeededRng::new(1);
        let draw = AugmentDraw::new(all(), x.dims(), &mut rng);
        assert_eq!(draw.apply(x.clone()).dims(), [4, 3, 16, 12]);

        // A pure translation by (2, -1) moves a lone pixel from (5, 5) to (7, 4).
        let mut one = vec![0.0f32; 16 * 12];
        one[5 * 12 + 5] = 1.0;
        let img = Tensor::<4>::from_data(TensorData::new(one, [1, 1, 16, 12]), &dev);
        let d = AugmentDraw {
            shift: vec![(2, -1)],
            ..AugmentDraw::new("translation".parse().unwrap(), [1, 1, 16, 12], &mut rng)
        };
        let out = d.apply(img).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(out[7 * 12 + 4], 1.0);
        assert_eq!(out.iter().sum::<f32>(), 1.0);

        // Cutout zeroes a square of half the side (fully inside here).
        let d = AugmentDraw {
            cutout: vec![(2, 3)],
            ..AugmentDraw::new("cutout".parse().unwrap(), [1, 1, 16, 12], &mut rng)
        };
        let out = d
            .apply(Tensor::ones([1, 1, 16, 12], &dev))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let zeros = out.iter().filter(|v| **v == 0.0).count();
        assert_eq!(zeros, 8 * 6);
        assert_eq!(out[2 * 12 + 3], 0.0);
        assert_eq!(out[12 + 3], 1.0);
    }

    #[test]
    fn one_draw_applies_the_same_transform_to_real_and_fake() {
        let dev = Device::flex();
        let a = Tensor::<4>::random([3, 3, 8, 8], burn::tensor::Distribution::Default, &dev);
        let b = a.clone().mul_scalar(-0.5).add_scalar(0.1);
        let draw = AugmentDraw::new(all(), a.dims(), &mut SeededRng::new(4));
        // The transform is affine in x per sample (before cutout), so applying it to
        // b = -0.5 a + 0.1 commutes with that map up to the shared offsets: compare the
        // difference of two batches, which the offsets cancel out of.
        let da = draw.apply(a.clone()) - draw.apply(b.clone());
        let direct =
            draw.apply(a.clone() - b.clone()) - draw.apply(Tensor::zeros([3, 3, 8, 8], &dev));
        let err: f32 = (da - direct).abs().max().into_scalar();
        assert!(err < 1e-5, "{err}");
        // A second, independent draw differs.
        let other = AugmentDraw::new(all(), a.dims(), &mut SeededRng::new(5));
        let diff: f32 = (draw.apply(a.clone()) - other.apply(a))
            .abs()
            .max()
            .into_scalar();
        assert!(diff > 1e-2);
    }

    #[test]
    fn the_geometric_part_moves_a_mask_with_its_image() {
        let dev = Device::flex();
        let dims = [3, 1, 16, 16];
        let draw = AugmentDraw::new(all(), dims, &mut SeededRng::new(9));
        let ones = Tensor::<4>::ones(dims, &dev);
        let full = draw
            .apply(ones.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let geo = draw
            .geometric()
            .apply(ones)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // On a constant image colour only adds the brightness shift, so the full draw is
        // (1 + shift) wherever the geometric draw keeps a pixel and 0 where it drops one.
        for k in 0..3 {
            let scale = 1.0 + draw.brightness[k];
            let at = k * 256..(k + 1) * 256;
            for (f, g) in full[at.clone()].iter().zip(&geo[at]) {
                assert!(*g == 0.0 || *g == 1.0, "the mask stays binary: {g}");
                assert!((f - g * scale).abs() < 1e-5, "{f} vs {g} x {scale}");
            }
        }
        let dropped = geo.iter().filter(|v| **v == 0.0).count();
        assert!(dropped > 0 && dropped < geo.len(), "{dropped}");
    }

    #[test]
    fn gradients_flow_through_every_augmentation() {
        let dev = Device::flex().autodiff();
        let grad_of = |policy: AugmentPolicy| {
            let x = Tensor::<4>::random([2, 3, 8, 8], burn::tensor::Distribution::Default, &dev)
                .require_grad();
            let draw = AugmentDraw::new(policy, x.dims(), &mut SeededRng::new(2));
            let grads = draw.apply(x.clone()).powf_scalar(2.0).sum().backward();
            x.grad(&grads)
                .expect("x has a gradient")
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        for policy in ["color", "translation", "cutout", "all"] {
            let g = grad_of(policy.parse().unwrap());
            let total: f32 = g.iter().map(|v| v.abs()).sum();
            assert!(total > 0.0 && total.is_finite(), "{policy}: {total}");
        }
        // Without colour (whose means reach every pixel), cut-out and shifted-out pixels get
        // no gradient and the rest do.
        let g = grad_of("translation,cutout".parse().unwrap());
        let zero = g.iter().filter(|v| **v == 0.0).count();
        assert!(zero > 0 && zero < 2 * 3 * 64, "{zero}");
    }
}
