//! Arbitrary style transfer in one pass (Huang & Belongie 2017): a frozen VGG encoder up to
//! `relu4_1`, adaptive instance normalisation ([`crate::nn::norm::adain`]) giving the
//! photo's features the painting's channel statistics, and a trained decoder back to
//! pixels.
//!
//! The decoder mirrors the encoder: its convolutions in reverse order with input and
//! output channels swapped, a nearest ×2 up-sampling where the encoder pooled, reflection
//! padding, ReLU after every conv but the last, and no normalisation (it would undo the
//! statistics AdaIN sets). `width` scales its channels (64 mirrors VGG exactly; 32 is a
//! slim variant at about a quarter of the decoder's cost); `depth` picks a shallower
//! encoder layer (`relu3_1`) for a lighter model.
//!
//! Only the decoder is trained and stored; the encoder is the VGG the weights manager
//! finds, and the model file records which architecture it expects.

use std::path::Path;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use super::model_file::{ModelMeta, load_into, open_model, save_model};
use super::vgg::{Vgg, VggArch, VggLayer};
use crate::error::{AtelierError, Result};
use crate::nn::norm::{ChannelStats, NormContext, STATS_EPSILON, adain};
use crate::nn::pad::{crop_to, pad_to_multiple, reflect_pad};

/// The model-file kind of an AdaIN decoder.
pub const ADAIN_KIND: &str = "adain-decoder";

#[derive(Config, Debug)]
pub struct AdainDecoderConfig {
    /// The encoder the decoder inverts.
    #[config(default = "VggArch::Vgg16")]
    pub arch: VggArch,
    /// The encoder layer AdaIN works at: `reluB_1`, B from 2 to 5 (the paper's `relu4_1`).
    #[config(default = "String::from(\"relu4_1\")")]
    pub depth: String,
    /// Channels of the decoder's last block; deeper blocks have VGG's multiples of it (64:
    /// VGG's own widths).
    #[config(default = 64)]
    pub width: usize,
}

/// The convolutions of one encoder block, mirrored (a ×2 up-sampling follows every block
/// but the last).
#[derive(Module, Debug)]
pub struct DecoderBlock {
    pub convs: Vec<Conv2d>,
}

#[derive(Module, Debug)]
pub struct AdainDecoder {
    pub blocks: Vec<DecoderBlock>,
}

impl AdainDecoderConfig {
    /// The encoder layer, checked to be one AdaIN can work at.
    pub fn layer(&self) -> std::result::Result<VggLayer, String> {
        let l: VggLayer = self
            .depth
            .parse()
            .map_err(|e: AtelierError| e.to_string())?;
        if !l.relu || l.index != 0 || l.block == 0 {
            return Err(format!(
                "depth '{}' must be the first ReLU of a block after the first: relu2_1, \
                 relu3_1, relu4_1 or relu5_1",
                self.depth
            ));
        }
        Ok(l)
    }

    /// Refuse settings no real model has (a crafted file's metadata) before building.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.layer()?;
        if self.width == 0 || self.width > 256 {
            return Err(format!("width {} is outside 1..=256", self.width));
        }
        Ok(())
    }

    /// Total down-sampling of the encoder: inputs are padded to a multiple of it.
    pub fn factor(&self) -> usize {
        1 << self.layer().map(|l| l.block).unwrap_or(0)
    }

    /// (input channels, output channels, block) of every decoder conv, in order.
    fn convs(&self) -> Vec<(usize, usize, usize)> {
        let layer = self.layer().expect("validated");
        let last = self.arch.conv_index(layer).expect("every arch has reluB_1");
        let scale = |c: usize| {
            if c == 3 {
                3
            } else {
                (c * self.width / 64).max(1)
            }
        };
        (0..=last)
            .rev()
            .map(|i| {
                let [out, inp, _, _] = self.arch.conv_shape(i);
                let cin = if i == last { out } else { scale(out) };
                (cin, scale(inp), self.arch.block_of(i).0)
            })
            .collect()
    }

    pub fn init(&self, device: &Device) -> AdainDecoder {
        let mut blocks: Vec<DecoderBlock> = Vec::new();
        let mut current = usize::MAX;
        for (cin, cout, block) in self.convs() {
            if block != current {
                blocks.push(DecoderBlock { convs: Vec::new() });
                current = block;
            }
            let conv = Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Valid)
                .init(device);
            blocks.last_mut().expect("pushed").convs.push(conv);
        }
        AdainDecoder { blocks }
    }

    /// Multiply-adds per input pixel of the encoder and of the decoder (the speed table).
    pub fn macs_per_pixel(&self) -> (f64, f64) {
        let decoder = self
            .convs()
            .iter()
            .map(|&(i, o, b)| (i * o * 9) as f64 / 4f64.powi(b as i32))
            .sum();
        let last = self.arch.conv_index(self.layer().expect("validated"));
        let encoder = (0..=last.expect("present"))
            .map(|i| {
                let [o, inp, _, _] = self.arch.conv_shape(i);
                (o * inp * 9) as f64 / 4f64.powi(self.arch.block_of(i).0 as i32)
            })
            .sum();
        (encoder, decoder)
    }
}

