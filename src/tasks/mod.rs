//! What a user asks for, built from the parts: generation and interpolation so far.

pub mod generate;
