//! Atelier patch: f32 2D convolutions as NCHW im2col / col2im around one `gemm` call per
//! tile, for all six ops (conv2d forward, its input and weight gradients, and the three
//! transposed-convolution ops, which are the same three products with roles swapped).
//!
//! Why (measured on a 2-core AMD EPYC, see Atelier's `docs/performance.md`): upstream
//! converts the input to NHWC serially, builds a position-major im2col, scatters the gemm
//! result back to NCHW, and computes the weight gradient as a convolution whose kernel is the
//! whole output-gradient image (a tiny-N gemm over a copy nine to sixteen times the input).
//! Here the im2col buffer is channel-major (`[c·kh·kw, positions]`), so it is built from NCHW
//! rows with `copy_from_slice` at stride 1, the gemm writes straight into the NCHW output,
//! and the weight gradient is the direct product `dY · colᵀ` accumulated over tiles.
//!
//! Work is split into (image, tile of output positions) items. With at least as many items as
//! threads, items run in parallel with a sequential gemm; otherwise the gemm itself runs in
//! parallel. Every reduction has a fixed order for a given thread count, so results are
//! deterministic run to run.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::conv::calculate_conv_output_size_asymmetric;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// The geometry of one 2D convolution `x [batch, c_in, h, w] * weight [c_out, c_in/groups,
/// kh, kw] -> y [batch, c_out, oh, ow]`. A transposed convolution is described by the
/// convolution it is the transpose of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conv2dGeom {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    /// Padding before the first row and column (the end padding only sets `oh`, `ow`).
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Conv2dGeom {
    /// The geometry of `conv2d(x, weight, options)`.
    pub fn conv(x: &[usize], weight: &[usize], options: &ConvOptions<2>) -> Self {
        let out = |i: usize| {
            calculate_conv_output_size_asymmetric(
                weight[2 + i],
                options.stride[i],
                options.padding[i],
                options.dilation[i],
                x[2 + i],
            )
        };
        Self {
            batch: x[0],
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: weight[0],
            oh: out(0),
            ow: out(1),
            kh: weight[2],
            kw: weight[3],
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
            groups: options.groups,
        }
    }

    /// The geometry of the convolution whose transpose is `conv_transpose2d(x, weight,
    /// options)`: its input is the transposed op's output, its output the transposed op's
    /// input, and the transposed weight `[c_in_t, c_out_t/groups, kh, kw]` is its weight.
    pub fn transposed(x: &[usize], weight: &[usize], options: &ConvTransposeOptions<2>) -> Self {
        let size = |i: usize| {
            (x[2 + i] - 1) * options.stride[i]
                + options.dilation[i] * (weight[2 + i] - 1)
                + 1
                + options.padding_out[i]
                - 2 * options.padding[i]
        };
        Self {
            batch: x[0],
            c_in: weight[1] * options.groups,
            h: size(0),
            w: size(1),
            c_out: x[1],
            oh: x[2],
            ow: x[3],
            kh: weight[2],
            kw: weight[3],
            stride: options.stride,
            pad: options.padding,
            dilation: options.dilation,
            groups: options.groups,
        }
    }

    fn c_in_group(&self) -> usize {
        self.c_in / self.groups
    }

    fn c_out_group(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of the im2col matrix of one group: `c_in_group · kh · kw`.
    fn k_len(&self) -> usize {
        self.c_in_group() * self.kh * self.kw
    }

    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Output positions per tile: an im2col buffer of about 1 MB (it stays in L2 while the
    /// gemm reads it), at least 64 positions so the gemm is not dominated by its set-up.
    fn tile(&self) -> usize {
        (256 * 1024 / self.k_len().max(1))
            .max(64)
            .min(self.positions())
            .max(1)
    }

    fn x_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn y_len(&self) -> usize {
        self.c_out * self.positions()
    }
}

/// One unit of work: image `b`, output positions `p0..p0 + len`.
#[derive(Clone, Copy)]
struct Item {
    b: usize,
    p0: usize,
    len: usize,
}

fn items(geom: &Conv2dGeom) -> Vec<Item> {
    let (p, t) = (geom.positions(), geom.tile());
    (0..geom.batch)
        .flat_map(|b| {
            (0..p.div_ceil(t)).map(move |i| Item {
                b,
                p0: i * t,
                len: t.min(p - i * t),
            })
        })
        .collect()
}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

fn gemm_parallelism(parallel: bool) -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    if parallel {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = parallel;
    gemm::Parallelism::None
}

/// Runs `f(i)` for `i in 0..n`, in parallel when `parallel` (and rayon is on).
fn for_each(n: usize, parallel: bool, f: impl Fn(usize) + Send + Sync) {
    for_each_with_buffer(n, parallel, 0, |i, _| f(i));
}

/// `for_each` with a scratch buffer of `len` values per worker (not per call), so the hot
/// loop neither allocates nor zeroes memory it is about to overwrite.
fn for_each_with_buffer(
    n: usize,
    parallel: bool,
    len: usize,
    f: impl Fn(usize, &mut Vec<f32>) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    if parallel && n > 1 {
        use rayon::prelude::*;
        (0..n)
            .into_par_iter()
            .for_each_init(|| vec![0.0f32; len], |buf, i| f(i, buf));
        return;
    }
    let _ = parallel;
    let mut buf = vec![0.0f32; len];
    (0..n).for_each(|i| f(i, &mut buf));
}

/// `len` zeros written now, for a buffer that is then read and added to (col2im): a
/// `vec![0.0; len]` may come straight from the OS as untouched pages, which the first read
/// maps to the shared zero page, so that each first write is a copy-on-write fault with a
/// TLB shootdown across all threads. `black_box` keeps the compiler from turning the fill
/// back into `calloc`.
fn written_zeros(len: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, core::hint::black_box(0.0f32));
    v
}

/// A pointer shared by workers that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer `offset` values in (a method, so closures capture the whole wrapper).
    ///
    /// # Safety
    /// `offset` must lie inside the buffer.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// The valid output columns `[lo, hi)` of kernel column offset `off` (already dilated): those
/// whose input column `ox·stride + off − pad` lies in `0..w`.
fn valid_columns(ow: usize, stride: usize, off: usize, pad: usize, w: usize) -> (usize, usize) {
    let lo = if pad > off {
        (pad - off).div_ceil(stride)
    } else {
        0
    };
    let hi = if w + pad > off {
        (w + pad - off - 1) / stride + 1
    } else {
        0
    };
    (lo.min(ow), hi.min(ow).max(lo.min(ow)))
}

/// Walks the im2col matrix of `group` (its channels `channels`, counted within the group)
/// for output positions `item` and calls `visit(offset in col, input plane, input row or None
/// in the padding, first output column, segment length, valid columns, kernel column offset)`
/// per output-row segment: the index arithmetic `im2col` and `col2im` share.
#[inline]
fn for_each_segment(
    geom: &Conv2dGeom,
    group: usize,
    channels: core::ops::Range<usize>,
    item: Item,
    mut visit: impl FnMut(usize, usize, Option<usize>, usize, usize, (usize, usize), usize),
) {
    let (cig, kh, kw) = (geom.c_in_group(), geom.kh, geom.kw);
    let [sh, sw] = geom.stride;
    let [ph, pw] = geom.pad;
    let [dh, dw] = geom.dilation;
    for c in channels {
        let plane = group * cig + c;
        for ky in 0..kh {
            for kx in 0..kw {
                let row = ((c * kh + ky) * kw + kx) * item.len;
                let off = kx * dw;
                let cols = valid_columns(geom.ow, sw, off, pw, geom.w);
                let mut i = 0;
                while i < item.len {
                    let p = item.p0 + i;
                    let (oy, ox0) = (p / geom.ow, p % geom.ow);
                    let n = (geom.ow - ox0).min(item.len - i);
                    let iy = (oy * sh + ky * dh) as isize - ph as isize;
                    let in_row = (iy >= 0 && (iy as usize) < geom.h).then_some(iy as usize);
                    visit(row + i, plane, in_row, ox0, n, cols, off);
                    i += n;
                }
            }
        }
    }
}

/// Fills `col` (`[k_len, item.len]`) with the receptive fields of `item`'s output positions
/// in image `x` (`[c_in, h, w]`), zeros where they fall in the padding.
fn im2col(geom: &Conv2dGeom, x: &[f32], group: usize, item: Item, col: &mut [f32]) {
    let (h, w, sw, pw) = (geom.h, geom.w, geom.stride[1], geom.pad[1]);
    let channels = 0..geom.c_in_group();
    for_each_segment(
        geom,
        group,
        channels,
        item,
        |at, plane, in_row, ox0, n, (lo, hi), off| {
            let seg = &mut col[at..at + n];
            let Some(iy) = in_row else {
                seg.fill(0.0);
                return;
            };
            let src = &x[(plane * h + iy) * w..][..w];
            let j_lo = lo.saturating_sub(ox0).min(n);
            let j_hi = hi.saturating_sub(ox0).min(n).max(j_lo);
            seg[..j_lo].fill(0.0);
            seg[j_hi..].fill(0.0);
            if j_hi == j_lo {
                return;
            }
            if sw == 1 {
                let s0 = ox0 + j_lo + off - pw;
                seg[j_lo..j_hi].copy_from_slice(&src[s0..s0 + (j_hi - j_lo)]);
            } else {
                for j in j_lo..j_hi {
                    seg[j] = src[(ox0 + j) * sw + off - pw];
                }
            }
        },
    );
}

/// The adjoint of `im2col`: adds `col` into image `dx` (`[c_in, h, w]`) for the channels
/// `channels` of `group`.
fn col2im(
    geom: &Conv2dGeom,
    col: &[f32],
    group: usize,
    channels: core::ops::Range<usize>,
    item: Item,
    dx: SharedMut,
) {
    let (h, w, sw, pw) = (geom.h, geom.w, geom.stride[1], geom.pad[1]);
    for_each_segment(
        geom,
        group,
        channels,
        item,
        |at, plane, in_row, ox0, n, (lo, hi), off| {
            let Some(iy) = in_row else { return };
            let seg = &col[at..at + n];
            // Safety: the caller gives each worker its own image or its own channel plane.
            let dst = unsafe { core::slice::from_raw_parts_mut(dx.at((plane * h + iy) * w), w) };
            let j_lo = lo.saturating_sub(ox0).min(n);
            let j_hi = hi.saturating_sub(ox0).min(n).max(j_lo);
            if j_hi == j_lo {
                return;
            }
            if sw == 1 {
                let s0 = ox0 + j_lo + off - pw;
                for (d, s) in dst[s0..s0 + (j_hi - j_lo)].iter_mut().zip(&seg[j_lo..j_hi]) {
                    *d += *s;
                }
            } else {
                for j in j_lo..j_hi {
                    dst[(ox0 + j) * sw + off - pw] += seg[j];
                }
            }
        },
    );
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)` with explicit row and column strides.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    [dst_rs, dst_cs]: [usize; 2],
    accumulate: bool,
    lhs: *const f32,
    [lhs_rs, lhs_cs]: [usize; 2],
    rhs: *const f32,
    [rhs_rs, rhs_cs]: [usize; 2],
    parallel: bool,
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm_parallelism(parallel),
        )
    }
}

/// `y = conv2d(x, weight) [+ bias]`.
pub(crate) fn forward(
    geom: &Conv2dGeom,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (p, k_len, cog) = (geom.positions(), geom.k_len(), geom.c_out_group());
    let mut y = vec![0.0f32; geom.batch * geom.y_len()];
    let y_ptr = SharedMut(y.as_mut_ptr());
    let work = items(geom);
    let outer = work.len() >= threads();
    for_each_with_buffer(work.len(), outer, k_len * geom.tile(), |i, col| {
        let item = work[i];
        let x_img = &x[item.b * geom.x_len()..][..geom.x_len()];
        let col = &mut col[..k_len * item.len];
        for g in 0..geom.groups {
            im2col(geom, x_img, g, item, col);
            // Safety: items cover disjoint (image, position) ranges of `y`.
            unsafe {
                gemm_f32(
                    [cog, item.len, k_len],
                    y_ptr.at(item.b * geom.y_len() + g * cog * p + item.p0),
                    [p, 1],
                    false,
                    weight.as_ptr().add(g * cog * k_len),
                    [k_len, 1],
                    col.as_ptr(),
                    [item.len, 1],
                    !outer,
                );
            }
        }
    });
    if let Some(bias) = bias {
        add_bias(&mut y, bias, p);
    }
    y
}

/// Adds `bias[c]` to every value of channel plane `c` (planes of `plane_len` values).
fn add_bias(y: &mut [f32], bias: &[f32], plane_len: usize) {
    for (i, plane) in y.chunks_mut(plane_len.max(1)).enumerate() {
        let b = bias[i % bias.len()];
        plane.iter_mut().for_each(|v| *v += b);
    }
}

/// The gradient of `conv2d` for its input. At stride 1 it is itself a convolution (of `dy`
/// with the weight flipped and its channel axes swapped), which runs as fast as the forward
/// pass; otherwise `dx = col2im(weightᵀ · dy)`.
pub(crate) fn input_grad(geom: &Conv2dGeom, dy: &[f32], weight: &[f32]) -> Vec<f32> {
    if let Some((flipped_geom, flipped)) = flipped_conv(geom, weight) {
        return forward(&flipped_geom, dy, &flipped, None);
    }
    input_grad_col2im(geom, dy, weight)
}

/// For a stride-1 convolution whose padding is at most its dilated kernel span (and with at
/// least 8 input channels per group), the
/// convolution that computes its input gradient: input `dy`, output `dx`, padding
/// `dilation·(k − 1) − pad`, and the weight `[c_in, c_out/groups, kh, kw]` flipped in space.
fn flipped_conv(geom: &Conv2dGeom, weight: &[f32]) -> Option<(Conv2dGeom, Vec<f32>)> {
    let span = [
        geom.dilation[0] * (geom.kh - 1),
        geom.dilation[1] * (geom.kw - 1),
    ];
    // The flipped convolution's output channels are this one's input channels: with only a
    // few (an RGB stem) its gemm is too narrow and col2im wins (measured: 3 channels, 7×7).
    if geom.stride != [1, 1]
        || geom.pad[0] > span[0]
        || geom.pad[1] > span[1]
        || geom.c_in_group() < 8
    {
        return None;
    }
    let (cig, cog, kk) = (geom.c_in_group(), geom.c_out_group(), geom.kh * geom.kw);
    let mut flipped = vec![0.0f32; weight.len()];
    for g in 0..geom.groups {
        for co in 0..cog {
            for ci in 0..cig {
                let src = ((g * cog + co) * cig + ci) * kk;
                let dst = ((g * cig + ci) * cog + co) * kk;
                for k in 0..kk {
                    flipped[dst + k] = weight[src + kk - 1 - k];
                }
            }
        }
    }
    let flipped_geom = Conv2dGeom {
        c_in: geom.c_out,
        h: geom.oh,
        w: geom.ow,
        c_out: geom.c_in,
        oh: geom.h,
        ow: geom.w,
        pad: [span[0] - geom.pad[0], span[1] - geom.pad[1]],
        ..*geom
    };
    Some((flipped_geom, flipped))
}

/// `dx = col2im(weightᵀ · dy)`, any stride.
fn input_grad_col2im(geom: &Conv2dGeom, dy: &[f32], weight: &[f32]) -> Vec<f32> {
    let (p, k_len, cog) = (geom.positions(), geom.k_len(), geom.c_out_group());
    let mut dx = written_zeros(geom.batch * geom.x_len());
    let dx_ptr = SharedMut(dx.as_mut_ptr());
    let work = items(geom);
    let tiles = work.len() / geom.batch.max(1);
    // Tiles of one image overlap in dx (the kernel's halo), so images are the parallel unit;
    // with fewer images than threads the gemm and the scatter (by channel) go parallel.
    let outer = geom.batch >= threads();
    let run_tile = |item: Item, col: &mut [f32]| {
        let img = SharedMut(unsafe { dx_ptr.at(item.b * geom.x_len()) });
        for g in 0..geom.groups {
            // Safety: `col` is this worker's; `dy`/`weight` are read only.
            unsafe {
                gemm_f32(
                    [k_len, item.len, cog],
                    col.as_mut_ptr(),
                    [item.len, 1],
                    false,
                    weight.as_ptr().add(g * cog * k_len),
                    [1, k_len],
                    dy.as_ptr()
                        .add(item.b * geom.y_len() + g * cog * p + item.p0),
                    [p, 1],
                    !outer,
                );
            }
            let cig = geom.c_in_group();
            if outer {
                col2im(geom, col, g, 0..cig, item, img);
            } else {
                for_each(cig, true, |c| col2im(geom, col, g, c..c + 1, item, img));
            }
        }
    };
    // Each tile uses the front of the buffer; the last tile of an image is shorter.
    let buffer = k_len * geom.tile();
    if outer {
        for_each_with_buffer(geom.batch, true, buffer, |b, col| {
            for item in &work[b * tiles..(b + 1) * tiles] {
                run_tile(*item, &mut col[..k_len * item.len]);
            }
        });
    } else {
        let mut col = vec![0.0f32; buffer];
        for item in &work {
            run_tile(*item, &mut col[..k_len * item.len]);
        }
    }
    dx
}

/// The gradient of `conv2d` for its weight: `dw = Σ dy · colᵀ` over images and tiles,
/// shape `[c_out, c_in/groups, kh, kw]`.
pub(crate) fn weight_grad(geom: &Conv2dGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, k_len, cog) = (geom.positions(), geom.k_len(), geom.c_out_group());
    let dw_len = geom.c_out * k_len;
    let work = items(geom);
    // Fixed contiguous chunks, one per thread, each summing into its own buffer, then the
    // buffers added in chunk order: deterministic for a given thread count.
    let chunks = threads().min(work.len()).max(1);
    let outer = chunks > 1;
    let per_chunk = work.len().div_ceil(chunks);
    let mut partials = vec![0.0f32; chunks * dw_len];
    let partial_ptr = SharedMut(partials.as_mut_ptr());
    for_each_with_buffer(chunks, outer, k_len * geom.tile(), |chunk, col| {
        let dw = unsafe { partial_ptr.at(chunk * dw_len) };
        for (n, item) in work.iter().skip(chunk * per_chunk).enumerate().take(per_chunk) {
            // A chunk may run past an image's shorter last tile into the next image.
            let col = &mut col[..k_len * item.len];
            let x_img = &x[item.b * geom.x_len()..][..geom.x_len()];
            for g in 0..geom.groups {
                im2col(geom, x_img, g, *item, col);
                // Safety: each chunk owns its partial buffer.
                unsafe {
                    gemm_f32(
                        [cog, k_len, item.len],
                        dw.add(g * cog * k_len),
                        [k_len, 1],
                        // The first product overwrites: reading a fresh calloc'd buffer before
                        // writing it maps the shared zero page, and every write after that is a
                        // copy-on-write fault with a TLB shootdown across threads (~15 % of a
                        // DCGAN step in `perf` before this).
                        n > 0,
                        dy.as_ptr()
                            .add(item.b * geom.y_len() + g * cog * p + item.p0),
                        [p, 1],
                        col.as_ptr(),
                        [1, item.len],
                        !outer,
                    );
                }
            }
        }
    });
    let (first, rest) = partials.split_at_mut(dw_len);
    for partial in rest.chunks(dw_len) {
        first.iter_mut().zip(partial).for_each(|(a, b)| *a += *b);
    }
    partials.truncate(dw_len);
    partials
}

/// A contiguous copy (or the tensor itself) and its shape.
fn contiguous(t: &FlexTensor) -> (FlexTensor, Vec<usize>) {
    let t = t.to_contiguous();
    let shape = t.layout().shape().to_vec();
    (t, shape)
}

fn tensor(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        DType::F32,
    )
}

/// Whether this patch handles the op: f32, and not depthwise (upstream's direct depthwise
/// kernel beats a gemm with one row).
pub(crate) fn handles(x: &FlexTensor, groups: usize, c_in: usize) -> bool {
    x.dtype() == DType::F32 && !(groups > 1 && groups == c_in)
}

pub(crate) fn conv2d(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, xs) = contiguous(&x);
    let (weight, ws) = contiguous(&weight);
    let geom = Conv2dGeom::conv(&xs, &ws, options);
    let bias = bias.map(|b| b.to_contiguous());
    let y = forward(
        &geom,
        x.storage(),
        weight.storage(),
        bias.as_ref().map(|b| b.storage()),
    );
    tensor(y, &[geom.batch, geom.c_out, geom.oh, geom.ow])
}

pub(crate) fn conv2d_x_backward(
    x_shape: &[usize],
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (weight, ws) = contiguous(&weight);
    let dy = output_grad.to_contiguous();
    let geom = Conv2dGeom::conv(x_shape, &ws, options);
    let dx = input_grad(&geom, dy.storage(), weight.storage());
    tensor(dx, x_shape)
}

pub(crate) fn conv2d_weight_backward(
    x: FlexTensor,
    weight_shape: &[usize],
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, xs) = contiguous(&x);
    let dy = output_grad.to_contiguous();
    let geom = Conv2dGeom::conv(&xs, weight_shape, options);
    let dw = weight_grad(&geom, x.storage(), dy.storage());
    tensor(dw, weight_shape)
}

pub(crate) fn conv_transpose2d(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let (x, xs) = contiguous(&x);
    let (weight, ws) = contiguous(&weight);
    let geom = Conv2dGeom::transposed(&xs, &ws, options);
    let mut y = input_grad(&geom, x.storage(), weight.storage());
    if let Some(bias) = bias {
        add_bias(&mut y, bias.to_contiguous().storage(), geom.h * geom.w);
    }
    tensor(y, &[geom.batch, geom.c_in, geom.h, geom.w])
}

pub(crate) fn conv_transpose2d_weight_backward(
    x: FlexTensor,
    weight_shape: &[usize],
    output_grad: FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let (x, xs) = contiguous(&x);
    let dy = output_grad.to_contiguous();
    let geom = Conv2dGeom::transposed(&xs, weight_shape, options);
    // The transposed op's output gradient is the convolution's input, its input the
    // convolution's output gradient.
    let dw = weight_grad(&geom, dy.storage(), x.storage());
    tensor(dw, weight_shape)
}
