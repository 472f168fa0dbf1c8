//! What every VGG image optimisation (style transfer, texture synthesis) is told: the
//! weights file, the layers, the optimiser and the loss weights.

use std::path::PathBuf;

use clap::Args;

use crate::models::vgg::{Border, Pooling, Vgg, VggConfig, parse_layers};
use crate::tasks::stylize::{LayerChoice, LossWeights, Method, OptimizeOptions};
use crate::weights::locate_vgg;

/// Network and optimiser settings shared by `stylize` and `texture` (their flags).
#[derive(Args, Debug, Clone)]
pub struct VggOptimOptions {
    /// VGG19 or VGG16 weights, torchvision layout, safetensors or .pth, f32 or f16 (default:
    /// $ATELIER_VGG, else the deepest network found in the hub cache, $ATELIER_VGG16 and the
    /// shared data, else a download of timm/vgg19.tv_in1k).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Pooling::Max)]
    pub pooling: Pooling,
    /// Optimiser for the image.
    #[arg(long, value_enum, default_value_t = Method::Lbfgs)]
    pub optimizer: Method,
    /// Iterations at the coarsest scale (finer scales run half as many as the one before).
    #[arg(long, default_value_t = 300)]
    pub iters: usize,
    /// Adam learning rate (pixels in [0, 1]).
    #[arg(long, default_value_t = 0.02)]
    pub lr: f64,
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f32,
    /// Style strength. Each loss is measured relative to its target's magnitude, so the
    /// weights mean the same with any VGG file.
    #[arg(long, default_value_t = 100.0)]
    pub style_weight: f32,
    /// Total-variation smoothing.
    #[arg(long, default_value_t = 10.0)]
    pub tv_weight: f32,
    /// Style layers. Default with a full VGG19 or VGG16: relu1_1,relu2_1,relu3_1,relu4_1,
    /// relu5_1; with a file that stops earlier (the truncated VGG19): relu1_1,relu2_1,relu3_1.
    #[arg(long)]
    pub style_layers: Option<String>,
    /// One weight per style layer (default: all 1).
    #[arg(long, value_delimiter = ',')]
    pub style_layer_weights: Option<Vec<f32>>,
    /// Content layers. Default: relu4_2 with a full network, relu3_2 with a truncated one.
    #[arg(long)]
    pub content_layers: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the current image every N iterations (next to the output, -sS-iN suffix).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Refuse sizes whose estimated working memory exceeds this (default: free memory).
    #[arg(long)]
    pub max_memory_gb: Option<f64>,
}

impl VggOptimOptions {
    pub fn load_vgg(&self, border: Border, device: &burn::prelude::Device) -> anyhow::Result<Vgg> {
        let path = locate_vgg(self.vgg.as_deref())?;
        let vgg = VggConfig::new()
            .with_pooling(self.pooling)
            .with_border(border)
            .load(&path, &device.clone().autodiff())?;
        tracing::info!(
            "{} from {} ({} conv layers)",
            vgg.arch.name(),
            path.display(),
            vgg.net.convs.len()
        );
        Ok(vgg)
    }

    pub fn layers(&self, vgg: &Vgg) -> anyhow::Result<LayerChoice> {
        let mut l = LayerChoice::defaults_for(vgg);
        if let Some(s) = &self.style_layers {
            l.style = parse_layers(s)?;
            l.style_weights = vec![1.0; l.style.len()];
        }
        if let Some(w) = &self.style_layer_weights {
            anyhow::ensure!(
                w.len() == l.style.len(),
                "--style-layer-weights has {} values for {} style layers",
                w.len(),
                l.style.len()
            );
            l.style_weights = w.clone();
        }
        if let Some(c) = &self.content_layers {
            l.content = parse_layers(c)?;
        }
        vgg.check(&l.all())?;
        Ok(l)
    }

    pub fn optimize_options(&self) -> anyhow::Result<OptimizeOptions> {
        for (name, v) in [
            ("--content-weight", self.content_weight),
            ("--style-weight", self.style_weight),
            ("--tv-weight", self.tv_weight),
        ] {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be >= 0, got {v}");
        }
        anyhow::ensure!(self.iters > 0, "--iters must be at least 1");
        Ok(OptimizeOptions {
            method: self.optimizer,
            iters: self.iters,
            lr: self.lr,
            weights: LossWeights {
                content: self.content_weight,
                style: self.style_weight,
                tv: self.tv_weight,
            },
        })
    }

    pub fn memory_limit(&self) -> anyhow::Result<Option<u64>> {
        Ok(crate::device::memory_limit_gb(
            "--max-memory-gb",
            self.max_memory_gb,
        )?)
    }
}
