//! Optimisers over plain parameter vectors (burn's own optimisers serve the networks):
//! image optimisation in style transfer and texture synthesis.

pub mod adam;
pub mod lbfgs;

pub use adam::Adam;
pub use lbfgs::{Lbfgs, LbfgsConfig, Step};
