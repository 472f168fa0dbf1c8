//! One file per network. Each follows burn's pattern: a serde `Config` with
//! `init(&device)`, a `#[derive(Module)]` struct, `forward`.

pub mod adain;
pub mod budget;
pub mod dcgan;
pub mod fastgan;
pub mod generator;
pub mod inception;
pub mod inpaint;
pub mod model_file;
pub mod patchgan;
pub mod resnet_gen;
pub mod style_net;
pub mod stylegan2;
pub mod translator;
pub mod unet;
pub mod vgg;

pub use dcgan::{
    DNorm, DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
};
