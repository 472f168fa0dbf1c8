//! The InceptionV3 feature extractor used by the standard FID (the TF "2015-12-05" graph):
//! every conv is conv (no bias) → batch norm (beta only, eps 1e-3, inference) → ReLU, and
//! the output is the 2048-d average pool before the classifier.
//!
//! The architecture is read from the shared spec (`inception-v3-fid.spec.json`: stages,
//! block branches in concatenation order, strides, paddings and pools), so the network is
//! exactly the one the weights were exported with. Inference only: batch norm is folded
//! into each convolution's weight and bias at load time.

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use serde::Deserialize;

use crate::error::{AtelierError, Result};
use crate::weights::tensor_file::view_to_f32;

const BN_EPS: f32 = 1e-3;
pub const FEATURE_DIM: usize = 2048;
pub const INPUT_SIZE: usize = 299;

#[derive(Deserialize, Debug, Clone)]
struct ConvSpec {
    weight_shape: [usize; 4],
    stride: usize,
    padding: Padding,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(untagged)]
enum Padding {
    Same(usize),
    Pair([usize; 2]),
}

impl Padding {
    fn pair(self) -> [usize; 2] {
        match self {
            Padding::Same(p) => [p, p],
            Padding::Pair(p) => p,
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
struct PoolSpec {
    kind: String,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    #[serde(default)]
    count_include_pad: bool,
}

#[derive(Deserialize, Debug)]
struct Spec {
    stages: Vec<String>,
    block_types: HashMap<String, String>,
    branches: HashMap<String, Vec<Vec<String>>>,
    convs: HashMap<String, ConvSpec>,
    pools: HashMap<String, PoolSpec>,
}

/// A conv with its batch norm folded in.
struct FoldedConv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    stride: usize,
    padding: [usize; 2],
}

pub struct InceptionFid {
    spec: Spec,
    convs: HashMap<String, FoldedConv>,
}

fn bad(path: &Path, reason: impl Into<String>) -> AtelierError {
    AtelierError::BadModel {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl InceptionFid {
    /// Load weights (safetensors, `<layer>.weight/.beta/.mean/.var`) and the spec.
    pub fn load(weights: &Path, spec: &Path, device: &Device) -> Result<Self> {
        let text = std::fs::read_to_string(spec).map_err(|e| bad(spec, e.to_string()))?;
        let spec_v: Spec = serde_json::from_str(&text)
            .map_err(|e| bad(spec, format!("not an Inception spec: {e}")))?;
        let bytes = std::fs::read(weights).map_err(|e| bad(weights, e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(weights, format!("not a safetensors file ({e})")))?;
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let view = st.tensor(name).map_err(|_| {
                bad(
                    weights,
                    format!("missing tensor '{name}': is this the InceptionV3 FID file?"),
                )
            })?;
            if view.shape() != shape {
                return Err(bad(
                    weights,
                    format!(
                        "tensor '{name}' has shape {:?}, expected {shape:?}",
                        view.shape()
                    ),
                ));
            }
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(
                    weights,
                    format!("tensor '{name}' is {:?}, expected F32", view.dtype()),
                ));
            }
            view_to_f32(&view).map_err(|d| bad(weights, format!("tensor '{name}' is {d:?}")))
        };
        let mut convs = HashMap::new();
        for (name, c) in &spec_v.convs {
            let [o, i, kh, kw] = c.weight_shape;
            let w = read(&format!("{name}.weight"), &c.weight_shape)?;
            let beta = read(&format!("{name}.beta"), &[o])?;
            let mean = read(&format!("{name}.mean"), &[o])?;
            let var = read(&format!("{name}.var"), &[o])?;
            let per = i * kh * kw;
            let mut wf = w;
            let mut bias = vec![0f32; o];
            for k in 0..o {
                let s = 1.0 / (var[k] + BN_EPS).sqrt();
                wf[k * per..(k + 1) * per].iter_mut().for_each(|v| *v *= s);
                bias[k] = beta[k] - mean[k] * s;
            }
            convs.insert(
                name.clone(),
                FoldedConv {
                    weight: Tensor::from_data(TensorData::new(wf, c.weight_shape), device),
                    bias: Tensor::from_data(TensorData::new(bias, [o]), device),
                    stride: c.stride,
                    padding: c.padding.pair(),
                },
            );
        }
        Ok(Self {
            spec: spec_v,
            convs,
        })
    }

    fn layer(&self, name: &str, x: Tensor<4>) -> Tensor<4> {
        if let Some(c) = self.convs.get(name) {
            let y = conv2d(
                x,
                c.weight.clone(),
                Some(c.bias.clone()),
                ConvOptions::new([c.stride; 2], c.padding, [1, 1], 1),
            );
            return relu(y);
        }
        let p = self
            .spec
            .pools
            .get(name)
            .unwrap_or_else(|| panic!("spec names layer '{name}' with no conv or pool entry"));
        if p.kind == "max" {
            max_pool2d(
                x,
                MaxPoolOptions::new(p.kernel)
                    .with_stride(p.stride)
                    .with_padding(p.padding),
            )
        } else {
            avg_pool2d(
                x,
                AvgPoolOptions::new(p.kernel)
                    .with_stride(p.stride)
                    .with_padding(p.padding)
                    .with_count_include_pad(p.count_include_pad),
            )
        }
    }

    /// 2048-d features of images already preprocessed to [N, 3, 299, 299] in [-1, 1).
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for stage in &self.spec.stages {
            h = match self.spec.block_types.get(stage) {
                None => self.layer(stage, h),
                Some(kind) => {
                    let branches = &self.spec.branches[kind];
                    // Branches that share a prefix compute it once.
                    let mut cache: HashMap<String, Tensor<4>> = HashMap::new();
                    let outs: Vec<Tensor<4>> = branches
                        .iter()
                        .map(|branch| {
                            let mut y = h.clone();
                            let mut key = String::new();
                            for layer in branch {
                                key.push('/');
                                key.push_str(layer);
                                y = match cache.get(&key) {
                                    Some(t) => t.clone(),
                                    None => {
                                        let t = self.layer(&format!("{stage}.{layer}"), y);
                                        cache.insert(key.clone(), t.clone());
                                        t
                                    }
                                };
                            }
                            y
                        })
                        .collect();
                    Tensor::cat(outs, 1)
                }
            };
        }
        let [n, c, _, _] = h.dims();
        h.reshape([n, c])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_parses_both_forms() {
        let a: ConvSpec =
            serde_json::from_str(r#"{"weight_shape":[1,1,1,7],"stride":1,"padding":[0,3]}"#)
                .unwrap();
        assert_eq!(a.padding.pair(), [0, 3]);
        let b: ConvSpec =
            serde_json::from_str(r#"{"weight_shape":[1,1,3,3],"stride":2,"padding":1}"#).unwrap();
        assert_eq!(b.padding.pair(), [1, 1]);
    }
}
