//! Convolution and linear layers with optional spectral normalisation.
//!
//! burn's `Conv2d`/`Linear` own their weights and apply them directly; spectral norm needs
//! to transform the weight on every call, so these layers hold the parameters themselves
//! and call burn's functional ops.

use burn::module::{Param, RunningState};
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::norm::spectral_normalize;

/// DCGAN's initialisation, N(0, 0.02), used by every GAN layer here.
pub fn gan_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

#[derive(Config, Debug)]
pub struct SnConv2dConfig {
    pub channels: [usize; 2],
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 0)]
    pub padding: usize,
    #[config(default = false)]
    pub spectral_norm: bool,
}

#[derive(Module, Debug)]
pub struct SnConv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    /// Power-iteration vector; present only with spectral norm.
    pub u: Option<RunningState<Tensor<1>>>,
    pub stride: usize,
    pub padding: usize,
}

fn unit_vector(n: usize, seed_offset: usize, device: &Device) -> Tensor<1> {
    // Deterministic start vector (no global RNG): a fixed pseudo-random pattern.
    let v: Vec<f32> = (0..n)
        .map(|i| (((i + seed_offset) as f32 * 12.9898).sin() * 43758.547).fract() - 0.5)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    Tensor::from_data(
        TensorData::new(v.iter().map(|x| x / norm).collect(), [n]),
        device,
    )
}

/// The weight to use: spectrally normalised as a matrix [out, rest] when the layer has a
/// power-iteration vector, else unchanged. `u` advances only in training (autodiff input).
fn effective_weight<const D: usize>(
    w: Tensor<D>,
    u: &Option<RunningState<Tensor<1>>>,
    training: bool,
) -> Tensor<D> {
    match u {
        Some(u) => {
            let dims = w.dims();
            let rest = dims[1..].iter().product();
            spectral_normalize(w.reshape([dims[0], rest]), u, training).reshape(dims)
        }
        None => w,
    }
}

impl SnConv2dConfig {
    pub fn init(&self, device: &Device) -> SnConv2d {
        let [cin, cout] = self.channels;
        let k = self.kernel;
        SnConv2d {
            weight: gan_init().init_with(
                [cout, cin, k, k],
                Some(cin * k * k),
                Some(cout * k * k),
                device,
            ),
            bias: Initializer::Zeros.init([cout], device),
            u: self
                .spectral_norm
                .then(|| RunningState::new(unit_vector(cout, cin * k, device))),
            stride: self.stride,
            padding: self.padding,
        }
    }
}

impl SnConv2d {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let w = effective_weight(self.weight.val(), &self.u, x.is_autodiff());
        conv2d(
            x,
            w,
            Some(self.bias.val()),
            ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1),
        )
    }
}

#[derive(Config, Debug)]
pub struct SnLinearConfig {
    pub d_input: usize,
    pub d_output: usize,
    #[config(default = false)]
    pub spectral_norm: bool,
}

#[derive(Module, Debug)]
pub struct SnLinear {
    /// [out, in], PyTorch's layout, so spectral norm sees the usual matrix.
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
    pub u: Option<RunningState<Tensor<1>>>,
}

impl SnLinearConfig {
    pub fn init(&self, device: &Device) -> SnLinear {
        SnLinear {
            weight: gan_init().init_with(
                [self.d_output, self.d_input],
                Some(self.d_input),
                Some(self.d_output),
                device,
            ),
            bias: Initializer::Zeros.init([self.d_output], device),
            u: self
                .spectral_norm
                .then(|| RunningState::new(unit_vector(self.d_output, self.d_input, device))),
        }
    }
}

impl SnLinear {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let w = effective_weight(self.weight.val(), &self.u, x.is_autodiff());
        x.matmul(w.transpose()) + self.bias.val().unsqueeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_shapes_and_linear_matches_manual() {
        let dev = Device::flex();
        let c = SnConv2dConfig::new([3, 8], 4)
            .with_stride(2)
            .with_padding(1)
            .init(&dev);
        let y = c.forward(Tensor::zeros([2, 3, 16, 16], &dev));
        assert_eq!(y.dims(), [2, 8, 8, 8]);
        let l = SnLinearConfig::new(3, 2).init(&dev);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &dev);
        let w: Vec<f32> = l.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let y: Vec<f32> = l.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert!((y[0] - (w[0] + 2.0 * w[1] + 3.0 * w[2])).abs() < 1e-6);
    }
}
