//! Inpainting networks: a gated-convolution generator (DeepFill v2, Yu et al. 2019: a
//! coarse network, then a refinement network that starts from the coarse fill) and its
//! critic, SN-PatchGAN (spectrally normalised 5×5 stride-2 convolutions whose every output
//! is a real/fake score for one patch, trained with the hinge loss).
//!
//! The generator starts from the classical diffusion fill (`data::inpaint::prefill`): it sees the
//! image with its holes filled smoothly, the mask and a channel of ones (so zero padding
//! at the border differs from a hole), and each stage adds a correction to its input. The
//! smooth fill already carries the right colours into a crack, so training spends its
//! steps on texture and structure instead of first learning to copy colours (measured: a
//! generator started from zeroed holes was still far behind the diffusion fill on cracks
//! after 300 steps on the CPU). Each stage goes down twice (to a
//! quarter of the side), through dilated gated convolutions (dilation 2, 4, 8, 16: a
//! receptive field that covers a 128 px window), and up twice by nearest up-sampling and a
//! convolution. Contextual attention (DeepFill v2's second refinement branch) is left out:
//! see `docs/inpainting.md` for why.

use std::path::Path;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::model_file::{ModelMeta, load_into, open_model, save_model};
use crate::data::inpaint::generator_input;
use crate::data::masks::{MaskKind, is_hole};
use crate::error::{AtelierError, Result};
use crate::imaging::tensor::{Range, tensor_to_images};
use crate::nn::gated::{GatedConv2d, GatedConv2dConfig};
use crate::nn::{SnConv2d, SnConv2dConfig};

/// The model-file kind of an inpainting generator.
pub const INPAINTER_KIND: &str = "inpainter";

/// The generator's input side must be a multiple of this (two stride-2 layers).
pub const SIDE_MULTIPLE: usize = 4;

#[derive(Config, Debug)]
pub struct InpaintGeneratorConfig {
    /// Channels at full resolution (×2 at half, ×4 at a quarter).
    #[config(default = 32)]
    pub width: usize,
    /// Add the refinement stage after the coarse one.
    #[config(default = true)]
    pub refine: bool,
}

/// One layer of a stage: channels (in, out), kernel, stride, dilation, and whether the
/// input is up-sampled ×2 first.
type LayerPlan = (usize, usize, usize, usize, usize, bool);

/// A stage's layers for base width `w` (DeepFill v2's coarse network, narrower).
fn stage_plan(w: usize) -> Vec<LayerPlan> {
    let (w2, w4) = (2 * w, 4 * w);
    vec![
        (5, w, 5, 1, 1, false),
        (w, w2, 3, 2, 1, false),
        (w2, w2, 3, 1, 1, false),
        (w2, w4, 3, 2, 1, false),
        (w4, w4, 3, 1, 1, false),
        (w4, w4, 3, 1, 2, false),
        (w4, w4, 3, 1, 4, false),
        (w4, w4, 3, 1, 8, false),
        (w4, w4, 3, 1, 16, false),
        (w4, w4, 3, 1, 1, false),
        (w4, w2, 3, 1, 1, true),
        (w2, w2, 3, 1, 1, false),
        (w2, w, 3, 1, 1, true),
        (w, w / 2, 3, 1, 1, false),
    ]
}

/// One encoder–decoder of gated convolutions, ending in a plain convolution to RGB.
#[derive(Module, Debug)]
pub struct GatedStage {
    pub layers: Vec<GatedConv2d>,
    pub to_rgb: Conv2d,
}

fn gated_stage(w: usize, device: &Device) -> GatedStage {
    let plan = stage_plan(w);
    GatedStage {
        layers: plan
            .iter()
            .map(|&(cin, cout, k, s, d, _)| {
                GatedConv2dConfig::new([cin, cout], k)
                    .with_stride(s)
                    .with_dilation(d)
                    .init(device)
            })
            .collect(),
        // Small: a stage starts out returning (nearly) its input.
        to_rgb: Conv2dConfig::new([w / 2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 1e-3,
            })
            .init(device),
    }
}

