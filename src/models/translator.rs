//! The image-to-image generator of every translation model (pix2pix, CycleGAN, the `seed`
//! preset), chosen by architecture: U-Net, ResNet, or a plain encoder-decoder (the ResNet
//! layout without skip connections). One type lets training, export and `atelier translate`
//! treat them alike.

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::model_file::{ModelMeta, load_into, open_model, save_model};
use super::resnet_gen::{ResnetGenerator, ResnetGeneratorConfig, Upsample};
use super::unet::{UnetGenerator, UnetGeneratorConfig};
use crate::error::{AtelierError, Result};
use crate::imaging::tensor::{Range, image_to_tensor, tensor_to_images};
use crate::nn::norm::NormContext;

/// The model-file kind of a translation generator.
pub const TRANSLATOR_KIND: &str = "translator";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GeneratorArch {
    /// U-Net with skip connections (pix2pix).
    Unet,
    /// ResNet blocks between two down- and two up-samplings (CycleGAN).
    Resnet,
    /// The ResNet layout with no skip connections: a plain conv generator.
    Plain,
}

#[derive(Config, Debug)]
pub struct TranslatorConfig {
    pub arch: GeneratorArch,
    #[config(default = 64)]
    pub width: usize,
    /// ResNet/plain: residual (or plain) block pairs.
    #[config(default = 9)]
    pub blocks: usize,
    /// U-Net: down-samplings (7 for 128 px, 8 for 256 px).
    #[config(default = 8)]
    pub depth: usize,
    #[config(default = "Upsample::ResizeConv")]
    pub upsample: Upsample,
    /// U-Net dropout (pix2pix's noise source).
    #[config(default = 0.5)]
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct Translator {
    pub unet: Option<UnetGenerator>,
    pub resnet: Option<ResnetGenerator>,
}

impl TranslatorConfig {
    /// Forward outputs per image of side `size` (each conv and its norm/activation), an
    /// estimate for the memory check.
    pub fn activation_floats(&self, size: usize) -> u64 {
        let (w, s2) = (self.width as u64, (size * size) as u64);
        match self.arch {
            GeneratorArch::Unet => (0..self.depth.min(30))
                .map(|j| {
                    let side = (size >> (j + 1)) as u64;
                    // Down and up at each level, conv and norm/activation each.
                    4 * w * (1u64 << j.min(3)) * side * side
                })
                .sum(),
            // Stem and last layer at full size (w), one step each way at half the side (2w)
            // and at a quarter (4w), and the blocks' two convs at 4w on a quarter side.
            GeneratorArch::Resnet | GeneratorArch::Plain => {
                2 * w * s2 * (13 + 2 * self.blocks as u64) / 4
            }
        }
    }

    /// Refuse settings no real model has (a crafted file's metadata, say) before a single
    /// layer is built.
    pub fn validate(&self) -> Result<(), String> {
        if self.width == 0 || self.width > 4096 {
            return Err(format!("width {} is outside 1..=4096", self.width));
        }
        if self.blocks > 64 {
            return Err(format!("{} blocks is more than 64", self.blocks));
        }
        if self.depth == 0 || self.depth > 12 {
            return Err(format!("depth {} is outside 1..=12", self.depth));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> Translator {
        let resnet = |residual: bool| {
            ResnetGeneratorConfig::new()
                .with_width(self.width)
                .with_blocks(self.blocks)
                .with_upsample(self.upsample)
                .with_residual(residual)
                .init(device)
        };
        match self.arch {
            GeneratorArch::Unet => Translator {
                unet: Some(
                    UnetGeneratorConfig::new()
                        .with_width(self.width)
                        .with_depth(self.depth)
                        .with_dropout(self.dropout)
                        .init(device),
                ),
                resnet: None,
            },
            GeneratorArch::Resnet => Translator {
                unet: None,
                resnet: Some(resnet(true)),
            },
            GeneratorArch::Plain => Translator {
                unet: None,
                resnet: Some(resnet(false)),
            },
        }
    }
}

impl Translator {
    /// Images [N, 3, H, W] in [-1, 1] to translated images of the same size.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with(x, &mut NormContext::own())
    }

    /// `forward` with instance-norm statistics from `ctx`. The U-Net ignores `ctx`: its
    /// bottleneck sees the whole input, so tiles cannot reproduce the untiled result anyway.
    pub fn forward_with(&self, x: Tensor<4>, ctx: &mut NormContext) -> Tensor<4> {
        match (&self.unet, &self.resnet) {
            (Some(u), _) => u.forward(x),
            (None, Some(r)) => r.forward_with(x, ctx),
            (None, None) => unreachable!("a translator holds one network"),
        }
    }

    /// Whether tiles normalised with shared statistics reproduce the untiled output away
    /// from tile borders (a bounded receptive field).
    pub fn tiles_exactly(&self) -> bool {
        self.resnet.is_some()
    }
}

/// What a translator model file records besides its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TranslatorMeta {
    pub generator: TranslatorConfig,
    /// What it does, e.g. "pix2pix edges -> painting" or "cyclegan A -> B".
    pub task: String,
    /// Training crop size.
    pub size: usize,
}

/// Write a translator as a model file.
pub fn save_translator(
    g: &Translator,
    meta: &TranslatorMeta,
    command: &str,
    path: &Path,
) -> Result<()> {
    save_model(
        g,
        &ModelMeta {
            kind: TRANSLATOR_KIND.into(),
            config_json: serde_json::to_string(meta).expect("config serialises"),
            classes: vec![],
            trained_with: Some(command.to_string()),
        },
        path,
    )
}

pub struct LoadedTranslator {
    pub net: Translator,
    pub meta: TranslatorMeta,
    pub trained_with: Option<String>,
    pub device: Device,
}

impl LoadedTranslator {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (meta, tensors) = open_model(
            path,
            TRANSLATOR_KIND,
            "translate needs a model trained by `atelier train translate`",
        )?;
        let bad = |e: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason: format!("bad translator config: {e}"),
        };
        let tm: TranslatorMeta =
            serde_json::from_str(&meta.config_json).map_err(|e| bad(e.to_string()))?;
        tm.generator.validate().map_err(bad)?;
        let net = load_into(tm.generator.init(device), tensors, device, path)?;
        Ok(Self {
            net,
            meta: tm,
            trained_with: meta.trained_with,
            device: device.clone(),
        })
    }
}

/// Translate equally sized images in one batch (no tiling).
pub fn translate_batch(net: &Translator, images: &[RgbImage], device: &Device) -> Vec<RgbImage> {
    if images.is_empty() {
        return vec![];
    }
    let x = Tensor::cat(
        images
            .iter()
            .map(|i| image_to_tensor(i, Range::Signed, device))
            .collect(),
        0,
    );
    tensor_to_images(net.forward(x), Range::Signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_architecture_keeps_the_input_size() {
        let d = Device::flex();
        for arch in [
            GeneratorArch::Unet,
            GeneratorArch::Resnet,
            GeneratorArch::Plain,
        ] {
            let g = TranslatorConfig::new(arch)
                .with_width(4)
                .with_blocks(1)
                .with_depth(3)
                .init(&d);
            assert_eq!(
                g.forward(Tensor::zeros([1, 3, 21, 13], &d)).dims(),
                [1, 3, 21, 13]
            );
        }
    }
}
