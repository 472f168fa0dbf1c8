//! Evaluation metrics. `fid` holds feature statistics and the Fréchet distance, `kid` the
//! kernel inception distance.

pub mod features;
pub mod fid;
pub mod kid;