impl AdainDecoder {
    /// Features [N, C, h, w] to an image [N, 3, h·f, w·f] (unclamped: training sees the
    /// raw output, as in the paper).
    pub fn forward(&self, features: Tensor<4>) -> Tensor<4> {
        let mut h = features;
        let n = self.blocks.len();
        for (b, block) in self.blocks.iter().enumerate() {
            for (k, conv) in block.convs.iter().enumerate() {
                h = conv.forward(reflect_pad(h, 1));
                if b + 1 < n || k + 1 < block.convs.len() {
                    h = relu(h);
                }
            }
            if b + 1 < n {
                h = interpolate(
                    h,
                    InterpolateOptions::new(InterpolateMode::Nearest).with_scale_factor([2.0, 2.0]),
                );
            }
        }
        h
    }
}

/// Where each style applies: one set of statistics everywhere, or two split by a mask.
// Built once per image (cloned once per tile): the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum StyleTarget {
    Uniform(ChannelStats),
    /// `mask` [1, 1, H, W] in [0, 1] at the input's resolution: `white` where it is 1,
    /// `black` where it is 0, mixed in between.
    Masked {
        mask: Tensor<4>,
        white: ChannelStats,
        black: ChannelStats,
    },
}

/// A loaded encoder and decoder, working together.
pub struct AdainModel<'a> {
    pub encoder: &'a Vgg,
    pub decoder: &'a AdainDecoder,
    pub config: &'a AdainDecoderConfig,
}

impl AdainModel<'_> {
    fn layer(&self) -> VggLayer {
        self.config.layer().expect("validated")
    }

    /// Encoder features at the AdaIN layer.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<4> {
        self.encoder
            .features(x, &[self.layer()])
            .expect("encoder checked when the model was loaded")
            .remove(0)
    }

    /// A style image's statistics at the AdaIN layer.
    pub fn style_stats(&self, style: Tensor<4>) -> ChannelStats {
        ChannelStats::of(self.encode(style)).detach()
    }

    /// Images [1, 3, H, W] in [0, 1] stylised: AdaIN towards `target`, then `alpha` of the
    /// way from the photo's own features (0: the decoder's reconstruction of the photo, 1:
    /// the full transfer). The content statistics come from `ctx` (whole-image ones for
    /// tiles).
    pub fn stylize_with(
        &self,
        x: Tensor<4>,
        target: &StyleTarget,
        alpha: f32,
        ctx: &mut NormContext,
    ) -> Tensor<4> {
        let factor = self.config.factor();
        let (x, size) = pad_to_multiple(x, factor);
        let [_, _, h, w] = x.dims();
        ctx.begin([h, w]);
        let f = self.encode(x);
        let t = match target {
            StyleTarget::Uniform(s) => adain(f.clone(), s, ctx),
            StyleTarget::Masked { mask, white, black } => {
                let (m, _) = pad_to_multiple(mask.clone(), factor);
                let m = avg_pool2d(
                    m,
                    AvgPoolOptions::new([factor, factor]).with_stride([factor, factor]),
                );
                let n = ctx.normalize(f.clone(), STATS_EPSILON);
                let inv = m.clone().neg().add_scalar(1.0);
                let std = m.clone() * white.std.clone() + inv.clone() * black.std.clone();
                let mean = m * white.mean.clone() + inv * black.mean.clone();
                n * std + mean
            }
        };
        let t = if alpha >= 1.0 {
            t
        } else {
            t * alpha + f * (1.0 - alpha)
        };
        crop_to(self.decoder.forward(t), size).clamp(0.0, 1.0)
    }
}