impl GatedStage {
    /// [N, 5, H, W] (image, mask, ones) to a correction [N, 3, H, W] of the image.
    fn forward(&self, mut h: Tensor<4>) -> Tensor<4> {
        // Where the plan up-samples does not depend on the width.
        let upsample = stage_plan(2).into_iter().map(|l| l.5);
        for (layer, up) in self.layers.iter().zip(upsample) {
            if up {
                h = interpolate(
                    h,
                    InterpolateOptions::new(InterpolateMode::Nearest).with_scale_factor([2.0, 2.0]),
                );
            }
            h = layer.forward(h);
        }
        self.to_rgb.forward(h)
    }
}

#[derive(Module, Debug)]
pub struct InpaintGenerator {
    pub coarse: GatedStage,
    pub refine: Option<GatedStage>,
}

/// Both stages' outputs (the coarse one is trained too, as in DeepFill).
pub struct Fill {
    pub coarse: Tensor<4>,
    /// The refined output (the coarse one when there is no refinement stage).
    pub fine: Tensor<4>,
}

impl InpaintGeneratorConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(2..=512).contains(&self.width) || !self.width.is_multiple_of(2) {
            return Err(format!(
                "width {} is not an even number from 2 to 512",
                self.width
            ));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> InpaintGenerator {
        InpaintGenerator {
            coarse: gated_stage(self.width, device),
            refine: self.refine.then(|| gated_stage(self.width, device)),
        }
    }

    /// Forward outputs per image of side `size` (features and gates of every layer), an
    /// estimate for the memory check.
    pub fn activation_floats(&self, size: usize) -> u64 {
        let stages = if self.refine { 2 } else { 1 };
        let per_stage: u64 = stage_plan(self.width)
            .iter()
            .scan(size as u64, |side, &(_, cout, _, s, _, up)| {
                if up {
                    *side *= 2;
                }
                *side /= s as u64;
                Some(4 * cout as u64 * *side * *side)
            })
            .sum();
        stages * per_stage
    }
}

/// Image, mask and ones stacked: a stage's input.
fn stage_input(image: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    Tensor::cat(vec![image, mask.clone(), mask.ones_like()], 1)
}

/// `image` plus a stage's correction inside the holes, within [-1, 1].
///
/// The correction is masked so that the known pixels pass through exactly. Left unmasked
/// (as this was until the shipped model's retraining), every known pixel asked for a zero
/// correction under an L1 loss, and L1 pulls an output to exactly zero: the last layer's
/// weights shrank from their initial scale to a twentieth of it and the network filled
/// holes with the diffusion fill alone (measured at 64 px: the validation L1 on the holes
/// stood at 0.0707 for 300 steps; masked, it fell to 0.0680 in the same time).
fn corrected(image: Tensor<4>, stage: &GatedStage, mask: Tensor<4>) -> Tensor<4> {
    let delta = stage.forward(stage_input(image.clone(), mask.clone()));
    (image + delta * mask).clamp(-1.0, 1.0)
}

/// `fill` where the mask is 1, `image` elsewhere.
pub fn composite(image: Tensor<4>, fill: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    let keep = mask.clone().neg().add_scalar(1.0);
    image * keep + fill * mask
}

impl InpaintGenerator {
    /// `prefilled` [N, 3, H, W] in [-1, 1]: the image with its holes filled by diffusion
    /// (`data::inpaint::prefill`); `mask` [N, 1, H, W] with 1 at holes; H and W multiples of
    /// [`SIDE_MULTIPLE`].
    pub fn forward(&self, prefilled: Tensor<4>, mask: Tensor<4>) -> Fill {
        let coarse = corrected(prefilled.clone(), &self.coarse, mask.clone());
        let fine = match &self.refine {
            Some(r) => {
                let start = composite(prefilled, coarse.clone(), mask.clone());
                corrected(start, r, mask)
            }
            None => coarse.clone(),
        };
        Fill { coarse, fine }
    }
}

