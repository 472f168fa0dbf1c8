//! Reusable building blocks shared by the models.

pub mod conv;
pub mod diff_augment;
pub mod equalized;
pub mod gated;
pub mod norm;
pub mod pad;
pub mod tiled;

pub use conv::{SnConv2d, SnConv2dConfig, SnLinear, SnLinearConfig};
pub use norm::pixel_norm;
