//! Loss functions. `adversarial` holds every GAN objective and the gradient penalties.

pub mod adversarial;

pub use adversarial::{d_loss, g_loss, GanLoss};
