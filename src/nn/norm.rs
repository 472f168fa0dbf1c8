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

/// Per-channel mean and variance of one instance-norm layer's input.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerStats {
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// Running sums of one layer's input over a region: merged across tiles into the statistics
/// of the whole image.
#[derive(Clone, Debug, Default)]
pub struct Moments {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    count: f64,
}

impl Moments {
    pub fn merge(&mut self, other: &Moments) {
        if self.sum.is_empty() {
            *self = other.clone();
            return;
        }
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.sum_sq.iter_mut().zip(&other.sum_sq) {
            *a += b;
        }
        self.count += other.count;
    }

    pub fn stats(&self) -> LayerStats {
        let n = self.count.max(1.0);
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        LayerStats {
            var: self
                .sum_sq
                .iter()
                .zip(&mean)
                .map(|(q, m)| (q / n - m * m).max(0.0) as f32)
                .collect(),
            mean: mean.into_iter().map(|m| m as f32).collect(),
        }
    }
}

/// Where instance norms take their statistics from: ordinarily each image's own; for tiled
/// inference, the whole image's. Each tile of an image runs on its own thread with a
/// context sharing one [`StatsExchange`]: at every norm layer a tile contributes its
/// core region's sums and waits until all tiles have, then normalises with the total. So
/// tiles are normalised exactly as the whole image would be.
///
/// For video, a [`StatsHistory`] attached with [`NormContext::set_history`] smooths every
/// layer's statistics across frames.
#[derive(Default)]
pub struct NormContext {
    /// The tile's core region in network-input pixels (y0, y1, x0, x1); ends are clamped.
    core: Option<[usize; 4]>,
    exchange: Option<std::sync::Arc<StatsExchange>>,
    history: Option<std::sync::Arc<StatsHistory>>,
    cursor: usize,
    input_hw: [usize; 2],
}

impl NormContext {
    /// Each input normalised by its own statistics: ordinary instance norm.
    pub fn own() -> Self {
        Self::default()
    }

    /// A tile with `core` region taking part in `exchange`.
    pub fn shared(core: [usize; 4], exchange: std::sync::Arc<StatsExchange>) -> Self {
        Self {
            core: Some(core),
            exchange: Some(exchange),
            ..Self::default()
        }
    }

    /// Also smooth the statistics across frames through `history` (video).
    pub fn set_history(&mut self, history: Option<std::sync::Arc<StatsHistory>>) {
        self.history = history;
    }

    /// Called by a network with its (padded) input size before its first norm layer.
    pub fn begin(&mut self, input_hw: [usize; 2]) {
        self.cursor = 0;
        self.input_hw = input_hw;
    }

    /// Instance norm of `x` (a batch of one when shared) with `norm`'s affine parameters.
    pub fn instance_norm(&mut self, norm: &burn::nn::InstanceNorm, x: Tensor<4>) -> Tensor<4> {
        if self.exchange.is_none() && self.history.is_none() {
            return norm.forward(x);
        }
        let c = x.dims()[1];
        let y = self.normalize(x, norm.epsilon);
        match (&norm.gamma, &norm.beta) {
            (Some(g), Some(b)) => y * g.val().reshape([1, c, 1, 1]) + b.val().reshape([1, c, 1, 1]),
            _ => y,
        }
    }

    /// `x` normalised to zero mean and unit variance per image and channel, without an
    /// affine transform (conditional instance norm applies its own): by the image's own
    /// statistics, or the whole image's when this is a tile.
    pub fn normalize(&mut self, x: Tensor<4>, epsilon: f64) -> Tensor<4> {
        if self.exchange.is_none() && self.history.is_none() {
            return instance_normalize(x, epsilon);
        }
        let layer = self.cursor;
        self.cursor += 1;
        let [n, c, h, w] = x.dims();
        let moments = |region: Tensor<4>, count: usize| {
            let to_vec = |t: Tensor<4>| -> Vec<f64> {
                t.reshape([c])
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .expect("f32 data")
                    .into_iter()
                    .map(f64::from)
                    .collect()
            };
            Moments {
                sum: to_vec(region.clone().sum_dim(3).sum_dim(2)),
                sum_sq: to_vec(region.powf_scalar(2.0).sum_dim(3).sum_dim(2)),
                count: count as f64,
            }
        };
        let mut stats = match (self.core, self.exchange.clone()) {
            (Some([y0, y1, x0, x1]), Some(exchange)) => {
                // The core in this layer's resolution.
                let (sy, sx) = (
                    self.input_hw[0] as f64 / h as f64,
                    self.input_hw[1] as f64 / w as f64,
                );
                let r = |v: usize, s: f64, max: usize| ((v as f64 / s).round() as usize).min(max);
                let (ry0, ry1, rx0, rx1) = (r(y0, sy, h), r(y1, sy, h), r(x0, sx, w), r(x1, sx, w));
                let m = if ry1 > ry0 && rx1 > rx0 {
                    let region = x.clone().slice(s![0..1, .., ry0..ry1, rx0..rx1]);
                    moments(region, (ry1 - ry0) * (rx1 - rx0))
                } else {
                    Moments::default()
                };
                exchange.share(layer, &m)
            }
            _ => {
                assert_eq!(
                    n, 1,
                    "statistics across frames are kept for one image at a time"
                );
                moments(x.clone(), h * w).stats()
            }
        };
        if let Some(history) = &self.history {
            stats = history.smooth(layer, stats);
        }
        let device = x.device();
        let v = |d: &[f32]| {
            Tensor::<1>::from_data(TensorData::new(d.to_vec(), [c]), &device).reshape([1, c, 1, 1])
        };
        (x - v(&stats.mean)) / v(&stats.var).add_scalar(epsilon).sqrt()
    }
}

