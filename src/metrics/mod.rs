//! Evaluation metrics. `fid` holds feature statistics and the Fréchet distance, `kid` the
//! kernel inception distance, `paired` SSIM/PSNR/L1, `style` content and style scores.

pub mod features;
pub mod fid;
pub mod kid;
pub mod paired;
pub mod style;
