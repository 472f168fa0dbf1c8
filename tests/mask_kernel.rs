//! The patched burn Flex `mask_where` for f32 (`vendor/burn-flex/src/ops/mask.rs`, a
//! branch-free in-place select) against the definition, exactly, through each of its paths:
//! the kept tensor owned (written in place), the taken values owned (written in place the
//! other way round), both shared (out of place), and a broadcast mask. Also the ReLU
//! gradient that goes through it under autodiff.

mod common;

use burn::prelude::*;
use common::Lcg;

fn by_definition(t: &[f32], m: &[bool], v: &[f32]) -> Vec<f32> {
    t.iter()
        .zip(m)
        .zip(v)
        .map(|((&t, &m), &v)| if m { v } else { t })
        .collect()
}

fn floats(rng: &mut Lcg, n: usize, dev: &Device) -> (Vec<f32>, Tensor<2>) {
    let v = rng.vec(n);
    let t = Tensor::<2>::from_data(TensorData::new(v.clone(), [n / 37, 37]), dev);
    (v, t)
}

#[test]
fn mask_where_selects_exactly_on_every_path() {
    let dev = Device::flex();
    let mut rng = Lcg(11);
    // Odd lengths, so vectorised loops run their remainders.
    for rows in [1usize, 3, 29, 301] {
        let n = rows * 37;
        let tv = rng.vec(n);
        let vv = rng.vec(n);
        let fresh =
            |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, 37]), &dev);
        let mv: Vec<bool> = (0..n).map(|_| rng.next() > 0.1).collect();
        let m = Tensor::<2, Bool>::from_data(TensorData::new(mv.clone(), [rows, 37]), &dev);
        let want = by_definition(&tv, &mv, &vv);
        let got = |out: Tensor<2>| out.into_data().try_to_vec::<f32>().unwrap();

        // Both operands owned: the kept tensor is written in place.
        assert_eq!(got(fresh(&tv).mask_where(m.clone(), fresh(&vv))), want);
        // The kept tensor shared, the values owned: the values are written in place.
        let keep = fresh(&tv);
        assert_eq!(got(keep.clone().mask_where(m.clone(), fresh(&vv))), want);
        assert_eq!(got(keep), tv, "the shared input was changed");
        // Both shared: out of place, inputs untouched.
        let (t, v) = (fresh(&tv), fresh(&vv));
        assert_eq!(got(t.clone().mask_where(m.clone(), v.clone())), want);
        assert_eq!((got(t.clone()), got(v)), (tv.clone(), vv.clone()));
        // A scalar-filled mask_fill on the same mask.
        let filled = got(t.clone().mask_fill(m.clone(), 0.5));
        let fill_want: Vec<f32> = tv
            .iter()
            .zip(&mv)
            .map(|(&x, &k)| if k { 0.5 } else { x })
            .collect();
        assert_eq!(filled, fill_want);
    }
    // A mask broadcast along rows.
    let (tv, t) = floats(&mut rng, 37 * 5, &dev);
    let (vv, v) = floats(&mut rng, 37 * 5, &dev);
    let row: Vec<bool> = (0..37).map(|_| rng.next() > 0.0).collect();
    let m = Tensor::<2, Bool>::from_data(TensorData::new(row.clone(), [1, 37]), &dev);
    let mv: Vec<bool> = (0..5).flat_map(|_| row.clone()).collect();
    let out = t.mask_where(m, v).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(out, by_definition(&tv, &mv, &vv));
}

#[test]
fn relu_gradient_passes_only_where_the_input_was_positive() {
    let dev = Device::flex().autodiff();
    let mut rng = Lcg(5);
    let xv = rng.vec(4 * 999);
    let gv = rng.vec(4 * 999);
    let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [4, 999]), &dev).require_grad();
    let g = Tensor::<2>::from_data(TensorData::new(gv.clone(), [4, 999]), &dev);
    let loss = (burn::tensor::activation::relu(x.clone()) * g).sum();
    let grads = loss.backward();
    let dx = x
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let want: Vec<f32> = xv
        .iter()
        .zip(&gv)
        .map(|(&x, &g)| if x > 0.0 { g } else { 0.0 })
        .collect();
    assert_eq!(dx, want);
}
