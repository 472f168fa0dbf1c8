//! Benchmark: every convolution shape of the DCGAN 64 px step, the CycleGAN 128 px step,
//! the shipped style network at 1024×768 and a Gatys iteration at 512 px (VGG19 to conv3_2),
//! timed op by op: the forward pass, the gradient
//! for the input (backward-data) and the gradient for the weight (backward-weight). This is
//! the profile behind `docs/performance.md`; `benches/reference/conv_ops.py` times the same
//! shapes in PyTorch and `benches/run_conv_ops.sh` prints both side by side.
//!
//! cargo bench --bench conv_ops [-- --iters N] [--only dcgan|cyclegan|style|gatys] [--list]
//!
//! `--list` prints the shapes (one JSON line each, untimed): the PyTorch twin reads them
//! from its standard input, so the list lives here only. Otherwise one JSON line per
//! (shape, op): `ms` is the median time of the op alone. The backward
//! times are measured as (forward + backward) − forward on the autodiff device, with only
//! the input or only the weight tracked, so each backward pass runs alone.

mod common;

use std::time::Instant;

use common::{arg, arg_or, median_seconds};

use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// One convolution layer as the networks use it.
#[derive(Clone, Copy)]
struct Shape {
    net: &'static str,
    batch: usize,
    cin: usize,
    cout: usize,
    /// Input height and width.
    hw: (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    /// A transposed convolution (DCGAN's generator).
    transposed: bool,
    /// How many times the network runs this shape in one step or image.
    count: usize,
}

#[allow(clippy::too_many_arguments)] // one argument per column of the table below
const fn conv(
    net: &'static str,
    batch: usize,
    cin: usize,
    cout: usize,
    hw: (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    count: usize,
) -> Shape {
    Shape {
        net,
        batch,
        cin,
        cout,
        hw,
        kernel,
        stride,
        padding,
        transposed: false,
        count,
    }
}

const fn transposed(s: Shape) -> Shape {
    Shape {
        transposed: true,
        ..s
    }
}

/// The layers of `benches/dcgan_step.rs`, `benches/cyclegan_step.rs` and the shipped style
/// network (`models/styles-fast.safetensors`: width 16, 3 blocks, 9×9 outer kernels).
/// Padding that the networks do by reflection is done before the conv, so those convs
/// here have padding 0 on the padded size.
fn shapes() -> Vec<Shape> {
    vec![
        // DCGAN 64 px, batch 16: generator (transposed 4×4 s2), discriminator (4×4 s2).
        transposed(conv("dcgan", 16, 512, 256, (4, 4), 4, 2, 1, 1)),
        transposed(conv("dcgan", 16, 256, 128, (8, 8), 4, 2, 1, 1)),
        transposed(conv("dcgan", 16, 128, 64, (16, 16), 4, 2, 1, 1)),
        transposed(conv("dcgan", 16, 64, 3, (32, 32), 4, 2, 1, 1)),
        conv("dcgan", 16, 3, 64, (64, 64), 4, 2, 1, 2),
        conv("dcgan", 16, 64, 128, (32, 32), 4, 2, 1, 2),
        conv("dcgan", 16, 128, 256, (16, 16), 4, 2, 1, 2),
        conv("dcgan", 16, 256, 512, (8, 8), 4, 2, 1, 2),
        // CycleGAN 128 px, batch 1, two ResNet generators (width 64, 6 blocks) and two
        // 70×70 PatchGANs; each generator runs twice a step (cycle), each D twice.
        conv("cyclegan", 1, 3, 64, (134, 134), 7, 1, 0, 4),
        conv("cyclegan", 1, 64, 128, (128, 128), 3, 2, 1, 4),
        conv("cyclegan", 1, 128, 256, (64, 64), 3, 2, 1, 4),
        conv("cyclegan", 1, 256, 256, (34, 34), 3, 1, 0, 48),
        conv("cyclegan", 1, 256, 128, (66, 66), 3, 1, 0, 4),
        conv("cyclegan", 1, 128, 64, (130, 130), 3, 1, 0, 4),
        conv("cyclegan", 1, 64, 3, (134, 134), 7, 1, 0, 4),
        conv("cyclegan", 1, 3, 64, (128, 128), 4, 2, 1, 4),
        conv("cyclegan", 1, 64, 128, (64, 64), 4, 2, 1, 4),
        conv("cyclegan", 1, 128, 256, (32, 32), 4, 2, 1, 4),
        conv("cyclegan", 1, 256, 512, (16, 16), 4, 1, 1, 4),
        conv("cyclegan", 1, 512, 1, (15, 15), 4, 1, 1, 4),
        // The shipped style network at 1024×768 (forward only).
        conv("style", 1, 3, 16, (776, 1032), 9, 1, 0, 1),
        conv("style", 1, 16, 32, (770, 1026), 3, 2, 0, 1),
        conv("style", 1, 32, 64, (386, 514), 3, 2, 0, 1),
        conv("style", 1, 64, 64, (194, 258), 3, 1, 0, 6),
        conv("style", 1, 64, 32, (386, 514), 3, 1, 0, 1),
        conv("style", 1, 32, 16, (770, 1026), 3, 1, 0, 1),
        conv("style", 1, 16, 3, (776, 1032), 9, 1, 0, 1),
        // A Gatys iteration at 512 px: VGG19 (zero padding 1) to conv3_2, forward and the
        // gradient for the input only (the network's weights are frozen).
        conv("gatys", 1, 3, 64, (512, 512), 3, 1, 1, 1),
        conv("gatys", 1, 64, 64, (512, 512), 3, 1, 1, 1),
        conv("gatys", 1, 64, 128, (256, 256), 3, 1, 1, 1),
        conv("gatys", 1, 128, 128, (256, 256), 3, 1, 1, 1),
        conv("gatys", 1, 128, 256, (128, 128), 3, 1, 1, 1),
        conv("gatys", 1, 256, 256, (128, 128), 3, 1, 1, 1),
    ]
}

/// The ops a network runs on its convolutions: 0 forward, 1 backward-data, 2
/// backward-weight. The style network is timed for inference; Gatys trains no weight.
fn ops_of(net: &str) -> &'static [usize] {
    match net {
        "style" => &[0],
        "gatys" => &[0, 1],
        _ => &[0, 1, 2],
    }
}

fn random(dims: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(dims, burn::tensor::Distribution::Normal(0.0, 1.0), device)
}

/// Times one op of `shape`: 0 forward, 1 backward-data, 2 backward-weight.
fn time_op(s: &Shape, op: usize, iters: usize) -> f64 {
    let device = if op == 0 {
        Device::flex()
    } else {
        Device::flex().autodiff()
    };
    let (h, w) = s.hw;
    let x = random([s.batch, s.cin, h, w], &device);
    let weight = if s.transposed {
        random([s.cin, s.cout, s.kernel, s.kernel], &device)
    } else {
        random([s.cout, s.cin, s.kernel, s.kernel], &device)
    };
    let forward = |x: Tensor<4>, weight: Tensor<4>| {
        if s.transposed {
            conv_transpose2d(
                x,
                weight,
                None,
                ConvTransposeOptions::new(
                    [s.stride; 2],
                    [s.padding; 2],
                    [s.stride - 1; 2],
                    [1; 2],
                    1,
                ),
            )
        } else {
            conv2d(
                x,
                weight,
                None,
                ConvOptions::new([s.stride; 2], [s.padding; 2], [1; 2], 1),
            )
        }
    };
    let run_forward = || {
        let t = Instant::now();
        let y = forward(x.clone(), weight.clone());
        let _ = y.sum().into_scalar::<f32>();
        t.elapsed().as_secs_f64()
    };
    if op == 0 {
        return median_seconds(iters, run_forward);
    }
    let run_backward = || {
        let (xt, wt) = if op == 1 {
            (x.clone().require_grad(), weight.clone())
        } else {
            (x.clone(), weight.clone().require_grad())
        };
        let t = Instant::now();
        let y = forward(xt.clone(), wt.clone());
        let grads = y.sum().backward();
        let g = if op == 1 {
            xt.grad(&grads)
        } else {
            wt.grad(&grads)
        };
        let _ = g.expect("a gradient").sum().into_scalar::<f32>();
        t.elapsed().as_secs_f64()
    };
    (median_seconds(iters, run_backward) - median_seconds(iters, run_forward)).max(0.0)
}

fn main() {
    let iters: usize = arg_or("--iters", 5);
    let only = arg("--only");
    let list = std::env::args().any(|a| a == "--list");
    // The pool burn Flex runs on (RAYON_NUM_THREADS / --threads set it), not the core count.
    let threads = rayon::current_num_threads();
    for s in shapes() {
        if only.as_deref().is_some_and(|o| o != s.net) {
            continue;
        }
        let shape = serde_json::json!({
            "net": s.net,
            "batch": s.batch,
            "cin": s.cin,
            "cout": s.cout,
            "hw": [s.hw.0, s.hw.1],
            "kernel": s.kernel,
            "stride": s.stride,
            "padding": s.padding,
            "transposed": s.transposed,
            "count": s.count,
            "label": format!(
                "{}x{}x{}x{} -> {} k{} s{} p{}",
                s.batch, s.cin, s.hw.0, s.hw.1, s.cout, s.kernel, s.stride, s.padding
            ),
        });
        if list {
            println!("{shape}");
            continue;
        }
        for &op in ops_of(s.net) {
            let ms = time_op(&s, op, iters) * 1000.0;
            let mut line = shape.clone();
            line["op"] = ["forward", "backward_data", "backward_weight"][op].into();
            line["ms"] = ((ms * 100.0).round() / 100.0).into();
            line["threads"] = threads.into();
            println!("{line}");
        }
    }
}
