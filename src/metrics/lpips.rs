//! LPIPS (Zhang et al. 2018), v0.1 on VGG16: at relu1_2, relu2_2, relu3_3, relu4_3 and
//! relu5_3, each position's channel vector is unit-normalised, the two images' squared
//! difference is weighted per channel by a learned 1x1 layer (no bias), averaged over
//! positions, and the five layers are summed. 0 for identical images; larger is less alike.
//!
//! The backbone is our VGG16 (ImageNet normalisation of RGB in [0, 1], which equals LPIPS's
//! scaling layer on [-1, 1] input); the linear weights are the official `v0.1/vgg.pth`.

use std::path::Path;

use burn::prelude::*;
use image::RgbImage;

use crate::error::{AtelierError, Result};
use crate::imaging::tensor::{Range, image_to_tensor};
use crate::models::vgg::{Vgg, VggArch, VggConfig, VggLayer};
use crate::weights::TensorFile;

/// The taps, in the order of the linear layers `lin0` … `lin4`.
pub const LPIPS_LAYERS: [VggLayer; 5] = [
    VggLayer::relu(1, 2),
    VggLayer::relu(2, 2),
    VggLayer::relu(3, 3),
    VggLayer::relu(4, 3),
    VggLayer::relu(5, 3),
];
const CHANNELS: [usize; 5] = [64, 128, 256, 512, 512];

pub struct Lpips {
    vgg: Vgg,
    /// One weight per channel and layer, shaped [1, C, 1, 1].
    lin: Vec<Tensor<4>>,
}

impl Lpips {
    /// Load the VGG16 backbone and the linear layers (`lin{k}.model.1.weight`).
    pub fn load(vgg16: &Path, lin: &Path, device: &Device) -> Result<Self> {
        let vgg = VggConfig::new().load(vgg16, device)?;
        if vgg.arch != VggArch::Vgg16 {
            return Err(AtelierError::BadModel {
                path: vgg16.to_path_buf(),
                reason: "LPIPS v0.1 needs VGG16 weights; this file holds VGG19".into(),
            });
        }
        vgg.check(&LPIPS_LAYERS)?;
        let file = TensorFile::open(lin)?;
        let lin = CHANNELS
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let w = file.read_f32(&format!("lin{k}.model.1.weight"), &[1, c, 1, 1])?;
                Ok(Tensor::from_data(TensorData::new(w, [1, c, 1, 1]), device))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { vgg, lin })
    }

    /// Find both files the usual way (`--vgg`-style flags, environment, hub cache, shared
    /// data, download) and load them.
    pub fn locate(vgg16: Option<&Path>, lin: Option<&Path>, device: &Device) -> Result<Self> {
        let v = crate::weights::VGG16.locate(vgg16)?;
        let l = crate::weights::LPIPS_VGG16_LIN.locate(lin)?;
        Self::load(&v, &l, device)
    }

    /// LPIPS between two images of the same size.
    pub fn distance(&self, a: &RgbImage, b: &RgbImage) -> Result<f64> {
        if a.dimensions() != b.dimensions() {
            return Err(AtelierError::Config(format!(
                "LPIPS compares images of one size, got {:?} and {:?}",
                a.dimensions(),
                b.dimensions()
            )));
        }
        let (w, h) = a.dimensions();
        let side = 1 << LPIPS_LAYERS[4].block();
        if w < side || h < side {
            return Err(AtelierError::Config(format!(
                "LPIPS needs images of at least {side}x{side} (relu5_3 pools four times), got \
                 {w}x{h}"
            )));
        }
        let device = self.vgg.device();
        let fa = self
            .vgg
            .features(image_to_tensor(a, Range::Unit, &device), &LPIPS_LAYERS)?;
        let fb = self
            .vgg
            .features(image_to_tensor(b, Range::Unit, &device), &LPIPS_LAYERS)?;
        let mut total = 0.0;
        for ((x, y), lin) in fa.into_iter().zip(fb).zip(&self.lin) {
            let d = unit_normalize(x) - unit_normalize(y);
            let weighted = (d.clone() * d * lin.clone()).sum_dim(1);
            total += weighted.mean().into_scalar::<f32>() as f64;
        }
        Ok(total)
    }
}

/// Each position's channel vector divided by its length (+1e-10, as LPIPS does).
pub fn unit_normalize(f: Tensor<4>) -> Tensor<4> {
    let norm = (f.clone() * f.clone()).sum_dim(1).sqrt() + 1e-10;
    f / norm
}