/// What an AdaIN model file records besides its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdainMeta {
    pub decoder: AdainDecoderConfig,
    /// Training crop size.
    pub size: usize,
    /// The style sources it was trained on (folder or file names).
    pub styles_seen: Vec<String>,
    /// Style files deliberately kept out of training (for honest demonstrations).
    pub held_out: Vec<String>,
}

pub fn save_adain(
    decoder: &AdainDecoder,
    meta: &AdainMeta,
    command: &str,
    path: &Path,
) -> Result<()> {
    save_model(
        decoder,
        &ModelMeta {
            kind: ADAIN_KIND.into(),
            config_json: serde_json::to_string(meta).expect("config serialises"),
            classes: vec![],
            trained_with: Some(command.to_string()),
        },
        path,
    )
}

pub struct LoadedAdain {
    pub decoder: AdainDecoder,
    pub meta: AdainMeta,
    pub trained_with: Option<String>,
}

impl LoadedAdain {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (meta, tensors) = open_model(
            path,
            ADAIN_KIND,
            "AdaIN needs a decoder trained by `atelier train adain`",
        )?;
        let bad = |e: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason: format!("bad AdaIN config: {e}"),
        };
        let am: AdainMeta =
            serde_json::from_str(&meta.config_json).map_err(|e| bad(e.to_string()))?;
        am.decoder.validate().map_err(bad)?;
        let decoder = load_into(am.decoder.init(device), tensors, device, path)?;
        Ok(Self {
            decoder,
            meta: am,
            trained_with: meta.trained_with,
        })
    }

    /// Check that `encoder` is the network this decoder was trained against and has its
    /// layer; the model to stylise with.
    pub fn with<'a>(&'a self, encoder: &'a Vgg) -> Result<AdainModel<'a>> {
        // The layer first: a short file cannot tell VGG16 from VGG19 (they differ only
        // after conv3_3), and the missing layer is then the real problem.
        encoder.check(&[self.meta.decoder.layer().expect("validated")])?;
        let want = self.meta.decoder.arch;
        if encoder.arch() != want {
            return Err(AtelierError::BadModel {
                path: encoder.source().to_path_buf(),
                reason: format!(
                    "is a {} but this AdaIN decoder was trained against {}: pass a {} file \
                     with --vgg",
                    encoder.arch().name(),
                    want.name(),
                    want.name()
                ),
            });
        }
        Ok(AdainModel {
            encoder,
            decoder: &self.decoder,
            config: &self.meta.decoder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoder_mirrors_the_encoder() {
        let d = Device::flex();
        let cfg = AdainDecoderConfig::new();
        let dec = cfg.init(&d);
        let shapes: Vec<Vec<[usize; 4]>> = dec
            .blocks
            .iter()
            .map(|b| b.convs.iter().map(|c| c.weight.dims()).collect())
            .collect();
        assert_eq!(
            shapes,
            vec![
                vec![[256, 512, 3, 3]],
                vec![[256, 256, 3, 3], [256, 256, 3, 3], [128, 256, 3, 3]],
                vec![[128, 128, 3, 3], [64, 128, 3, 3]],
                vec![[64, 64, 3, 3], [3, 64, 3, 3]],
            ]
        );
        let slim = AdainDecoderConfig::new()
            .with_depth("relu3_1".into())
            .with_width(32)
            .init(&d);
        let y = slim.forward(Tensor::zeros([1, 256, 5, 3], &d));
        assert_eq!(y.dims(), [1, 3, 20, 12]);
        assert!(
            AdainDecoderConfig::new()
                .with_depth("relu4_2".into())
                .validate()
                .is_err()
        );
        let (enc, dec) = cfg.macs_per_pixel();
        // VGG16 to relu4_1: about 205k multiply-adds per pixel; the mirror about the same.
        assert!((190e3..220e3).contains(&enc), "{enc}");
        assert!((190e3..220e3).contains(&dec), "{dec}");
    }
}
