//! Layers with equalised learning rate (Karras et al. 2018) and StyleGAN2's modulated
//! convolution (Karras et al. 2020).
//!
//! Equalised learning rate: weights are stored as N(0, 1) and scaled by He's constant on
//! every call, so Adam's per-parameter step moves every layer at the same relative speed
//! whatever its fan-in. `lr_mul` slows a layer down further (StyleGAN's mapping network).

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

fn normal(std: f64) -> Initializer {
    Initializer::Normal { mean: 0.0, std }
}

/// `leaky_relu(x, 0.2) · √2`: the gain keeps activations' scale through the network.
pub fn lrelu_gain(x: Tensor<4>) -> Tensor<4> {
    burn::tensor::activation::leaky_relu(x, 0.2).mul_scalar(std::f64::consts::SQRT_2)
}

#[derive(Module, Debug)]
pub struct EqLinear {
    /// [in, out], N(0, 1/lr_mul²).
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
    pub scale: f64,
    pub lr_mul: f64,
}

impl EqLinear {
    /// `bias_init` is the bias's starting value (1 for a modulation's style, so layers start
    /// unmodulated).
    pub fn new(d_in: usize, d_out: usize, lr_mul: f64, bias_init: f64, device: &Device) -> Self {
        Self {
            weight: normal(1.0 / lr_mul).init([d_in, d_out], device),
            bias: Initializer::Constant {
                value: bias_init / lr_mul,
            }
            .init([d_out], device),
            scale: lr_mul / (d_in as f64).sqrt(),
            lr_mul,
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [_, d_out] = self.weight.dims();
        x.matmul(self.weight.val().mul_scalar(self.scale))
            + self.bias.val().mul_scalar(self.lr_mul).reshape([1, d_out])
    }
}

#[derive(Module, Debug)]
pub struct EqConv2d {
    /// [out, in, k, k], N(0, 1).
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub scale: f64,
}

impl EqConv2d {
    pub fn new(c_in: usize, c_out: usize, k: usize, bias: bool, device: &Device) -> Self {
        Self {
            weight: normal(1.0).init([c_out, c_in, k, k], device),
            bias: bias.then(|| Initializer::Zeros.init([c_out], device)),
            scale: 1.0 / ((c_in * k * k) as f64).sqrt(),
        }
    }

    /// Stride 1, "same" padding.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, k, _] = self.weight.dims();
        conv2d(
            x,
            self.weight.val().mul_scalar(self.scale),
            self.bias.as_ref().map(|b| b.val()),
            ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
        )
    }
}

/// StyleGAN2's modulated convolution: a per-sample style `s` (an affine map of `w`) scales
/// the weight's input channels, and demodulation rescales each output channel to unit
/// expected variance: w'ᵢⱼₖ = sᵢ·wᵢⱼₖ / √(Σᵢₖ (sᵢ·wᵢⱼₖ)² + ε).
///
/// Computed without per-sample weights (StyleGAN2's non-fused form): scale the input by
/// `s`, convolve with the shared weight, multiply the output by the demodulation factor.
/// The same numbers as a grouped convolution with the modulated weight (tested), at the
/// cost of one ordinary convolution.
#[derive(Module, Debug)]
pub struct ModConv2d {
    pub affine: EqLinear,
    pub conv: EqConv2d,
    pub demodulate: bool,
}

impl ModConv2d {
    pub fn new(
        w_dim: usize,
        c_in: usize,
        c_out: usize,
        k: usize,
        demodulate: bool,
        device: &Device,
    ) -> Self {
        Self {
            affine: EqLinear::new(w_dim, c_in, 1.0, 1.0, device),
            conv: EqConv2d::new(c_in, c_out, k, false, device),
            demodulate,
        }
    }

    /// The per-sample style [N, in] for latent `w` [N, w_dim].
    pub fn style(&self, w: Tensor<2>) -> Tensor<2> {
        self.affine.forward(w)
    }

