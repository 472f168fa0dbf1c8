//! Pixel losses between an output and its target (the reconstruction terms of translation
//! and inpainting recipes).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The pixel term of the generator's loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PixelLoss {
    L1,
    Mse,
}

impl PixelLoss {
    pub fn of(self, output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
        let d = output - target;
        match self {
            PixelLoss::L1 => d.abs().mean(),
            PixelLoss::Mse => d.powf_scalar(2.0).mean(),
        }
    }
}
