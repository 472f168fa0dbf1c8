//! Style transfer by optimisation (Gatys, Ecker & Bethge 2016): find an image whose VGG19
//! features match a content photo and whose Gram matrices match one or more paintings.
//!
//! The same machinery synthesises textures ([`super::texture`]): Gram loss only, from noise.
//! Large outputs go coarse to fine: optimise small, upsample, continue, which keeps the
//! painting's strokes at a sensible scale and saves most of the iterations at full size.

use burn::prelude::*;
use image::{ImageBuffer, Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::imaging::color::{
    combine_luma_chroma, luminance_image, match_histograms, matched_luminance,
};
use crate::imaging::io::{dims_for_long_side, resize_long_side};
use crate::imaging::tensor::{Range, image_from_chw, image_to_tensor, push_chw};
use crate::losses::{content_loss, gram_matrix, style_loss, tv_loss_with};
use crate::models::vgg19::Border;
use crate::models::vgg19::{Vgg19, VggLayer, activation_floats};
use crate::optim::{Adam, Lbfgs, LbfgsConfig, Step, VectorOptimizer};
use crate::util::rng::SeededRng;

/// Which VGG layers carry content and style, with a weight per style layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerChoice {
    pub style: Vec<VggLayer>,
    pub style_weights: Vec<f32>,
    pub content: Vec<VggLayer>,
}

impl LayerChoice {
    /// The defaults follow the network that was loaded: with the full VGG19 the classic
    /// relu1_1..relu5_1 style and relu4_2 content; with a file that stops at conv3_4,
    /// relu1_1, relu2_1, relu3_1 style and relu3_2 content.
    pub fn defaults_for(vgg: &Vgg19) -> Self {
        let (style, content) = if vgg.is_full() {
            (
                vec![
                    VggLayer::relu(1, 1),
                    VggLayer::relu(2, 1),
                    VggLayer::relu(3, 1),
                    VggLayer::relu(4, 1),
                    VggLayer::relu(5, 1),
                ],
                vec![VggLayer::relu(4, 2)],
            )
        } else {
            (
                vec![
                    VggLayer::relu(1, 1),
                    VggLayer::relu(2, 1),
                    VggLayer::relu(3, 1),
                ],
                vec![VggLayer::relu(3, 2)],
            )
        };
        let style_weights = vec![1.0; style.len()];
        Self {
            style,
            style_weights,
            content,
        }
    }

    /// Style layers then content layers.
    pub fn all(&self) -> Vec<VggLayer> {
        self.style.iter().chain(&self.content).copied().collect()
    }

    /// The deepest conv any layer needs.
    pub fn deepest(&self) -> usize {
        self.all().iter().map(|l| l.conv).max().unwrap_or(0)
    }

    /// The layer that pools the most, and the smallest image side it can see: each pooling
    /// before it halves the side, and a side that halves to nothing has no features.
    pub fn min_side(&self) -> (Option<VggLayer>, u32) {
        let deepest = self.all().into_iter().max_by_key(|l| l.block());
        (deepest, 1 << deepest.map(|l| l.block()).unwrap_or(0))
    }
}

/// The smallest long side at which a `w` x `h` image keeps its short side >= `min`.
pub fn long_side_for_short(w: u32, h: u32, min: u32) -> u64 {
    let (long, short) = (w.max(h).max(1) as u64, w.min(h).max(1) as u64);
    let mut l = (min as u64 * long).div_ceil(short).max(min as u64);
    // `dims_for_long_side` rounds; step past any size it rounds below `min`.
    while l < u32::MAX as u64 {
        let (a, b) = dims_for_long_side(w, h, l as u32);
        if a.min(b) >= min {
            break;
        }
        l += 1;
    }
    l
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    Content,
    Random,
    Style,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Transfer style on luminance only, then put back the content's chroma.
    Luminance,
    /// Recolour the style images to the content's colour histogram first.
    Histogram,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Lbfgs,
    Adam,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
}

