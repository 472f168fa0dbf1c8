//! Training recipes: what each GAN family plugs into the one engine (`crate::train`).
//! A new GAN needs a recipe here and a model under `models/`, nothing else.

pub mod cyclegan;
pub mod dcgan;
pub mod image_pool;
pub mod pix2pix;
pub mod style;
