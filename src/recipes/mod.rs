//! Training recipes: what each GAN family and each single-network trainer (style networks,
//! AdaIN decoders) plugs into the one engine (`crate::train`). A new trainer needs a recipe
//! here and a model under `models/`, nothing else.

pub mod adain;
pub mod cyclegan;
pub mod generation;
pub mod image_pool;
pub mod inpaint;
pub mod pix2pix;
pub mod style;
