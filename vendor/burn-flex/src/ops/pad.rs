//! Padding in one pass (Atelier patch).
//!
//! burn's default `float_pad` writes a full-size output and then every border with
//! `slice_assign` (one full pass per side and axis). Here each output row (the last axis)
//! is written once: the part inside the input copied with `copy_from_slice`, the borders
//! from their mirrored, clamped or constant source. Rows are independent, so they are
//! written in parallel.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::{DType, Element};
use burn_std::{Bytes, PadMode, Shape, bf16, f16};

use crate::{FlexTensor, Layout};

/// `tensor` padded by one `(before, after)` pair per axis, in `mode`.
pub fn pad(tensor: FlexTensor, padding: &[(usize, usize)], mode: PadMode) -> FlexTensor {
    match tensor.dtype() {
        DType::F32 => pad_impl::<f32>(tensor, padding, mode, |v| v),
        DType::F64 => pad_impl::<f64>(tensor, padding, mode, f64::from),
        DType::F16 => pad_impl::<f16>(tensor, padding, mode, f16::from_f32),
        DType::BF16 => pad_impl::<bf16>(tensor, padding, mode, bf16::from_f32),
        other => panic!("pad: unsupported float dtype {other:?}"),
    }
}

/// Where output coordinate `j` of an axis of `n` values padded by `before` reads from, or
/// `None` for the constant.
fn source(j: usize, n: usize, before: usize, mode: PadMode) -> Option<usize> {
    let k = j as isize - before as isize;
    let last = n as isize - 1;
    if (0..=last).contains(&k) {
        return Some(k as usize);
    }
    match mode {
        PadMode::Constant(_) => None,
        PadMode::Reflect => Some(if k < 0 { -k } else { 2 * last - k } as usize),
        PadMode::Edge => Some(k.clamp(0, last) as usize),
    }
}

fn pad_impl<E: Element + bytemuck::Pod + Send + Sync>(
    tensor: FlexTensor,
    padding: &[(usize, usize)],
    mode: PadMode,
    from_f32: impl Fn(f32) -> E,
) -> FlexTensor {
    let dims = tensor.layout().shape().to_vec();
    let rank = dims.len();
    if rank == 0 {
        return tensor;
    }
    assert_eq!(
        padding.len(),
        rank,
        "padding must have one pair per dimension"
    );
    for (&n, &(before, after)) in dims.iter().zip(padding) {
        match mode {
            PadMode::Reflect => assert!(
                before < n && after < n,
                "Reflect padding must be less than dimension size"
            ),
            PadMode::Edge if before + after > 0 => {
                assert!(n != 0, "cannot apply edge padding to an empty dimension")
            }
            _ => {}
        }
    }
    let out_dims: Vec<usize> = dims
        .iter()
        .zip(padding)
        .map(|(n, (b, a))| n + b + a)
        .collect();
    let out_shape = Shape::from(out_dims.clone());
    let fill = from_f32(match mode {
        PadMode::Constant(v) => v,
        _ => 0.0,
    });
    let total: usize = out_dims.iter().product();
    let empty_input = dims.contains(&0);
    if total == 0 || empty_input {
        // Only constant padding can grow an empty input; every value is the constant.
        let bytes = Bytes::from_elems(vec![fill; total]);
        return FlexTensor::new(bytes, Layout::contiguous(out_shape), tensor.dtype());
    }

    let src = tensor.to_contiguous();
    let start = src.layout().start_offset();
    let data: &[E] = &src.storage::<E>()[start..];
    let mut in_strides = vec![1usize; rank];
    for d in (0..rank - 1).rev() {
        in_strides[d] = in_strides[d + 1] * dims[d + 1];
    }
    let (w, ow) = (dims[rank - 1], out_dims[rank - 1]);
    let wb = padding[rank - 1].0;
    // The last axis's border sources, shared by every row.
    let left: Vec<Option<usize>> = (0..wb).map(|j| source(j, w, wb, mode)).collect();
    let right: Vec<Option<usize>> = (wb + w..ow).map(|j| source(j, w, wb, mode)).collect();

    let mut out: Vec<E> = vec![fill; total];
    let write_row = |row: usize, dst: &mut [E]| {
        // The input row this output row reads from (None: all constant).
        let mut rest = row;
        let mut offset = 0usize;
        for d in (0..rank - 1).rev() {
            let j = rest % out_dims[d];
            rest /= out_dims[d];
            match source(j, dims[d], padding[d].0, mode) {
                Some(k) => offset += k * in_strides[d],
                None => return,
            }
        }
        let line = &data[offset..offset + w];
        for (o, s) in dst[..wb].iter_mut().zip(&left) {
            if let Some(s) = s {
                *o = line[*s];
            }
        }
        dst[wb..wb + w].copy_from_slice(line);
        for (o, s) in dst[wb + w..].iter_mut().zip(&right) {
            if let Some(s) = s {
                *o = line[*s];
            }
        }
    };
    for_each_row(&mut out, ow, total >= 1 << 16, write_row);
    let bytes = Bytes::from_elems(out);
    FlexTensor::new(bytes, Layout::contiguous(out_shape), tensor.dtype())
}

/// Runs `f(row index, row)` over the rows of `out` (each `len` long), in parallel when
/// `parallel` (and rayon is on).
fn for_each_row<E: Send>(
    out: &mut [E],
    len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [E]) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(row, dst)| f(row, dst));
        return;
    }
    let _ = parallel;
    out.chunks_mut(len)
        .enumerate()
        .for_each(|(row, dst)| f(row, dst));
}
