//! Optimisers over plain parameter vectors (burn's own optimisers serve the networks):
//! image optimisation in style transfer and texture synthesis.

pub mod adam;
pub mod image;
pub mod lbfgs;

pub use adam::Adam;
pub use lbfgs::{Lbfgs, LbfgsConfig};

use crate::error::Result;

/// A loss and its gradient at a point.
pub type Objective<'a> = dyn FnMut(&[f32]) -> Result<(f64, Vec<f32>)> + 'a;

/// What one iteration did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The loss went down to this value.
    Improved(f64),
    /// No step along the search direction (or the gradient) lowered the loss: converged.
    Stalled,
}

/// An optimiser stepped one iteration at a time over a vector.
pub trait VectorOptimizer {
    /// The current point.
    fn x(&self) -> &[f32];
    /// One iteration on `f`.
    fn step(&mut self, f: &mut Objective) -> Result<Step>;
}
