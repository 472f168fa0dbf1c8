//! What a user asks for, built from the parts: generation and interpolation, style
//! transfer by optimisation, texture synthesis, image-to-image translation, training runs
//! (DCGAN, translators) and evaluation. Each is a library function with a plain options
//! struct; the CLI and the studio only fill the options in.

pub mod adain_style;
pub mod evaluate;
pub mod evaluate_inpaint;
pub mod evaluate_video;
pub mod fast_style;
pub mod generate;
pub mod image_optim;
pub mod inpaint;
pub mod stylize;
pub mod texture;
pub mod train_adain;
pub mod train_gan;
pub mod train_inpaint;
pub mod train_style;
pub mod train_translate;
pub mod training;
pub mod translate;
pub mod video;