/// Normalisation statistics carried from frame to frame of a video (temporal consistency):
/// each layer's statistics become an exponential average, `momentum` of the previous
/// frame's smoothed statistics plus the rest of this frame's own. Brightness and texture
/// scale then drift instead of jumping. Tiles of one frame all read the previous frame's
/// values, so they agree; [`StatsHistory::end_frame`] moves to the next frame.
#[derive(Debug, Default)]
pub struct StatsHistory {
    momentum: f32,
    state: std::sync::Mutex<HistoryState>,
}

#[derive(Clone, Debug, Default)]
struct HistoryState {
    previous: Vec<LayerStats>,
    current: Vec<Option<LayerStats>>,
}

impl StatsHistory {
    pub fn new(momentum: f32) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            momentum: momentum.clamp(0.0, 1.0),
            state: Default::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HistoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn smooth(&self, layer: usize, own: LayerStats) -> LayerStats {
        let mut st = self.lock();
        let m = self.momentum;
        let smoothed = match st.previous.get(layer) {
            Some(p) if p.mean.len() == own.mean.len() => {
                let mix = |a: &[f32], b: &[f32]| -> Vec<f32> {
                    a.iter()
                        .zip(b)
                        .map(|(p, o)| m * p + (1.0 - m) * o)
                        .collect()
                };
                LayerStats {
                    mean: mix(&p.mean, &own.mean),
                    var: mix(&p.var, &own.var),
                }
            }
            _ => own,
        };
        if st.current.len() <= layer {
            st.current.resize(layer + 1, None);
        }
        st.current[layer] = Some(smoothed.clone());
        smoothed
    }

    /// The frame is done: its smoothed statistics are what the next frame starts from.
    pub fn end_frame(&self) {
        let mut st = self.lock();
        let current = std::mem::take(&mut st.current);
        st.previous = current.into_iter().flatten().collect();
    }

    /// Forget the past (a scene cut).
    pub fn reset(&self) {
        *self.lock() = HistoryState::default();
    }

    /// The smoothed statistics the next frame starts from, per layer (for resuming).
    pub fn snapshot(&self) -> Vec<LayerStats> {
        self.lock().previous.clone()
    }

    pub fn restore(&self, layers: Vec<LayerStats>) {
        *self.lock() = HistoryState {
            previous: layers,
            current: vec![],
        };
    }
}

/// Instance normalisation without affine parameters: each image's channels to zero mean
/// and unit (biased) variance over H and W, as burn's `InstanceNorm` computes them.
pub fn instance_normalize(x: Tensor<4>, epsilon: f64) -> Tensor<4> {
    let mean = x.clone().mean_dim(3).mean_dim(2);
    let centred = x - mean;
    let var = centred.clone().powf_scalar(2.0).mean_dim(3).mean_dim(2);
    centred / var.add_scalar(epsilon).sqrt()
}

/// Per-image, per-channel mean and standard deviation [N, C, 1, 1] of features: what
/// AdaIN transfers and what its style loss matches.
#[derive(Clone, Debug)]
pub struct ChannelStats {
    pub mean: Tensor<4>,
    pub std: Tensor<4>,
}

/// Added to variances before the square root, as in instance norm.
pub const STATS_EPSILON: f64 = 1e-5;

impl ChannelStats {
    /// The statistics of features `x` [N, C, H, W] over H and W (biased variance).
    pub fn of(x: Tensor<4>) -> Self {
        let mean = x.clone().mean_dim(3).mean_dim(2);
        let var = (x - mean.clone()).powf_scalar(2.0).mean_dim(3).mean_dim(2);
        Self {
            mean,
            std: var.add_scalar(STATS_EPSILON).sqrt(),
        }
    }

    /// A weighted blend of statistics (weights summing to 1): AdaIN of a blend is the blend
    /// of the AdaINs, as the normalised content is shared.
    pub fn blend(parts: &[(ChannelStats, f32)]) -> Self {
        let (first, w0) = &parts[0];
        let (mut mean, mut std) = (first.mean.clone() * *w0, first.std.clone() * *w0);
        for (s, w) in &parts[1..] {
            mean = mean + s.mean.clone() * *w;
            std = std + s.std.clone() * *w;
        }
        Self { mean, std }
    }

    pub fn detach(self) -> Self {
        Self {
            mean: self.mean.detach(),
            std: self.std.detach(),
        }
    }
}

