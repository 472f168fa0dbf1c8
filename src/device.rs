//! Choosing the compute device at start-up.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// Pure-Rust CPU backend (burn Flex), always available.
    #[default]
    Cpu,
    /// NVIDIA GPU. Runs through burn's Vulkan backend (builds offline, no CUDA toolkit
    /// needed); requires a build with `--features cuda`.
    Cuda,
    /// Any Vulkan GPU; requires a build with `--features vulkan`.
    Vulkan,
}

/// Build the device, checking with a tiny computation that it really works, so a missing
/// driver is a clear error instead of a panic deep inside training.
pub fn select(choice: DeviceChoice) -> Result<Device> {
    let device = match choice {
        DeviceChoice::Cpu => Device::flex(),
        DeviceChoice::Cuda | DeviceChoice::Vulkan => gpu()?,
    };
    let probe = device.clone();
    // A backend that cannot start panics (on its own thread too); silence the default
    // hook's backtraces for the probe and report one clear error instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(move || {
        let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &probe);
        t.sum().into_scalar::<f32>()
    });
    std::panic::set_hook(hook);
    match ok {
        Ok(v) if (v - 3.0).abs() < 1e-6 => Ok(device),
        Ok(v) => Err(AtelierError::Device(format!(
            "{choice:?} device computed 1+2 = {v}"
        ))),
        Err(_) => Err(AtelierError::Device(format!(
            "could not start the {choice:?} device (is a Vulkan driver installed? `vulkaninfo` \
             should list the GPU); use --device cpu to run on the processor"
        ))),
    }
}

#[cfg(feature = "vulkan")]
fn gpu() -> Result<Device> {
    Ok(Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(0)))
}

#[cfg(not(feature = "vulkan"))]
fn gpu() -> Result<Device> {
    Err(AtelierError::Device(
        "this build has no GPU support; rebuild with `cargo install --path . --features cuda` \
         (or `--features vulkan`), or use --device cpu"
            .into(),
    ))
}