    /// `x` [N, in, H, W] modulated by `w` [N, w_dim] → [N, out, H, W].
    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>) -> Tensor<4> {
        let [n, c_in, _, _] = x.dims();
        let s = self.style(w);
        let y = self.conv.forward(x * s.clone().reshape([n, c_in, 1, 1]));
        if !self.demodulate {
            return y;
        }
        let [c_out, _, _, _] = self.conv.weight.dims();
        y * self.demodulation(s).reshape([n, c_out, 1, 1])
    }

    /// 1/√(Σᵢₖ (sᵢ·wᵢⱼₖ)² + 1e-8) per sample and output channel, [N, out].
    fn demodulation(&self, s: Tensor<2>) -> Tensor<2> {
        let [c_out, c_in, _, _] = self.conv.weight.dims();
        let w_sq = self
            .conv
            .weight
            .val()
            .mul_scalar(self.conv.scale)
            .powf_scalar(2.0)
            .sum_dims(&[2, 3])
            .reshape([c_out, c_in]);
        s.powf_scalar(2.0)
            .matmul(w_sq.transpose())
            .add_scalar(1e-8)
            .sqrt()
            .recip()
    }

    /// The per-sample weights [N, out, in, k, k] that [`Self::forward`] applies, built
    /// explicitly (for tests and for reading the layer, not for speed).
    pub fn modulated_weights(&self, w: Tensor<2>) -> Tensor<5> {
        let [c_out, c_in, k, _] = self.conv.weight.dims();
        let s = self.style(w);
        let [n, _] = s.dims();
        let base = self
            .conv
            .weight
            .val()
            .mul_scalar(self.conv.scale)
            .reshape([1, c_out, c_in, k, k]);
        let mut weights = base * s.clone().reshape([n, 1, c_in, 1, 1]);
        if self.demodulate {
            weights = weights * self.demodulation(s).reshape([n, c_out, 1, 1, 1]);
        }
        weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulated_conv_equals_a_plain_conv_with_the_modulated_demodulated_weight() {
        let dev = Device::flex();
        dev.seed(7);
        for demodulate in [true, false] {
            let layer = ModConv2d::new(6, 3, 5, 3, demodulate, &dev);
            // Random styles and biases so the test is not at the initial identity.
            let layer = ModConv2d {
                affine: EqLinear {
                    bias: Param::from_tensor(Tensor::random(
                        [3],
                        burn::tensor::Distribution::Normal(1.0, 0.5),
                        &dev,
                    )),
                    ..layer.affine
                },
                ..layer
            };
            let x = Tensor::<4>::random([2, 3, 7, 6], burn::tensor::Distribution::Default, &dev);
            let w = Tensor::<2>::random([2, 6], burn::tensor::Distribution::Normal(0.0, 1.0), &dev);
            let fast = layer.forward(x.clone(), w.clone());
            let weights = layer.modulated_weights(w);
            for i in 0..2 {
                let wi = weights.clone().slice(s![i..i + 1]).reshape([5, 3, 3, 3]);
                let xi = x.clone().slice(s![i..i + 1]);
                let plain = conv2d(xi, wi, None, ConvOptions::new([1, 1], [1, 1], [1, 1], 1));
                let got = fast.clone().slice(s![i..i + 1]);
                let err: f32 = (got - plain.clone()).abs().max().into_scalar();
                let scale: f32 = plain.abs().max().into_scalar();
                assert!(scale > 0.1, "degenerate case");
                assert!(err < 1e-4 * scale.max(1.0), "sample {i}: max error {err}");
            }
            if demodulate {
                // Demodulated weights have unit norm per output channel.
                let norms = weights
                    .powf_scalar(2.0)
                    .sum_dims(&[2, 3, 4])
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
                assert!(norms.iter().all(|v| (v - 1.0).abs() < 1e-3), "{norms:?}");
            }
        }
    }

    #[test]
    fn equalised_layers_scale_by_fan_in() {
        let dev = Device::flex();
        let lin = EqLinear::new(400, 8, 0.01, 0.0, &dev);
        // The effective weight is N(0, 1/400) whatever lr_mul is.
        let eff = lin.weight.val().mul_scalar(lin.scale);
        let var: f32 = eff.powf_scalar(2.0).mean().into_scalar();
        assert!((var * 400.0 - 1.0).abs() < 0.2, "{var}");
    }
}
