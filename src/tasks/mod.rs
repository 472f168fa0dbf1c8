//! What a user asks for, built from the parts: generation and interpolation, style
//! transfer by optimisation, texture synthesis.

pub mod generate;
pub mod stylize;
pub mod texture;
