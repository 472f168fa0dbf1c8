//! Small helpers shared by every task.

pub mod atomic;
pub mod progress;
pub mod rng;
