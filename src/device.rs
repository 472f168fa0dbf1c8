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

/// Memory this machine can give now (Linux `MemAvailable`), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Bytes in the unit that keeps a few significant digits ("512 KiB", "3.2 GiB", "4.9 TiB"),
/// so that small budgets never read "0.0 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// Refuse work whose estimated memory `need` exceeds `limit` (default: the memory available
/// now) before anything is allocated: an impossible request should fail in milliseconds
/// with the numbers, not after minutes of swapping or an allocator abort. `what` names the
/// work, `advice` says what to change.
pub fn check_memory(what: &str, need: u64, limit: Option<u64>, advice: &str) -> Result<()> {
    let Some(have) = limit.or_else(available_memory) else {
        return Ok(());
    };
    if need > have {
        let source = if limit.is_some() {
            "the limit set"
        } else {
            "available memory"
        };
        return Err(AtelierError::Config(format!(
            "{what} needs about {} but {source} is {}; {advice}",
            human_bytes(need),
            human_bytes(have)
        )));
    }
    Ok(())
}

/// A memory limit given in GiB on the command line, checked to be a positive number.
pub fn memory_limit_gb(flag: &str, gb: Option<f64>) -> Result<Option<u64>> {
    match gb {
        None => Ok(None),
        Some(g) if g.is_finite() && g > 0.0 => Ok(Some((g * (1u64 << 30) as f64) as u64)),
        Some(g) => Err(AtelierError::Config(format!(
            "{flag} must be a positive number of GiB, got {g}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_a_fitting_unit() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(300 << 20), "300 MiB");
        assert_eq!(human_bytes(5 << 40), "5.0 TiB");
    }

    #[test]
    fn over_budget_work_is_refused_with_both_numbers() {
        let err = check_memory("a thing", 3 << 30, Some(1 << 30), "make it smaller")
            .unwrap_err()
            .to_string();
        assert!(err.contains("3.0 GiB") && err.contains("1.0 GiB"), "{err}");
        assert!(err.contains("make it smaller"), "{err}");
        assert!(check_memory("a thing", 1 << 20, Some(1 << 30), "").is_ok());
        assert!(memory_limit_gb("--max-memory-gb", Some(0.0)).is_err());
        assert!(memory_limit_gb("--max-memory-gb", Some(f64::NAN)).is_err());
        assert_eq!(
            memory_limit_gb("--max-memory-gb", Some(2.0)).unwrap(),
            Some(2 << 30)
        );
    }
}
