//! What a user asks for, built from the parts: generation and interpolation, style
//! transfer by optimisation, texture synthesis, image-to-image translation.

pub mod generate;
pub mod stylize;
pub mod texture;
pub mod translate;
