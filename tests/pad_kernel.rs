//! The patched burn Flex `pad` (`vendor/burn-flex/src/ops/pad.rs`, one pass per output row)
//! against the definition: every output value read from the input coordinate that
//! reflection, edge replication or the constant gives, per axis. Ranks 1 to 5, padding on
//! any axes, asymmetric, up to the reflect limit, and non-contiguous (permuted) inputs.

mod common;

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use common::Lcg;

/// Output coordinate `j` of an axis of `n` values padded by `before`: its source, or None.
fn source(j: usize, n: usize, before: usize, mode: PadMode) -> Option<usize> {
    let k = j as i64 - before as i64;
    let last = n as i64 - 1;
    match mode {
        _ if (0..=last).contains(&k) => Some(k as usize),
        PadMode::Constant(_) => None,
        PadMode::Reflect => Some(if k < 0 { -k } else { 2 * last - k } as usize),
        PadMode::Edge => Some(k.clamp(0, last) as usize),
    }
}

fn by_definition(x: &[f32], dims: &[usize], pads: &[(usize, usize)], mode: PadMode) -> Vec<f32> {
    let out: Vec<usize> = dims.iter().zip(pads).map(|(n, (b, a))| n + b + a).collect();
    let total: usize = out.iter().product();
    (0..total)
        .map(|mut i| {
            let mut offset = 0;
            let mut stride = 1;
            let mut inside = true;
            for d in (0..dims.len()).rev() {
                let j = i % out[d];
                i /= out[d];
                match source(j, dims[d], pads[d].0, mode) {
                    Some(k) => offset += k * stride,
                    None => inside = false,
                }
                stride *= dims[d];
            }
            match (inside, mode) {
                (true, _) => x[offset],
                (false, PadMode::Constant(v)) => v,
                (false, _) => unreachable!(),
            }
        })
        .collect()
}

fn check<const D: usize>(rng: &mut Lcg, device: &Device) {
    let dims: [usize; D] = std::array::from_fn(|_| 1 + rng.below(6));
    let mode = match rng.below(3) {
        0 => PadMode::Constant(rng.below(5) as f32 - 2.5),
        1 => PadMode::Reflect,
        _ => PadMode::Edge,
    };
    let pads: [(usize, usize); D] = std::array::from_fn(|d| {
        let limit = match mode {
            PadMode::Reflect => dims[d],
            _ => 5,
        };
        (rng.below(limit), rng.below(limit))
    });
    // Half the cases pad a permuted (non-contiguous) view of the values.
    let permuted = D > 1 && rng.below(2) == 1;
    let x = if permuted {
        let mut rev = dims;
        rev.reverse();
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
        let axes: [isize; D] = std::array::from_fn(|d| (D - 1 - d) as isize);
        Tensor::<D>::from_data(TensorData::new(v, rev), device).permute(axes)
    } else {
        Tensor::<D>::random(dims, burn::tensor::Distribution::Default, device)
    };
    let values: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
    let got: Vec<f32> = x.pad(pads, mode).into_data().try_to_vec().unwrap();
    let want = by_definition(&values, &dims, &pads, mode);
    assert_eq!(
        got, want,
        "dims {dims:?} pads {pads:?} {mode:?} permuted {permuted}"
    );
}

#[test]
fn padding_matches_the_definition_in_every_mode_rank_and_layout() {
    let device = Device::flex();
    let mut rng = Lcg(17);
    for _ in 0..40 {
        check::<1>(&mut rng, &device);
        check::<2>(&mut rng, &device);
        check::<3>(&mut rng, &device);
        check::<4>(&mut rng, &device);
        check::<5>(&mut rng, &device);
    }
    // Large enough for the row-parallel path.
    let x = Tensor::<4>::random(
        [2, 16, 130, 257],
        burn::tensor::Distribution::Default,
        &device,
    );
    let values: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
    let pads = [(0, 0), (1, 2), (4, 4), (4, 3)];
    let got: Vec<f32> = x
        .pad(pads, PadMode::Reflect)
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(
        got,
        by_definition(&values, &[2, 16, 130, 257], &pads, PadMode::Reflect)
    );
}
