//! Evaluation metrics. `fid` holds feature statistics and the Fréchet distance, `kid` the
//! kernel inception distance, `paired` SSIM/PSNR/L1, `lpips`
//! LPIPS v0.1 on VGG16, `style` content and style scores.

pub mod features;
pub mod fid;
pub mod kid;
pub mod lpips;
pub mod paired;
pub mod style;
pub mod temporal;
