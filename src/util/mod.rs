//! Small helpers shared by every task.

pub mod atomic;
pub mod rng;