/// How the image is optimised at each scale.
#[derive(Clone, Debug)]
pub struct OptimizeOptions {
    pub method: Method,
    /// Iterations at the coarsest scale; each finer scale gets half as many as the one
    /// before (at least 1/4 of this), since it starts from an upsampled solution.
    pub iters: usize,
    /// Adam's learning rate (pixels are in [0, 1]).
    pub lr: f64,
    pub weights: LossWeights,
}

impl OptimizeOptions {
    pub fn iters_at(&self, scale: usize) -> usize {
        (self.iters >> scale).max(self.iters / 4).max(1)
    }
}

/// The value of each loss term at one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Terms {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

impl std::fmt::Display for Terms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "content {:.4}  style {:.4e}  tv {:.4e}  total {:.4}",
            self.content, self.style, self.tv, self.total
        )
    }
}

/// Where an optimisation is; passed to the observer after every iteration.
pub struct Progress<'a> {
    pub scale: usize,
    pub n_scales: usize,
    pub iter: usize,
    pub iters: usize,
    pub terms: Terms,
    /// The current image, CHW in [0, 1], `width` x `height`.
    pub pixels: &'a [f32],
    pub width: u32,
    pub height: u32,
}

impl Progress<'_> {
    pub fn image(&self) -> RgbImage {
        image_from_chw(self.pixels, self.width, self.height, Range::Unit)
    }
}

pub type Observer<'a> = dyn FnMut(&Progress) -> Result<()> + 'a;

/// What the image must match at one scale.
///
/// Each layer's loss is divided by its target's own magnitude (‖A_l‖² for a Gram matrix,
/// the mean square for content features), so every term starts on the order of 1 and the
/// user's weights mean the same with any VGG19 file: the shared file, exported from Caffe,
/// has activations about 50x larger than torchvision's and Gram matrices 10⁴-10⁵x larger.
pub struct Targets {
    pub content: Vec<Tensor<4>>,
    pub grams: Vec<Tensor<3>>,
    content_norm: Vec<f32>,
    style_norm: Vec<f32>,
}

impl Targets {
    pub fn new(content: Vec<Tensor<4>>, grams: Vec<Tensor<3>>) -> Self {
        let inv = |sq: f32| 1.0 / sq.max(1e-12);
        let content_norm = content
            .iter()
            .map(|t| inv((t.clone() * t.clone()).mean().into_scalar::<f32>()))
            .collect();
        let style_norm = grams
            .iter()
            .map(|g| {
                let n = g.dims()[0] as f32;
                inv((g.clone() * g.clone()).sum().into_scalar::<f32>() / n)
            })
            .collect();
        Self {
            content,
            grams,
            content_norm,
            style_norm,
        }
    }
}

fn chw(img: &RgbImage) -> Vec<f32> {
    let mut v = Vec::with_capacity((3 * img.width() * img.height()) as usize);
    push_chw(img, Range::Unit, &mut v);
    v
}

fn tensor(v: Vec<f32>, w: u32, h: u32, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, [1, 3, h as usize, w as usize]), device)
}

/// Blended Gram targets: Σ_i b_i · G_l(style_i) per style layer.
pub fn style_targets(
    vgg: &Vgg19,
    layers: &[VggLayer],
    styles: &[(RgbImage, f32)],
    device: &Device,
) -> Result<Vec<Tensor<3>>> {
    let mut grams: Option<Vec<Tensor<3>>> = None;
    for (img, blend) in styles {
        let feats = vgg.features(image_to_tensor(img, Range::Unit, device), layers)?;
        let g: Vec<Tensor<3>> = feats
            .into_iter()
            .map(|f| gram_matrix(f).detach() * (*blend as f64))
            .collect();
        grams = Some(match grams {
            None => g,
            Some(acc) => acc.into_iter().zip(g).map(|(a, b)| a + b).collect(),
        });
    }
    grams.ok_or_else(|| AtelierError::Config("at least one style image is needed".into()))
}

/// The objective at one scale: loss and its gradient with respect to the pixels.
pub struct ImageObjective<'a> {
    vgg: &'a Vgg19,
    targets: &'a Targets,
    /// Layers the network must produce: the style layers, then (if weighted) content.
    wanted: Vec<VggLayer>,
    n_style: usize,
    /// Per-layer style weights times the targets' normalisers.
    style_weights: Vec<f32>,
    weights: LossWeights,
    width: u32,
    height: u32,
    device: Device,
    circular: bool,
    last: Terms,
}