/// Paste `fill` into `image` at the mask's holes; every other pixel is `image`'s own,
/// bit for bit.
pub fn paste_holes(image: &RgbImage, fill: &RgbImage, mask: &GrayImage) -> RgbImage {
    let mut out = image.clone();
    for ((p, f), m) in out.pixels_mut().zip(fill.pixels()).zip(mask.pixels()) {
        if is_hole(m.0[0]) {
            *p = *f;
        }
    }
    out
}

/// The painting with its holes shown in white (the "masked" column of sample sheets).
pub fn show_holes(img: &RgbImage, mask: &GrayImage) -> RgbImage {
    let mut out = img.clone();
    for (p, m) in out.pixels_mut().zip(mask.pixels()) {
        if is_hole(m.0[0]) {
            p.0 = [255; 3];
        }
    }
    out
}

/// Fill equally sized (image, mask) pairs in one batch, sides multiples of
/// [`SIDE_MULTIPLE`]: each image with its holes filled, the rest untouched.
pub fn inpaint_batch(
    g: &InpaintGenerator,
    pairs: &[(RgbImage, GrayImage)],
    device: &Device,
) -> Vec<RgbImage> {
    let Some((first, _)) = pairs.first() else {
        return vec![];
    };
    let (w, h) = (first.width() as usize, first.height() as usize);
    let (pixels, masks) = generator_input(pairs);
    let n = pairs.len();
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [n, 3, h, w]), device);
    let m = Tensor::<4>::from_data(TensorData::new(masks, [n, 1, h, w]), device);
    let fills = tensor_to_images(g.forward(x, m).fine, Range::Signed);
    pairs
        .iter()
        .zip(fills)
        .map(|((img, mask), fill)| paste_holes(img, &fill, mask))
        .collect()
}

#[derive(Config, Debug)]
pub struct SnPatchDiscriminatorConfig {
    #[config(default = 32)]
    pub width: usize,
    /// Stride-2 layers (5 turns 128 px into a 4×4 grid of patch scores).
    #[config(default = 5)]
    pub layers: usize,
}

/// SN-PatchGAN: image and mask in, one score per feature of the last layer.
#[derive(Module, Debug)]
pub struct SnPatchDiscriminator {
    pub convs: Vec<SnConv2d>,
}

impl SnPatchDiscriminatorConfig {
    pub fn init(&self, device: &Device) -> SnPatchDiscriminator {
        let ch = |i: usize| self.width * (1usize << i.min(2));
        let convs = (0..self.layers)
            .map(|i| {
                let cin = if i == 0 { 4 } else { ch(i - 1) };
                SnConv2dConfig::new([cin, ch(i)], 5)
                    .with_stride(2)
                    .with_padding(2)
                    .with_spectral_norm(true)
                    .init(device)
            })
            .collect();
        SnPatchDiscriminator { convs }
    }

    /// Forward outputs per image of side `size`, for the memory check.
    pub fn activation_floats(&self, size: usize) -> u64 {
        (0..self.layers)
            .map(|i| {
                let side = (size >> (i + 1)) as u64;
                2 * (self.width * (1usize << i.min(2))) as u64 * side * side
            })
            .sum()
    }
}

impl SnPatchDiscriminator {
    /// Scores for `image` [N, 3, H, W] with `mask` [N, 1, H, W], flattened.
    pub fn flat_scores(&self, image: Tensor<4>, mask: Tensor<4>) -> Tensor<1> {
        let mut h = Tensor::cat(vec![image, mask], 1);
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            h = conv.forward(h);
            if i < last {
                h = leaky_relu(h, 0.2);
            }
        }
        let n: usize = h.dims().iter().product();
        h.reshape([n])
    }
}

/// What an inpainter model file records besides its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InpaintMeta {
    pub generator: InpaintGeneratorConfig,
    /// Training crop size: the window `atelier inpaint` works in.
    pub size: usize,
    /// The mask kinds it was trained on.
    pub masks: Vec<MaskKind>,
}

