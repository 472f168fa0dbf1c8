//! The patched burn Flex max pooling (`vendor/burn-flex/src/ops/pool.rs`, window ranges
//! computed once per call) against the definition: the value and the index of the first
//! largest input in each window, PyTorch's output size (floor and ceil mode), and the
//! gradient, which goes to each window's chosen input. Random shapes, kernels, strides,
//! paddings and dilations.

mod common;

use burn::prelude::*;
use burn::tensor::module::{max_pool2d, max_pool2d_with_indices};
use burn::tensor::ops::MaxPoolOptions;
use common::Lcg;

/// PyTorch's output size of one pooled axis.
fn out_size(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let span = d * (k - 1) + 1;
    if n + 2 * p < span {
        return 0;
    }
    let room = n + 2 * p - span;
    let mut out = if ceil { room.div_ceil(s) } else { room / s } + 1;
    // A last window that starts in the end padding is dropped.
    if ceil && (out - 1) * s >= n + p {
        out -= 1;
    }
    out
}

struct Case {
    dims: [usize; 4],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
}

/// Each output's (value, index in its input plane): the first largest input in its window;
/// None when a window holds no input.
fn by_definition(x: &[f32], c: &Case) -> Option<(Vec<f32>, Vec<i64>, [usize; 2])> {
    let [n, ch, h, w] = c.dims;
    let oh = out_size(h, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil);
    let ow = out_size(w, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
    let (mut vals, mut idx) = (vec![], vec![]);
    for plane in 0..n * ch {
        for i in 0..oh {
            for j in 0..ow {
                let mut best: Option<(f32, usize)> = None;
                for a in 0..c.k[0] {
                    for b in 0..c.k[1] {
                        let y = (i * c.s[0] + a * c.d[0]) as i64 - c.p[0] as i64;
                        let z = (j * c.s[1] + b * c.d[1]) as i64 - c.p[1] as i64;
                        if y < 0 || z < 0 || y >= h as i64 || z >= w as i64 {
                            continue;
                        }
                        let at = y as usize * w + z as usize;
                        let v = x[plane * h * w + at];
                        if best.is_none_or(|(m, _)| v > m) {
                            best = Some((v, at));
                        }
                    }
                }
                // A dilated window can fall between the inputs of a tiny image: no value is
                // defined there (the kernel gives -inf), so such cases are not drawn.
                let (v, at) = best?;
                vals.push(v);
                idx.push(at as i64);
            }
        }
    }
    Some((vals, idx, [oh, ow]))
}

#[test]
fn max_pooling_matches_the_definition_with_its_gradient() {
    let device = Device::flex().autodiff();
    let mut rng = Lcg(7);
    let mut checked = 0;
    while checked < 80 {
        let k = [1 + rng.below(3), 1 + rng.below(3)];
        let c = Case {
            dims: [
                1 + rng.below(2),
                1 + rng.below(3),
                1 + rng.below(12),
                1 + rng.below(12),
            ],
            k,
            s: [1 + rng.below(3), 1 + rng.below(3)],
            // PyTorch allows at most half the kernel.
            p: [rng.below(k[0] / 2 + 1), rng.below(k[1] / 2 + 1)],
            d: [1 + rng.below(2), 1 + rng.below(2)],
            ceil: rng.below(2) == 1,
        };
        let total: usize = c.dims.iter().product();
        // Values from a few levels, so windows hold ties (the first must win).
        let x: Vec<f32> = (0..total).map(|_| rng.below(7) as f32 - 3.0).collect();
        let Some(r) = by_definition(&x, &c) else {
            continue;
        };
        let [oh, ow] = r.2;
        if oh == 0 || ow == 0 {
            continue;
        }
        let label = format!(
            "dims {:?} k {:?} s {:?} p {:?} d {:?} ceil {}",
            c.dims, c.k, c.s, c.p, c.d, c.ceil
        );
        let opts = MaxPoolOptions::new(c.k)
            .with_stride(c.s)
            .with_padding(c.p)
            .with_dilation(c.d)
            .with_ceil_mode(c.ceil);
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), c.dims), &device).require_grad();
        let (y, i) = max_pool2d_with_indices(xt.clone(), opts.clone());
        assert_eq!(y.dims()[2..], r.2, "{label}");
        let got: Vec<f32> = y.clone().into_data().try_to_vec().unwrap();
        let got_idx: Vec<i64> = i.into_data().convert::<i64>().try_to_vec().unwrap();
        assert_eq!(got, r.0, "values, {label}");
        assert_eq!(got_idx, r.1, "indices, {label}");
        let plain: Vec<f32> = max_pool2d(xt.clone().inner(), opts)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(plain, r.0, "without indices, {label}");

        // d(sum(y * weights))/dx: each output's weight lands on its chosen input.
        let weights: Vec<f32> = (0..r.0.len()).map(|j| 1.0 + j as f32).collect();
        let wt = Tensor::<4>::from_data(
            TensorData::new(weights.clone(), [c.dims[0], c.dims[1], oh, ow]),
            &device,
        );
        let grads = (y * wt).sum().backward();
        let g: Vec<f32> = xt.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        let plane = c.dims[2] * c.dims[3];
        let mut expect = vec![0f32; x.len()];
        for (j, at) in r.1.iter().enumerate() {
            expect[(j / (oh * ow)) * plane + *at as usize] += weights[j];
        }
        assert_eq!(g, expect, "gradient, {label}");
        checked += 1;
    }
}