impl<'a> ImageObjective<'a> {
    /// `vgg` must live on an autodiff device.
    pub fn new(
        vgg: &'a Vgg19,
        layers: &LayerChoice,
        targets: &'a Targets,
        weights: LossWeights,
        width: u32,
        height: u32,
    ) -> Self {
        let wanted = if weights.content > 0.0 {
            layers.all()
        } else {
            layers.style.clone()
        };
        let style_weights = layers
            .style_weights
            .iter()
            .zip(&targets.style_norm)
            .map(|(w, n)| w * n)
            .collect();
        Self {
            vgg,
            targets,
            wanted,
            n_style: layers.style.len(),
            style_weights,
            weights,
            width,
            height,
            device: vgg.device(),
            circular: vgg.config.border == Border::Circular,
            last: Terms::default(),
        }
    }

    /// The terms of the latest evaluation.
    pub fn last(&self) -> Terms {
        self.last
    }

    pub fn eval(&mut self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let img = tensor(x.to_vec(), self.width, self.height, &self.device).require_grad();
        let mut feats = self.vgg.features(img.clone(), &self.wanted)?;
        let content_feats = feats.split_off(self.n_style);
        let grams: Vec<Tensor<3>> = feats.into_iter().map(gram_matrix).collect();
        let zero = || Tensor::<1>::zeros([1], &self.device);
        let style = style_loss(&grams, &self.targets.grams, &self.style_weights);
        let content = if self.weights.content > 0.0 {
            content_loss(
                &content_feats,
                &self.targets.content,
                &self.targets.content_norm,
            )
        } else {
            zero()
        };
        let tv = if self.weights.tv > 0.0 {
            tv_loss_with(img.clone(), self.circular)
        } else {
            zero()
        };
        let total = style.clone() * self.weights.style as f64
            + content.clone() * self.weights.content as f64
            + tv.clone() * self.weights.tv as f64;
        // One read-back for all four numbers: each read is a device sync.
        let v = Tensor::cat(vec![content, style, tv, total.clone()], 0)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("float loss terms");
        self.last = Terms {
            content: v[0],
            style: v[1],
            tv: v[2],
            total: v[3],
        };
        let grads = total.backward();
        let g = img
            .grad(&grads)
            .expect("the image requires a gradient")
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("float gradient");
        Ok((self.last.total, g))
    }
}

/// Run `opts.iters_at(scale)` iterations from `x0`, reporting to `observe`.
pub fn optimize(
    objective: &mut ImageObjective,
    x0: Vec<f32>,
    opts: &OptimizeOptions,
    scale: usize,
    n_scales: usize,
    observe: &mut Observer,
) -> Result<Vec<f32>> {
    let iters = opts.iters_at(scale);
    let (width, height) = (objective.width, objective.height);
    // The terms of the latest evaluation; with L-BFGS that is the accepted point.
    let last = std::cell::Cell::new(Terms::default());
    let mut f = |x: &[f32]| {
        let r = objective.eval(x)?;
        last.set(objective.last());
        Ok(r)
    };
    let mut opt: Box<dyn VectorOptimizer> = match opts.method {
        Method::Lbfgs => Box::new(Lbfgs::new(LbfgsConfig::default(), x0, &mut f)?),
        Method::Adam => Box::new(Adam::new(opts.lr, x0)),
    };
    for iter in 1..=iters {
        let step = opt.step(&mut f)?;
        observe(&Progress {
            scale,
            n_scales,
            iter,
            iters,
            terms: last.get(),
            pixels: opt.x(),
            width,
            height,
        })?;
        if iter == 1 || iter == iters || iter.is_multiple_of(50) {
            tracing::info!(
                "scale {}/{n_scales} iter {iter}/{iters}: {}",
                scale + 1,
                last.get()
            );
        }
        if step == Step::Stalled {
            tracing::info!("converged after {iter} iterations");
            break;
        }
    }
    Ok(opt.x().to_vec())
}