pub fn save_inpainter(
    g: &InpaintGenerator,
    meta: &InpaintMeta,
    command: &str,
    path: &Path,
) -> Result<()> {
    save_model(
        g,
        &ModelMeta {
            kind: INPAINTER_KIND.into(),
            config_json: serde_json::to_string(meta).expect("config serialises"),
            classes: vec![],
            trained_with: Some(command.to_string()),
        },
        path,
    )
}

pub struct LoadedInpainter {
    pub net: InpaintGenerator,
    pub meta: InpaintMeta,
    pub trained_with: Option<String>,
}

impl LoadedInpainter {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (meta, tensors) = open_model(
            path,
            INPAINTER_KIND,
            "inpaint needs a model trained by `atelier train inpaint`",
        )?;
        let bad = |e: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason: format!("bad inpainter config: {e}"),
        };
        let im: InpaintMeta =
            serde_json::from_str(&meta.config_json).map_err(|e| bad(e.to_string()))?;
        im.generator.validate().map_err(bad)?;
        if im.size < 16 || im.size > 4096 || !im.size.is_multiple_of(SIDE_MULTIPLE) {
            return Err(bad(format!("window size {} is not usable", im.size)));
        }
        let net = load_into(im.generator.init(device), tensors, device, path)?;
        Ok(Self {
            net,
            meta: im,
            trained_with: meta.trained_with,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_the_composite_keep_the_valid_pixels() {
        let d = Device::flex();
        let g = InpaintGeneratorConfig::new().with_width(4).init(&d);
        let img = Tensor::<4>::random([2, 3, 36, 20], burn::tensor::Distribution::Default, &d);
        let mut m = vec![0.0f32; 2 * 36 * 20];
        m[100..140].fill(1.0);
        let mask = Tensor::<4>::from_data(TensorData::new(m, [2, 1, 36, 20]), &d);
        let fill = g.forward(img.clone(), mask.clone());
        assert_eq!(fill.coarse.dims(), [2, 3, 36, 20]);
        assert_eq!(fill.fine.dims(), [2, 3, 36, 20]);
        let out = composite(img.clone(), fill.fine.clone(), mask.clone());
        let kept = (out - img.clone()) * mask.clone().neg().add_scalar(1.0);
        assert_eq!(kept.abs().max().into_scalar::<f32>(), 0.0);
        // Both stages' own outputs leave the known pixels exactly as they came (an
        // unmasked correction made the L1 loss shrink the network to nothing) and change
        // the holes.
        for out in [fill.coarse, fill.fine] {
            let moved = (out - img.clone()).abs();
            let outside = moved.clone() * mask.clone().neg().add_scalar(1.0);
            assert_eq!(outside.max().into_scalar::<f32>(), 0.0);
            assert!((moved * mask.clone()).max().into_scalar::<f32>() > 0.0);
        }
        let dnet = SnPatchDiscriminatorConfig::new().with_width(4).init(&d);
        let s = dnet.flat_scores(
            Tensor::zeros([2, 3, 128, 128], &d),
            Tensor::zeros([2, 1, 128, 128], &d),
        );
        // 128 / 2⁵ = 4: a 4×4 grid of 16-channel scores per image.
        assert_eq!(s.dims(), [2 * 16 * 4 * 4]);
    }

    #[test]
    fn the_activation_estimate_counts_every_layer() {
        let c = InpaintGeneratorConfig::new()
            .with_width(8)
            .with_refine(false);
        // Per stage at 16 px: 4 floats (conv out 2C, gated C, activation) per channel.
        let want: u64 = [
            (8, 16),
            (16, 8),
            (16, 8),
            (32, 4),
            (32, 4),
            (32, 4),
            (32, 4),
            (32, 4),
            (32, 4),
            (32, 4),
            (16, 8),
            (16, 8),
            (8, 16),
            (4, 16),
        ]
        .iter()
        .map(|&(c, s): &(u64, u64)| 4 * c * s * s)
        .sum();
        assert_eq!(c.activation_floats(16), want);
        assert_eq!(c.with_refine(true).activation_floats(16), 2 * want);
    }
}
