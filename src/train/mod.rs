//! The one GAN training engine, shared by every GAN in Atelier.
//!
//! A model family plugs in through [`GanRecipe`] (how to compute D's and G's losses from a
//! batch); the engine owns everything else: alternating updates, Adam per network, EMA of
//! G, learning-rate schedule, the divergence watchdog, checkpoints and exact resume, the
//! run directory and progress reporting, FID during training.

pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod engine;
pub mod eval_log;
pub mod fid_monitor;
pub mod run_log;

pub use config::{LrSchedule, TrainConfig};
pub use engine::{BatchStream, GanRecipe, StepLosses, TrainOutcome, train};