/// Resize CHW pixels in [0, 1] (bicubic), for moving a solution to the next scale.
pub fn resize_chw(v: &[f32], w: u32, h: u32, nw: u32, nh: u32) -> Vec<f32> {
    let plane = (w * h) as usize;
    let img: ImageBuffer<Rgb<f32>, Vec<f32>> = ImageBuffer::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        Rgb([v[i], v[plane + i], v[2 * plane + i]])
    });
    let r = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::CatmullRom);
    let nplane = (nw * nh) as usize;
    let mut out = vec![0f32; 3 * nplane];
    for (i, p) in r.pixels().enumerate() {
        for c in 0..3 {
            out[c * nplane + i] = p.0[c];
        }
    }
    out
}

/// Sizes of the coarse-to-fine pyramid ending at `(w, h)`, coarsest first: each level
/// halves the one after it. Levels whose short side would fall below `min_side` (what the
/// network can see) are left out rather than enlarged, so every level keeps the aspect
/// ratio and the last one is exactly `(w, h)`.
pub fn pyramid(w: u32, h: u32, levels: usize, min_side: u32) -> Vec<(u32, u32)> {
    let mut sizes: Vec<(u32, u32)> = (0..levels.max(1))
        .rev()
        .map(|k| (w >> k, h >> k))
        .filter(|&(a, b)| a.min(b) >= min_side)
        .collect();
    if sizes.is_empty() {
        sizes.push((w, h));
    }
    sizes
}

/// Default number of scales: one below 384 px, and one more per doubling above 256.
pub fn default_scales(long_side: u32) -> usize {
    let mut n = 1;
    while long_side >> n >= 256 && long_side > 384 {
        n += 1;
    }
    n
}

/// Bytes one objective evaluation needs at `w` x `h`: the activations kept for the backward
/// pass, their gradients and working buffers (3x the forward activations). Used to refuse
/// sizes that cannot fit.
pub fn estimate_bytes(deepest_conv: usize, w: u32, h: u32) -> u64 {
    activation_floats(deepest_conv, w, h) * 4 * 3
}

/// The size a `w` x `h` style image is seen at: long side `wanted`, enlarged where needed
/// so that its short side is at least `min_side` (a panorama keeps features at every layer).
pub fn style_view_dims(w: u32, h: u32, wanted: u64, min_side: u32) -> (u32, u32) {
    let long = wanted.max(long_side_for_short(w, h, min_side));
    dims_for_long_side(w, h, long.min(u32::MAX as u64) as u32)
}

/// Refuse a style image whose feature pass would not fit, before it is resized.
pub fn check_style_memory(
    layers: &LayerChoice,
    (w, h): (u32, u32),
    limit: Option<u64>,
    advice: &str,
) -> Result<()> {
    crate::device::check_memory(
        &format!("a {w}x{h} style image"),
        estimate_bytes(layers.deepest(), w, h),
        limit,
        advice,
    )
}

/// Refuse a size whose estimated working memory exceeds `limit` (default: available memory).
pub fn check_memory(deepest_conv: usize, w: u32, h: u32, limit: Option<u64>) -> Result<()> {
    crate::device::check_memory(
        &format!("a {w}x{h} optimisation"),
        estimate_bytes(deepest_conv, w, h),
        limit,
        "use a smaller --size (memory grows with the pixel count)",
    )
}

/// Everything a style transfer needs besides the images.
#[derive(Clone, Debug)]
pub struct StylizeOptions {
    /// Long side of the output.
    pub size: u32,
    pub scales: usize,
    pub init: Init,
    pub preserve_color: Option<ColorMode>,
    /// Style images are resized to this fraction of the output's long side.
    pub style_scale: f32,
    pub seed: u64,
    pub optimize: OptimizeOptions,
    pub memory_limit: Option<u64>,
}

/// Noise around mid-grey, seeded.
pub fn noise_image(n: usize, seed: u64) -> Vec<f32> {
    SeededRng::new(seed)
        .normal_vec(n)
        .into_iter()
        .map(|z| (0.5 + 0.2 * z).clamp(0.0, 1.0))
        .collect()
}