/// Adaptive instance normalisation (Huang & Belongie 2017): `content`'s channels
/// normalised, then given `style`'s mean and standard deviation. The content statistics
/// come from `ctx`: the features' own, or the whole image's when they are a tile's.
pub fn adain(content: Tensor<4>, style: &ChannelStats, ctx: &mut NormContext) -> Tensor<4> {
    ctx.normalize(content, STATS_EPSILON) * style.std.clone() + style.mean.clone()
}

/// The meeting point of the tiles of one image (see [`NormContext`]). It also hands out
/// one compute token, so only one tile computes at a time: peak working memory stays that
/// of one tile, while the others wait at a norm layer holding only their activations.
pub struct StatsExchange {
    tiles: usize,
    state: std::sync::Mutex<ExchangeState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct ExchangeState {
    /// Per layer: the running total and how many tiles have contributed.
    totals: Vec<(Moments, usize)>,
    /// Per layer: the whole image's statistics, once every tile has contributed.
    published: Vec<Option<LayerStats>>,
    busy: bool,
    /// A tile thread died: the others must not wait for it.
    failed: bool,
}

impl StatsExchange {
    pub fn new(tiles: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            tiles,
            state: Default::default(),
            changed: Default::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExchangeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the compute token.
    pub fn acquire(&self) {
        let mut st = self.lock();
        while st.busy {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        assert!(!st.failed, "another tile of this image failed");
        st.busy = true;
    }

    /// Give the compute token back.
    pub fn release(&self) {
        self.lock().busy = false;
        self.changed.notify_all();
    }

    /// Mark the exchange failed (a tile thread is unwinding) so waiting tiles stop too.
    pub fn fail(&self) {
        let mut st = self.lock();
        st.failed = true;
        st.busy = false;
        self.changed.notify_all();
    }

    /// Contribute a tile's moments for `layer` and wait for the whole image's statistics.
    /// The caller holds the compute token; it is released while waiting.
    fn share(&self, layer: usize, m: &Moments) -> LayerStats {
        let mut st = self.lock();
        st.busy = false;
        if st.totals.len() <= layer {
            st.totals.resize(layer + 1, (Moments::default(), 0));
            st.published.resize(layer + 1, None);
        }
        st.totals[layer].0.merge(m);
        st.totals[layer].1 += 1;
        if st.totals[layer].1 == self.tiles {
            st.published[layer] = Some(st.totals[layer].0.stats());
        }
        self.changed.notify_all();
        loop {
            assert!(!st.failed, "another tile of this image failed");
            if !st.busy
                && let Some(s) = st.published[layer].clone()
            {
                st.busy = true;
                return s;
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
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
    fn adain_gives_the_content_the_style_statistics() {
        let d = Device::flex();
        d.seed(3);
        let content = Tensor::<4>::random([2, 5, 7, 6], burn::tensor::Distribution::Default, &d);
        let style = Tensor::<4>::random(
            [2, 5, 9, 4],
            burn::tensor::Distribution::Normal(2.0, 3.0),
            &d,
        );
        let target = ChannelStats::of(style);
        let out = ChannelStats::of(adain(content, &target, &mut NormContext::own()));
        for (a, b) in [(out.mean, target.mean), (out.std, target.std)] {
            let worst = (a - b).abs().max().into_scalar::<f32>();
            assert!(worst < 1e-3, "statistics differ by {worst}");
        }
    }

    #[test]
    fn history_smooths_statistics_across_frames() {
        let d = Device::flex();
        d.seed(4);
        let frame = |scale: f32| {
            Tensor::<4>::random([1, 3, 6, 5], burn::tensor::Distribution::Default, &d) * scale
        };
        let (a, b) = (frame(1.0), frame(3.0));
        let close = |x: Tensor<4>, y: Tensor<4>| (x - y).abs().max().into_scalar::<f32>() < 1e-4;
        // Momentum 0: ordinary instance norm.
        let h0 = StatsHistory::new(0.0);
        for x in [a.clone(), b.clone()] {
            let mut ctx = NormContext::own();
            ctx.set_history(Some(h0.clone()));
            assert!(close(
                ctx.normalize(x.clone(), 1e-5),
                instance_normalize(x, 1e-5)
            ));
            h0.end_frame();
        }
        // Momentum 1: every frame keeps the first frame's statistics.
        let h1 = StatsHistory::new(1.0);
        let mut ctx = NormContext::own();
        ctx.set_history(Some(h1.clone()));
        ctx.normalize(a.clone(), 1e-5);
        h1.end_frame();
        let first = h1.snapshot();
        let mut ctx = NormContext::own();
        ctx.set_history(Some(h1.clone()));
        let y = ctx.normalize(b.clone(), 1e-5);
        let mean = Tensor::<1>::from_data(TensorData::new(first[0].mean.clone(), [3]), &d);
        let var = Tensor::<1>::from_data(TensorData::new(first[0].var.clone(), [3]), &d);
        let expected =
            (b - mean.reshape([1, 3, 1, 1])) / var.reshape([1, 3, 1, 1]).add_scalar(1e-5).sqrt();
        assert!(close(y, expected));
        h1.end_frame();
        assert_eq!(h1.snapshot(), first);
        h1.reset();
        assert!(h1.snapshot().is_empty());
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
