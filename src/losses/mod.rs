//! Loss functions. `adversarial` holds every GAN objective and the gradient penalties;
//! `perceptual` the feature-space losses of style transfer (content, Gram style, TV);
//! `style_objective` puts them together over an image's pixels, relative to each target's
//! magnitude, for style transfer and texture synthesis.

pub mod adversarial;
pub mod perceptual;
pub mod pixel;
pub mod style_objective;
pub mod temporal;

pub use adversarial::{GanLoss, d_loss, g_loss};
pub use perceptual::{content_loss, gram_matrix, style_loss, tv_loss, tv_loss_with};
pub use pixel::PixelLoss;