/// Add what only style transfer can change to a divergence's advice.
fn stylize_hint(e: AtelierError, init: Init) -> AtelierError {
    match e {
        AtelierError::OptimisationDiverged {
            loss,
            grad_finite,
            mut hint,
        } => {
            hint.push_str(", or raise --content-weight");
            if init != Init::Content {
                hint.push_str(", or start from the photo with --init content");
            }
            AtelierError::OptimisationDiverged {
                loss,
                grad_finite,
                hint,
            }
        }
        other => other,
    }
}

/// Stylise `content` with `styles` (image, blend weight). `observe` sees every iteration.
pub fn stylize(
    vgg: &Vgg19,
    layers: &LayerChoice,
    content: &RgbImage,
    styles: &[(RgbImage, f32)],
    opts: &StylizeOptions,
    observe: &mut Observer,
) -> Result<RgbImage> {
    vgg.check(&layers.all())?;
    let (w, h) = dims_for_long_side(content.width(), content.height(), opts.size);
    let (deepest_layer, min_side) = layers.min_side();
    let layer_name = deepest_layer.map(|l| l.to_string()).unwrap_or_default();
    if w.min(h) < min_side {
        return Err(AtelierError::Config(format!(
            "at --size {} the content image ({}x{}) becomes {w}x{h}, but {layer_name} needs at \
             least {min_side} px on each side; use --size {} or more, or shallower layers",
            opts.size,
            content.width(),
            content.height(),
            long_side_for_short(content.width(), content.height(), min_side)
        )));
    }
    check_memory(layers.deepest(), w, h, opts.memory_limit)?;
    // Style images are seen at `style_scale` of the output's long side, and never so small
    // that the deepest layer has nothing to see (a panorama style stays at least
    // `min_side` tall). Checked before anything is resized: a large scale must not allocate.
    let style_dims = |long: u32| -> Vec<(u32, u32)> {
        styles
            .iter()
            .map(|(s, _)| {
                let wanted = ((long as f32) * opts.style_scale).round().max(16.0) as u64;
                style_view_dims(s.width(), s.height(), wanted, min_side)
            })
            .collect()
    };
    for dims in style_dims(w.max(h)) {
        check_style_memory(
            layers,
            dims,
            opts.memory_limit,
            "lower --style-scale (style images are resized to that fraction of --size)",
        )?;
    }
    let device = vgg.device();

    // Colour preservation changes what the network sees.
    let content_full = resize_long_side(content, opts.size);
    let (content_seen, styles_seen): (RgbImage, Vec<(RgbImage, f32)>) = match opts.preserve_color {
        None => (content_full.clone(), styles.to_vec()),
        Some(ColorMode::Histogram) => (
            content_full.clone(),
            styles
                .iter()
                .map(|(s, b)| (match_histograms(s, &content_full), *b))
                .collect(),
        ),
        Some(ColorMode::Luminance) => (
            luminance_image(&content_full),
            styles
                .iter()
                .map(|(s, b)| (matched_luminance(s, &content_full), *b))
                .collect(),
        ),
    };

    let sizes = pyramid(w, h, opts.scales, min_side);
    let mut x: Option<(Vec<f32>, u32, u32)> = None;
    for (k, &(sw, sh)) in sizes.iter().enumerate() {
        let content_k =
            image::imageops::resize(&content_seen, sw, sh, image::imageops::FilterType::Lanczos3);
        let styles_k: Vec<(RgbImage, f32)> = styles_seen
            .iter()
            .zip(style_dims(sw.max(sh)))
            .map(|((s, b), (tw, th))| {
                let r = image::imageops::resize(s, tw, th, image::imageops::FilterType::Lanczos3);
                (r, *b)
            })
            .collect();
        let targets = Targets::new(
            vgg.features(
                image_to_tensor(&content_k, Range::Unit, &device),
                &layers.content,
            )?
            .into_iter()
            .map(|t| t.detach())
            .collect(),
            style_targets(vgg, &layers.style, &styles_k, &device)?,
        );
        let x0 = match x.take() {
            Some((v, pw, ph)) => resize_chw(&v, pw, ph, sw, sh),
            None => match opts.init {
                Init::Content => chw(&content_k),
                Init::Random => noise_image((3 * sw * sh) as usize, opts.seed),
                Init::Style => chw(&image::imageops::resize(
                    &styles_k[0].0,
                    sw,
                    sh,
                    image::imageops::FilterType::Lanczos3,
                )),
            },
        };
        let mut objective =
            ImageObjective::new(vgg, layers, &targets, opts.optimize.weights, sw, sh);
        let v = optimize(&mut objective, x0, &opts.optimize, k, sizes.len(), observe)
            .map_err(|e| stylize_hint(e, opts.init))?;
        x = Some((v, sw, sh));
    }
    let (v, _, _) = x.expect("at least one scale");
    let out = image_from_chw(&v, w, h, Range::Unit);
    Ok(match opts.preserve_color {
        Some(ColorMode::Luminance) => combine_luma_chroma(&out, &content_full),
        _ => out,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::imaging::color::yuv_planes;
    use crate::models::vgg19::{Vgg19Config, write_random_vgg};

    /// A seeded random VGG19 holding conv1_1..conv2_1, on the autodiff CPU device.
    pub fn random_vgg(border: Border) -> (tempfile::TempDir, Vgg19, LayerChoice) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vgg.safetensors");
        write_random_vgg(&path, 3, 7);
        let vgg = Vgg19Config::new()
            .with_border(border)
            .load(&path, &Device::flex().autodiff())
            .unwrap();
        let layers = LayerChoice {
            style: vec![VggLayer::relu(1, 1), VggLayer::relu(2, 1)],
            style_weights: vec![1.0, 1.0],
            content: vec![VggLayer::relu(1, 2)],
        };
        (dir, vgg, layers)
    }

    /// Smooth colourful test pictures.
    pub fn picture(w: u32, h: u32, phase: f32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let v = |k: f32| (127.0 + 120.0 * (6.0 * fx * k + 4.0 * fy + phase * k).sin()) as u8;
            Rgb([v(1.0), v(1.7), v(2.3)])
        })
    }

    #[test]
    fn default_layers_follow_the_loaded_network() {
        let dir = tempfile::tempdir().unwrap();
        let names = |ls: &[VggLayer]| ls.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        for (convs, style, content) in [
            (8, vec!["relu1_1", "relu2_1", "relu3_1"], vec!["relu3_2"]),
            (
                16,
                vec!["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                vec!["relu4_2"],
            ),
        ] {
            let path = dir.path().join(format!("vgg{convs}.safetensors"));
            write_random_vgg(&path, convs, 1);
            let vgg = Vgg19Config::new().load(&path, &Device::flex()).unwrap();
            let l = LayerChoice::defaults_for(&vgg);
            assert_eq!(names(&l.style), style, "{convs} convs");
            assert_eq!(names(&l.content), content, "{convs} convs");
            assert_eq!(l.style_weights, vec![1.0; style.len()]);
            vgg.check(&l.all()).unwrap();
        }
    }

    #[test]
    fn style_gradient_matches_finite_differences() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let dev = vgg.device();
        let (w, h) = (16, 16);
        let targets = Targets::new(
            Vec::new(),
            style_targets(&vgg, &layers.style, &[(picture(16, 16, 1.0), 1.0)], &dev).unwrap(),
        );
        let weights = LossWeights {
            content: 0.0,
            style: 1.0,
            tv: 0.0,
        };
        let mut obj = ImageObjective::new(&vgg, &layers, &targets, weights, w, h);
        let x = noise_image(3 * 16 * 16, 3);
        let (_, grad) = obj.eval(&x).unwrap();
        let gmax = grad.iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(gmax > 0.0);
        let eps = 1e-2;
        for &i in &[0usize, 17, 130, 256 + 77, 2 * 256 + 255] {
            let mut xp = x.clone();
            xp[i] += eps;
            let mut xm = x.clone();
            xm[i] -= eps;
            let fd = (obj.eval(&xp).unwrap().0 - obj.eval(&xm).unwrap().0) / (2.0 * eps as f64);
            let diff = (fd - grad[i] as f64).abs();
            assert!(
                diff <= 0.05 * gmax as f64 + 0.05 * grad[i].abs() as f64,
                "pixel {i}: finite difference {fd}, gradient {}",
                grad[i]
            );
        }
    }

    #[test]
    fn lbfgs_lowers_the_style_transfer_loss() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let content = picture(24, 24, 0.0);
        let style = picture(24, 24, 2.0);
        let opts = StylizeOptions {
            size: 24,
            scales: 1,
            init: Init::Content,
            preserve_color: None,
            style_scale: 1.0,
            seed: 0,
            optimize: OptimizeOptions {
                method: Method::Lbfgs,
                iters: 15,
                lr: 0.02,
                weights: LossWeights {
                    content: 1.0,
                    style: 1e3,
                    tv: 0.0,
                },
            },
            memory_limit: None,
        };
        let mut totals = Vec::new();
        stylize(
            &vgg,
            &layers,
            &content,
            &[(style, 1.0)],
            &opts,
            &mut |p: &Progress| {
                totals.push(p.terms.total);
                Ok(())
            },
        )
        .unwrap();
        assert!(totals.windows(2).all(|w| w[1] <= w[0]), "{totals:?}");
        assert!(totals.last().unwrap() < &(0.5 * totals[0]), "{totals:?}");
    }

    #[test]
    fn luminance_transfer_keeps_the_content_chroma() {
        let (_d, vgg, layers) = random_vgg(Border::Zero);
        let content = picture(32, 32, 0.0);
        // A style with very different colours.
        let style = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, 255 - (y * 8) as u8, 40]));
        let run = |mode| {
            let opts = StylizeOptions {
                size: 32,
                scales: 1,
                init: Init::Content,
                preserve_color: mode,
                style_scale: 1.0,
                seed: 0,
                optimize: OptimizeOptions {
                    method: Method::Lbfgs,
                    iters: 20,
                    lr: 0.02,
                    weights: LossWeights {
                        content: 1.0,
                        style: 1e4,
                        tv: 0.0,
                    },
                },
                memory_limit: None,
            };
            let out = stylize(
                &vgg,
                &layers,
                &content,
                &[(style.clone(), 1.0)],
                &opts,
                &mut |_| Ok(()),
            )
            .unwrap();
            let (a, b) = (yuv_planes(&out), yuv_planes(&content));
            let chroma: f32 = (1..3)
                .map(|c| {
                    a[c].iter()
                        .zip(&b[c])
                        .map(|(x, y)| (x - y).abs())
                        .sum::<f32>()
                })
                .sum::<f32>()
                / (2 * a[0].len()) as f32;
            let luma = a[0]
                .iter()
                .zip(&b[0])
                .map(|(x, y)| (x - y).abs())
                .sum::<f32>()
                / a[0].len() as f32;
            (chroma, luma)
        };
        let (kept, luma_change) = run(Some(ColorMode::Luminance));
        let (free, _) = run(None);
        assert!(kept < 0.01, "chroma moved by {kept}");
        assert!(
            luma_change > 0.01,
            "the luminance should be stylised, moved {luma_change}"
        );
        assert!(
            free > 3.0 * kept.max(0.005),
            "without preservation chroma moves: {free}"
        );
    }

    #[test]
    fn sizes_too_large_for_memory_are_refused_with_the_number() {
        let err = check_memory(15, 8192, 8192, Some(8 << 30))
            .unwrap_err()
            .to_string();
        assert!(err.contains("GiB") && err.contains("8192x8192"), "{err}");
        assert!(check_memory(7, 256, 256, Some(8 << 30)).is_ok());
        assert_eq!(pyramid(512, 384, 2, 16), vec![(256, 192), (512, 384)]);
        // Too-small coarse levels are dropped, never enlarged past the final size.
        assert_eq!(pyramid(256, 13, 2, 8), vec![(256, 13)]);
        assert_eq!(pyramid(16, 11, 3, 4), vec![(8, 5), (16, 11)]);
        assert_eq!(long_side_for_short(2000, 100, 16), 320);
        assert_eq!(long_side_for_short(100, 2000, 16), 320);
        assert_eq!(
            (
                default_scales(256),
                default_scales(512),
                default_scales(1024)
            ),
            (1, 2, 3)
        );
    }
}
