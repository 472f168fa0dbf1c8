//! The patched burn Flex convolutions (`vendor/burn-flex`, im2col/col2im + gemm) against the
//! definition: a direct f64 loop over every (output, kernel tap) pair gives the forward
//! result and, for the loss `sum(y · r)` with random `r`, both gradients. Random shapes cover
//! strides, paddings (symmetric and not), dilations, groups (depthwise too), transposed
//! convolutions with output padding, batch 1 (the gemm-parallel path) and batches of several
//! images (the item-parallel path), and sizes that span several tiles.

mod common;

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use common::Lcg;

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    groups: usize,
    /// Channels of the convolution's input and output, per group.
    cin_g: usize,
    cout_g: usize,
    /// The convolution's input size.
    hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Padding before and after, per axis (the transposed op uses the first of each).
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
}

impl Case {
    fn out(&self, i: usize) -> usize {
        let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
        (self.hw[i] + self.padding[i].0 + self.padding[i].1 - span) / self.stride[i] + 1
    }

    fn valid(&self) -> bool {
        (0..2).all(|i| {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            self.hw[i] + self.padding[i].0 + self.padding[i].1 >= span
        })
    }

    fn symmetric(&self) -> Self {
        Self {
            padding: self.padding.map(|(a, _)| (a, a)),
            ..*self
        }
    }
}

