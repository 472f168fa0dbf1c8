//! The one training engine, shared by every trainer in Atelier.
//!
//! A model family plugs in through a recipe ([`RunRecipe`] plus [`GanRecipe`] or
//! [`SingleRecipe`]); a step strategy ([`step::GanStep`], [`step::SingleStep`]) updates the
//! networks; the run loop ([`engine::run`]) owns everything else: the learning-rate
//! schedule, the divergence watchdog, checkpoints of named parts and exact resume, the run
//! directory and progress reporting, FID during training.

pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod engine;
pub mod eval_log;
pub mod fid_monitor;
pub mod recipe;
pub mod run_dir;
pub mod run_log;
pub mod step;

pub use config::{GanStepConfig, LrSchedule, RunConfig, SingleStepConfig};
pub use engine::{RunOptions, TrainOutcome, run, run_gan, run_single};
pub use recipe::{BatchStream, GanRecipe, RunRecipe, SingleRecipe, StepLosses};
pub use step::{GanStep, SingleStep};
