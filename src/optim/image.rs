//! The image-optimisation loop: L-BFGS or Adam over an image's pixels on an
//! [`ImageObjective`], reporting every iteration to an observer.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{Adam, Lbfgs, LbfgsConfig, Step, VectorOptimizer};
use crate::error::Result;
use crate::imaging::tensor::{Range, image_from_chw};
use crate::losses::style_objective::{ImageObjective, LossWeights, Terms};
use crate::util::rng::SeededRng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Lbfgs,
    Adam,
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
    // Every evaluation re-allocates the same buffers: keep freed memory mapped for them.
    let _keep = crate::alloc::KeepFreedMemory::new();
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

/// Noise around mid-grey, seeded.
pub fn noise_image(n: usize, seed: u64) -> Vec<f32> {
    SeededRng::new(seed)
        .normal_vec(n)
        .into_iter()
        .map(|z| (0.5 + 0.2 * z).clamp(0.0, 1.0))
        .collect()
}
