//! Loss functions. `adversarial` holds every GAN objective and the gradient penalties.

pub mod adversarial;

pub use adversarial::{GanLoss, d_loss, g_loss};
