//! Atelier: GAN-based artwork simulation and style transfer on Burn.
//!
//! Layout: `imaging` (files <-> images <-> tensors), `data` (datasets and loaders), `nn`
//! (layers), `models` (one file per network), `losses`, `train` (the one GAN engine),
//! `recipes` (what each GAN family plugs into the engine), `tasks` (what users ask for),
//! `cli` (flags -> tasks).

pub mod alloc;
pub mod cli;
pub mod data;
pub mod device;
pub mod error;
pub mod imaging;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod optim;
pub mod recipes;
pub mod studio;
pub mod tasks;
pub mod train;
pub mod util;
pub mod video;
pub mod weights;

pub use error::{AtelierError, Result};
