//! Loss functions. `adversarial` holds every GAN objective and the gradient penalties;
//! `perceptual` the feature-space losses of style transfer (content, Gram style, TV).

pub mod adversarial;
pub mod perceptual;

pub use adversarial::{GanLoss, d_loss, g_loss};
pub use perceptual::{content_loss, gram_matrix, style_loss, tv_loss, tv_loss_with};