/// Calls `visit(x_index, w_index, y_index)` for every multiply of `conv2d(x, w)`, x
/// `[batch, groups·cin_g, h, w]`, w `[groups·cout_g, cin_g, kh, kw]`, y `[batch, groups·cout_g,
/// oh, ow]`.
fn for_each_tap(c: &Case, mut visit: impl FnMut(usize, usize, usize)) {
    let (cin, cout) = (c.groups * c.cin_g, c.groups * c.cout_g);
    let (oh, ow) = (c.out(0), c.out(1));
    let [h, w] = c.hw;
    for b in 0..c.batch {
        for co in 0..cout {
            let g = co / c.cout_g;
            for ci in 0..c.cin_g {
                for ky in 0..c.kernel[0] {
                    for kx in 0..c.kernel[1] {
                        let wi = ((co * c.cin_g + ci) * c.kernel[0] + ky) * c.kernel[1] + kx;
                        for oy in 0..oh {
                            let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize
                                - c.padding[0].0 as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for ox in 0..ow {
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                    - c.padding[1].0 as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let xi = ((b * cin + g * c.cin_g + ci) * h + iy as usize) * w
                                    + ix as usize;
                                let yi = ((b * cout + co) * oh + oy) * ow + ox;
                                visit(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn close(name: &str, case: &Case, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{name} length for {case:?}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-4 * scale,
            "{name}[{i}] = {g}, definition {w} (scale {scale}) for {case:?}"
        );
    }
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// One op against the definition: forward, input gradient and weight gradient of
/// `conv2d`, or of `conv_transpose2d`, the adjoint of the case's convolution (its input is
/// the convolution's output, and the same weight tensor is read as `[c_in_t,
/// c_out_t/groups, kh, kw]`).
fn check(c: &Case, transposed: bool, rng: &mut Lcg) {
    let c = &if transposed { c.symmetric() } else { *c };
    let device = Device::flex().autodiff();
    let (cin, cout) = (c.groups * c.cin_g, c.groups * c.cout_g);
    let conv_in = [c.batch, cin, c.hw[0], c.hw[1]];
    let conv_out = [c.batch, cout, c.out(0), c.out(1)];
    let (x_dims, y_dims) = if transposed {
        (conv_out, conv_in)
    } else {
        (conv_in, conv_out)
    };
    let w_dims = [cout, c.cin_g, c.kernel[0], c.kernel[1]];
    let (x, w, r) = (
        rng.vec(x_dims.iter().product()),
        rng.vec(w_dims.iter().product()),
        rng.vec(y_dims.iter().product()),
    );
    let (mut y, mut dx, mut dw) = (
        vec![0f64; r.len()],
        vec![0f64; x.len()],
        vec![0f64; w.len()],
    );
    for_each_tap(c, |in_i, wi, out_i| {
        // The convolution's input and output are the transposed op's output and input.
        let (xi, yi) = if transposed {
            (out_i, in_i)
        } else {
            (in_i, out_i)
        };
        y[yi] += w[wi] as f64 * x[xi] as f64;
        dx[xi] += w[wi] as f64 * r[yi] as f64;
        dw[wi] += x[xi] as f64 * r[yi] as f64;
    });
    let xt = Tensor::<4>::from_data(TensorData::new(x, x_dims), &device).require_grad();
    let wt = Tensor::<4>::from_data(TensorData::new(w, w_dims), &device).require_grad();
    let rt = Tensor::<4>::from_data(TensorData::new(r, y_dims), &device);
    let (name, out) = if transposed {
        // Output padding recovers input sizes the stride rounded away.
        let padding_out: [usize; 2] = std::array::from_fn(|i| {
            let span = c.dilation[i] * (c.kernel[i] - 1) + 1;
            (c.hw[i] + 2 * c.padding[i].0 - span) % c.stride[i]
        });
        let options = ConvTransposeOptions::new(
            c.stride,
            c.padding.map(|(a, _)| a),
            padding_out,
            c.dilation,
            c.groups,
        );
        let out = conv_transpose2d(xt.clone(), wt.clone(), None, options);
        ("conv_transpose2d", out)
    } else {
        let options = ConvOptions {
            stride: c.stride,
            padding: c.padding,
            dilation: c.dilation,
            groups: c.groups,
        };
        ("conv2d", conv2d(xt.clone(), wt.clone(), None, options))
    };
    assert_eq!(out.dims(), y_dims, "{name} output shape for {c:?}");
    let grads = (out.clone() * rt).sum().backward();
    close(name, c, &values(out.inner()), &y);
    close(
        &format!("{name} dx"),
        c,
        &values(xt.grad(&grads).unwrap()),
        &dx,
    );
    close(
        &format!("{name} dw"),
        c,
        &values(wt.grad(&grads).unwrap()),
        &dw,
    );
}

fn random_case(rng: &mut Lcg) -> Case {
    loop {
        let groups = [1, 1, 2, 3][rng.below(4)];
        let depthwise = rng.below(6) == 0;
        let k = [1 + rng.below(5), 1 + rng.below(5)];
        let p = [rng.below(3), rng.below(3)];
        let c = Case {
            batch: 1 + rng.below(3),
            groups,
            // 8 or more input channels per group take the flipped-kernel path at stride 1.
            cin_g: match (depthwise, rng.below(4)) {
                (true, _) => 1,
                (false, 0) => 8 + rng.below(3),
                _ => 1 + rng.below(5),
            },
            cout_g: if depthwise { 1 } else { 1 + rng.below(5) },
            hw: [1 + rng.below(12), 1 + rng.below(12)],
            kernel: k,
            stride: [1 + rng.below(3), 1 + rng.below(3)],
            padding: [(p[0], p[0] + rng.below(2)), (p[1], p[1])],
            dilation: [1 + rng.below(2), 1 + rng.below(2)],
        };
        if c.valid() && c.symmetric().valid() {
            return c;
        }
    }
}

#[test]
fn random_convolutions_and_their_gradients_match_the_definition() {
    let mut rng = Lcg(7);
    for _ in 0..60 {
        let case = random_case(&mut rng);
        check(&case, false, &mut rng);
        check(&case, true, &mut rng);
    }
}

#[test]
fn network_sized_convolutions_spanning_several_tiles_match_the_definition() {
    let mut rng = Lcg(11);
    let case = |batch, cin_g, cout_g, hw, k, stride, pad| Case {
        batch,
        groups: 1,
        cin_g,
        cout_g,
        hw: [hw, hw + 3],
        kernel: [k, k],
        stride: [stride, stride],
        padding: [(pad, pad), (pad, pad)],
        dilation: [1, 1],
    };
    for c in [
        // 576-row im2col: 455-position tiles over 38×41 outputs, one image, two and three
        // (with three, a thread's share of the weight gradient runs from one image's
        // shorter last tile into the next image's full one).
        case(1, 64, 24, 40, 3, 1, 0),
        case(2, 64, 24, 40, 3, 1, 0),
        case(3, 64, 24, 40, 3, 1, 0),
        // DCGAN-like strided 4×4 and a 7×7 stem with few channels in and out.
        case(3, 32, 16, 18, 4, 2, 1),
        case(1, 3, 8, 45, 7, 1, 3),
        case(1, 8, 3, 45, 7, 1, 3),
    ] {
        check(&c, false, &mut rng);
        check(&c, true, &mut rng);
    }
}
