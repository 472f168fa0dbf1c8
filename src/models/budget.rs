//! Memory estimates made before anything is allocated, so that an impossible request (a
//! width of 100,000, a model file whose metadata claims a million blocks) fails at once with
//! the number instead of after minutes of allocation or an allocator abort.
//!
//! Parameters are counted exactly on lazily initialised networks: burn allocates a
//! parameter only when it is first used, and `Module::num_params` reads shapes without doing
//! so. Activations are estimated from each architecture's layer plan (outputs of every conv
//! and its norm/activation); the estimates aim at the right order of magnitude, which is what
//! tells a request that fits from one that cannot.

use burn::module::Module;

use crate::device::check_memory;
use crate::error::Result;

const BYTES_PER_FLOAT: u64 = 4;

/// Copies of every trained parameter a step keeps: weights, gradient, Adam's two moments.
pub const TRAINING_COPIES: u64 = 4;

/// Forward activations kept for the backward pass, their gradients and working buffers, as a
/// multiple of the forward outputs.
pub const BACKWARD_FACTOR: u64 = 3;

/// Parameters of a (lazily initialised) network, without allocating them.
pub fn param_count<M: Module>(m: &M) -> u64 {
    m.num_params() as u64
}

/// Refuse a training run whose networks hold `param_copies` floats of parameters in all
/// (parameters times the copies training keeps) and whose step produces `activations`
/// floats of forward outputs.
pub fn check_training(param_copies: u64, activations: u64, advice: &str) -> Result<()> {
    let need = param_copies
        .saturating_add(activations.saturating_mul(BACKWARD_FACTOR))
        .saturating_mul(BYTES_PER_FLOAT);
    check_memory("training these networks", need, None, advice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::DcganGeneratorConfig;
    use burn::prelude::Device;

    #[test]
    fn counting_a_huge_network_allocates_nothing() {
        // 100,000 channels: about 5e12 parameters, 20 TB. Counting must be instant.
        let t = std::time::Instant::now();
        let g = DcganGeneratorConfig::new(64)
            .with_width(100_000)
            .init(&Device::flex());
        let n = param_count(&g);
        assert!(n > 1_000_000_000_000, "{n}");
        assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
        let err = check_training(n * TRAINING_COPIES, 0, "lower --width")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TiB") && err.contains("lower --width"),
            "{err}"
        );
    }
}
