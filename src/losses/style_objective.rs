//! The objective of image optimisation (style transfer and texture synthesis): VGG content
//! features and Gram matrices of the style, each layer's loss relative to its target's own
//! magnitude, plus total variation; its value and gradient over an image's pixels.

use burn::prelude::*;
use image::RgbImage;

use super::{content_loss, gram_matrix, style_loss, tv_loss_with};
use crate::error::{AtelierError, Result};
use crate::imaging::tensor::{Range, image_to_tensor};
use crate::models::vgg::Border;
use crate::models::vgg::{Vgg, VggArch, VggLayer};

/// Which VGG layers carry content and style, with a weight per style layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerChoice {
    pub style: Vec<VggLayer>,
    pub style_weights: Vec<f32>,
    pub content: Vec<VggLayer>,
}

impl LayerChoice {
    /// The defaults follow the network that was loaded: whenever it has them (a full VGG19
    /// or VGG16), Gatys's classic relu1_1..relu5_1 style and relu4_2 content; with a file
    /// that stops earlier (the shared VGG19 ends at conv3_4), relu1_1, relu2_1, relu3_1
    /// style and relu3_2 content.
    pub fn defaults_for(vgg: &Vgg) -> Self {
        let classic = vgg.has(VggLayer::relu(5, 1)) && vgg.has(VggLayer::relu(4, 2));
        let (style, content) = if classic {
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

    /// Feed-forward style networks (Johnson et al. 2016) on VGG16: style relu1_2, relu2_2,
    /// relu3_3, relu4_3; content relu2_2.
    pub fn johnson() -> Self {
        let style = vec![
            VggLayer::relu(1, 2),
            VggLayer::relu(2, 2),
            VggLayer::relu(3, 3),
            VggLayer::relu(4, 3),
        ];
        Self {
            style_weights: vec![1.0; style.len()],
            style,
            content: vec![VggLayer::relu(2, 2)],
        }
    }

    /// Style layers then content layers.
    pub fn all(&self) -> Vec<VggLayer> {
        self.style.iter().chain(&self.content).copied().collect()
    }

    /// The deepest layer any term needs.
    pub fn deepest(&self) -> VggLayer {
        self.all().into_iter().max().unwrap_or(VggLayer::relu(1, 1))
    }

    /// The layer that pools the most, and the smallest image side it can see: each pooling
    /// before it halves the side, and a side that halves to nothing has no features.
    pub fn min_side(&self) -> (Option<VggLayer>, u32) {
        let deepest = self.all().into_iter().max_by_key(|l| l.block());
        (deepest, 1 << deepest.map(|l| l.block()).unwrap_or(0))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossWeights {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
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

fn tensor(v: Vec<f32>, w: u32, h: u32, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, [1, 3, h as usize, w as usize]), device)
}

/// Blended Gram targets: Σ_i b_i · G_l(style_i) per style layer.
pub fn style_targets(
    vgg: &Vgg,
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
    vgg: &'a Vgg,
    targets: &'a Targets,
    /// Layers the network must produce: the style layers, then (if weighted) content.
    wanted: Vec<VggLayer>,
    n_style: usize,
    /// Per-layer style weights times the targets' normalisers.
    style_weights: Vec<f32>,
    weights: LossWeights,
    /// The image size the objective evaluates.
    pub width: u32,
    pub height: u32,
    device: Device,
    circular: bool,
    last: Terms,
}

impl<'a> ImageObjective<'a> {
    /// `vgg` must live on an autodiff device.
    pub fn new(
        vgg: &'a Vgg,
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

/// Bytes one objective evaluation needs at `w` x `h`: the activations kept for the backward
/// pass, their gradients and working buffers (3x the forward activations). Used to refuse
/// sizes that cannot fit.
pub fn estimate_bytes(arch: VggArch, deepest: VggLayer, w: u32, h: u32) -> u64 {
    arch.activation_floats(deepest, w, h) * 4 * 3
}

/// Refuse a style image whose feature pass would not fit, before it is resized.
pub fn check_style_memory(
    arch: VggArch,
    layers: &LayerChoice,
    (w, h): (u32, u32),
    limit: Option<u64>,
    advice: &str,
) -> Result<()> {
    crate::device::check_memory(
        &format!("a {w}x{h} style image"),
        estimate_bytes(arch, layers.deepest(), w, h),
        limit,
        advice,
    )
}

/// Refuse a size whose estimated working memory exceeds `limit` (default: available memory).
pub fn check_memory(
    arch: VggArch,
    deepest: VggLayer,
    w: u32,
    h: u32,
    limit: Option<u64>,
) -> Result<()> {
    crate::device::check_memory(
        &format!("a {w}x{h} optimisation"),
        estimate_bytes(arch, deepest, w, h),
        limit,
        "use a smaller --size (memory grows with the pixel count)",
    )
}
