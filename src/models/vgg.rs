//! VGG feature extractors (Simonyan & Zisserman 2015), VGG16 and VGG19, in torchvision's
//! layout (`features.N.weight/bias`), for perceptual and Gram-matrix style losses, LPIPS and
//! encoders.
//!
//! One type serves both networks: the file says which it holds (their `features.N`
//! indices part after conv3_3). A file may hold only the first convolutions (the shared
//! truncated VGG19 stops at conv3_4); the extractor knows which layers it has, and a
//! request for a deeper one fails with a message naming the file, the layer and the layers
//! available. A request runs the network only as deep as its deepest layer.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::weights::TensorFile;

/// Output channels per block (both networks).
const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];
/// ImageNet statistics of torchvision's preprocessing; inputs are RGB in [0, 1].
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Which VGG: they differ in convolutions per block (a 2x2 pool follows each block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VggArch {
    Vgg16,
    Vgg19,
}

impl VggArch {
    pub const fn blocks(self) -> [usize; 5] {
        match self {
            VggArch::Vgg16 => [2, 2, 3, 3, 3],
            VggArch::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    pub fn n_convs(self) -> usize {
        self.blocks().iter().sum()
    }

    pub fn name(self) -> &'static str {
        match self {
            VggArch::Vgg16 => "VGG16",
            VggArch::Vgg19 => "VGG19",
        }
    }

    /// (block, index in block) of conv `i`, both from 0.
    pub fn block_of(self, i: usize) -> (usize, usize) {
        let mut start = 0;
        for (b, &n) in self.blocks().iter().enumerate() {
            if i < start + n {
                return (b, i - start);
            }
            start += n;
        }
        unreachable!("conv index {i} out of range")
    }

    /// The conv index of `layer` in this network, if it has that layer.
    pub fn conv_index(self, layer: VggLayer) -> Option<usize> {
        let blocks = self.blocks();
        (layer.index < blocks[layer.block])
            .then(|| blocks[..layer.block].iter().sum::<usize>() + layer.index)
    }

    /// The layer of conv `i` (before or after its ReLU).
    fn layer(self, i: usize, relu: bool) -> VggLayer {
        let (block, index) = self.block_of(i);
        VggLayer { block, index, relu }
    }

    /// Position of conv `i` in torchvision's `features` sequence (conv, relu, ..., pool).
    fn feature_index(self, i: usize) -> usize {
        let (b, k) = self.block_of(i);
        let before: usize = self.blocks()[..b].iter().map(|n| 2 * n + 1).sum();
        before + 2 * k
    }

    fn weight_name(self, i: usize) -> String {
        format!("features.{}.weight", self.feature_index(i))
    }

    pub fn conv_shape(self, i: usize) -> [usize; 4] {
        let (b, k) = self.block_of(i);
        let out = WIDTHS[b];
        let inp = match (b, k) {
            (0, 0) => 3,
            (b, 0) => WIDTHS[b - 1],
            _ => out,
        };
        [out, inp, 3, 3]
    }

    /// Floats of activation one image of `w` x `h` produces up to and including `deepest`
    /// (each conv's output and its ReLU's), for estimating working memory. A layer this
    /// network lacks counts as the end of its block.
    pub fn activation_floats(self, deepest: VggLayer, w: u32, h: u32) -> u64 {
        let blocks = self.blocks();
        let last = blocks[..deepest.block].iter().sum::<usize>()
            + deepest.index.min(blocks[deepest.block] - 1);
        (0..=last)
            .map(|i| {
                let b = self.block_of(i).0;
                let px = (w as u64 >> b) * (h as u64 >> b);
                2 * self.conv_shape(i)[0] as u64 * px
            })
            .sum()
    }
}

/// A named layer: `conv3_1` (before its ReLU) or `relu3_1` (after). Names are the same in
/// VGG16 and VGG19; whether a network has a layer is [`VggArch::conv_index`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VggLayer {
    /// Block 0..5 (the number of poolings before the layer).
    pub block: usize,
    /// Conv in its block, from 0.
    pub index: usize,
    pub relu: bool,
}

impl VggLayer {
    /// The block (0-based) this layer is in, which is also the number of poolings before it.
    pub fn block(&self) -> usize {
        self.block
    }

    /// `reluB_K`, numbered from 1 as in the names.
    pub const fn relu(block: usize, k: usize) -> Self {
        Self {
            block: block - 1,
            index: k - 1,
            relu: true,
        }
    }
}

impl fmt::Display for VggLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.relu { "relu" } else { "conv" };
        write!(f, "{kind}{}_{}", self.block + 1, self.index + 1)
    }
}

impl FromStr for VggLayer {
    type Err = AtelierError;
    fn from_str(s: &str) -> Result<Self> {
        let err = || {
            AtelierError::Config(format!(
                "'{s}' is not a VGG layer; use names like relu1_1, conv4_2 (blocks 1-5; \
                 2, 2, 3, 3, 3 convs per block in VGG16, 2, 2, 4, 4, 4 in VGG19)"
            ))
        };
        let (relu, rest) = if let Some(r) = s.strip_prefix("relu") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("conv") {
            (false, r)
        } else {
            return Err(err());
        };
        let (b, k) = rest.split_once('_').ok_or_else(err)?;
        let b: usize = b.parse().map_err(|_| err())?;
        let k: usize = k.parse().map_err(|_| err())?;
        let max = VggArch::Vgg19.blocks();
        if !(1..=5).contains(&b) || !(1..=max[b - 1]).contains(&k) {
            return Err(err());
        }
        Ok(Self {
            block: b - 1,
            index: k - 1,
            relu,
        })
    }
}

/// Parse a comma-separated layer list.
pub fn parse_layers(list: &str) -> Result<Vec<VggLayer>> {
    list.split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<Vec<_>>>()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    #[default]
    Max,
    /// Gatys et al. found average pooling gives slightly smoother results.
    Avg,
}

/// How convolutions see past the image border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Border {
    #[default]
    Zero,
    /// Wrap around: the network sees the image as a torus, so what it optimises tiles.
    Circular,
}

#[derive(Config, Debug)]
pub struct VggConfig {
    #[config(default = "Pooling::Max")]
    pub pooling: Pooling,
    #[config(default = "Border::Zero")]
    pub border: Border,
}

/// The convolutions the weights file holds, in order.
#[derive(Module, Debug)]
pub struct VggConvs {
    pub convs: Vec<Conv2d>,
}

#[derive(Debug)]
pub struct Vgg {
    pub net: VggConvs,
    pub config: VggConfig,
    /// The network the file holds (a prefix of it).
    pub arch: VggArch,
    source: PathBuf,
}

/// Wrap-around padding by one pixel on each side (slices and concatenation, so gradients
/// flow through it).
fn pad_circular(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let x = Tensor::cat(
        vec![
            x.clone().slice(s![.., .., h - 1..h, ..]),
            x.clone(),
            x.slice(s![.., .., 0..1, ..]),
        ],
        2,
    );
    Tensor::cat(
        vec![
            x.clone().slice(s![.., .., .., w - 1..w]),
            x.clone(),
            x.slice(s![.., .., .., 0..1]),
        ],
        3,
    )
}

/// Which network a file holds and how many of its convolutions, in order from conv1_1.
/// The two share names up to conv3_3: the network is the one whose names run further (a
/// file of 7 convs or fewer is the same in both; it is called VGG19).
fn detect(file: &TensorFile) -> (VggArch, usize) {
    let present_in = |arch: VggArch| {
        (0..arch.n_convs())
            .take_while(|&i| file.shape(&arch.weight_name(i)).is_some())
            .count()
    };
    let (n16, n19) = (present_in(VggArch::Vgg16), present_in(VggArch::Vgg19));
    if n16 > n19 {
        (VggArch::Vgg16, n16)
    } else {
        (VggArch::Vgg19, n19)
    }
}

/// The network in a weights file and how many convolutions it holds, from its tensor names
/// (nothing is converted): how the weights manager picks the deepest file found.
pub fn probe(path: &Path) -> Result<(VggArch, usize)> {
    Ok(detect(&TensorFile::open(path)?))
}

impl VggConfig {
    /// Load the convolutions from a torchvision-layout file (safetensors or `.pth`, f32 or
    /// f16) holding VGG16 or VGG19. The file may stop early, but the layers it has must be a
    /// prefix of the network with the right shapes.
    pub fn load(&self, path: &Path, device: &Device) -> Result<Vgg> {
        let file = TensorFile::open(path)?;
        let bad = |reason: String| AtelierError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        let (arch, present) = detect(&file);
        if present == 0 {
            return Err(bad(
                "no VGG convolutions in it (expected torchvision names features.0.weight, \
                 features.2.weight, ...)"
                    .into(),
            ));
        }
        if let Some(i) =
            (present..arch.n_convs()).find(|&i| file.shape(&arch.weight_name(i)).is_some())
        {
            return Err(bad(format!(
                "it holds {} but not {}: a {} file must hold the layers in order",
                arch.layer(i, false),
                arch.layer(present, false),
                arch.name()
            )));
        }
        let mut convs = Vec::with_capacity(present);
        for i in 0..present {
            let shape = arch.conv_shape(i);
            let w = file.read_f32(&arch.weight_name(i), &shape)?;
            let bias = format!("features.{}.bias", arch.feature_index(i));
            let b = file.read_f32(&bias, &shape[..1])?;
            // Zero init: the file's values replace it at once, so drawing random ones
            // (20M numbers for the full network) would be wasted.
            let mut conv = Conv2dConfig::new([shape[1], shape[0]], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(Initializer::Zeros)
                .init(device);
            conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, shape), device));
            conv.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [shape[0]]),
                device,
            )));
            convs.push(conv);
        }
        // A fixed feature extractor: gradients flow to the input, never to the weights.
        let net = VggConvs { convs }.no_grad();
        Ok(Vgg {
            net,
            config: self.clone(),
            arch,
            source: path.to_path_buf(),
        })
    }
}

impl Vgg {
    /// Layers this file can produce (conv and relu of each conv it holds).
    pub fn available(&self) -> Vec<VggLayer> {
        (0..self.net.convs.len())
            .flat_map(|i| [self.arch.layer(i, false), self.arch.layer(i, true)])
            .collect()
    }

    /// The conv index of `layer` if this file holds it.
    fn conv_index(&self, layer: VggLayer) -> Option<usize> {
        self.arch
            .conv_index(layer)
            .filter(|&i| i < self.net.convs.len())
    }

    pub fn has(&self, layer: VggLayer) -> bool {
        self.conv_index(layer).is_some()
    }

    /// Whether the file holds the whole network (conv5_3 of VGG16, conv5_4 of VGG19).
    pub fn is_full(&self) -> bool {
        self.net.convs.len() == self.arch.n_convs()
    }

    /// The device the weights live on (load on an autodiff device to optimise images).
    pub fn device(&self) -> Device {
        self.net.convs[0].weight.val().device()
    }

    /// The same network for inference off the autodiff graph (sample sheets in training).
    pub fn valid(&self) -> Vgg {
        Vgg {
            net: self.net.clone().valid(),
            config: self.config.clone(),
            arch: self.arch,
            source: self.source.clone(),
        }
    }

    /// VGG16 or VGG19.
    pub fn arch(&self) -> VggArch {
        self.arch
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Fail with a clear message unless every layer in `layers` is available.
    pub fn check(&self, layers: &[VggLayer]) -> Result<()> {
        let Some(l) = layers.iter().find(|l| !self.has(**l)) else {
            return Ok(());
        };
        let name = self.arch.name();
        let listed = self
            .available()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = if self.arch.conv_index(*l).is_none() {
            format!(
                "layer {l} was requested but {name} has no such layer (its blocks hold {:?} \
                 convs); this file's layers: {listed}",
                self.arch.blocks()
            )
        } else {
            format!(
                "layer {l} was requested but this {name} file stops at {}; its layers: \
                 {listed}. Use a full VGG16 or VGG19 (--vgg or ATELIER_VGG; downloaded from \
                 the hub when online) or choose layers from that list",
                self.arch.layer(self.net.convs.len() - 1, true),
            )
        };
        Err(AtelierError::BadModel {
            path: self.source.clone(),
            reason,
        })
    }

    /// ImageNet normalisation of RGB in [0, 1].
    fn normalize(x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let mean = Tensor::<1>::from_floats(MEAN, &device).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_floats(STD, &device).reshape([1, 3, 1, 1]);
        (x - mean) / std
    }

    /// Activations at `layers` (any order, repeats allowed) for images [N, 3, H, W] in
    /// [0, 1]. Runs only as deep as the deepest layer requested.
    pub fn features(&self, x: Tensor<4>, layers: &[VggLayer]) -> Result<Vec<Tensor<4>>> {
        self.check(layers)?;
        let index: Vec<usize> = layers
            .iter()
            .map(|l| self.conv_index(*l).expect("checked"))
            .collect();
        let Some(&deepest) = index.iter().max() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Option<Tensor<4>>> = vec![None; layers.len()];
        let mut h = Self::normalize(x);
        for (i, conv) in self.net.convs.iter().enumerate().take(deepest + 1) {
            let (b, k) = self.arch.block_of(i);
            if k == 0 && b > 0 {
                h = self.pool(h);
            }
            let pre = match self.config.border {
                Border::Zero => conv.forward(h),
                Border::Circular => conv2d(
                    pad_circular(h),
                    conv.weight.val(),
                    conv.bias.as_ref().map(|b| b.val()),
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                ),
            };
            for ((slot, l), &at) in out.iter_mut().zip(layers).zip(&index) {
                if at == i && !l.relu {
                    *slot = Some(pre.clone());
                }
            }
            h = relu(pre);
            for ((slot, l), &at) in out.iter_mut().zip(layers).zip(&index) {
                if at == i && l.relu {
                    *slot = Some(h.clone());
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|t| t.expect("every layer visited"))
            .collect())
    }

    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        match self.config.pooling {
            Pooling::Max => max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2])),
            Pooling::Avg => avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2])),
        }
    }
}

/// A VGG19 file holding the first `n_convs` convolutions with seeded random weights (He
/// scale), for tests that must not depend on downloaded weights.
#[doc(hidden)]
pub fn write_random_vgg(path: &Path, n_convs: usize, seed: u64) {
    write_random_vgg_of(VggArch::Vgg19, path, n_convs, seed)
}

/// [`write_random_vgg`] for either network.
#[doc(hidden)]
pub fn write_random_vgg_of(arch: VggArch, path: &Path, n_convs: usize, seed: u64) {
    let mut rng = crate::util::rng::SeededRng::new(seed);
    let mut tensors = Vec::new();
    for i in 0..n_convs {
        let shape = arch.conv_shape(i);
        let fan_in = (shape[1] * 9) as f32;
        let w: Vec<f32> = rng
            .normal_vec(shape.iter().product())
            .into_iter()
            .map(|v| v * (2.0 / fan_in).sqrt())
            .collect();
        let b: Vec<f32> = rng
            .normal_vec(shape[0])
            .into_iter()
            .map(|v| v * 0.01)
            .collect();
        let at = arch.feature_index(i);
        tensors.push((format!("features.{at}.weight"), TensorData::new(w, shape)));
        tensors.push((
            format!("features.{at}.bias"),
            TensorData::new(b, [shape[0]]),
        ));
    }
    let bytes = crate::weights::tensor_file::encode_safetensors(
        &tensors,
        crate::weights::tensor_file::StoreAs::F32,
        None,
    )
    .expect("test weights encode");
    std::fs::write(path, bytes).expect("write test weights");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_file_knows_its_layers_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vgg.safetensors");
        write_random_vgg(&path, 3, 1);
        let vgg = VggConfig::new().load(&path, &Device::flex()).unwrap();
        assert_eq!(vgg.net.convs.len(), 3);
        assert!(vgg.has("relu2_1".parse().unwrap()) && !vgg.is_full());
        let x = Tensor::<4>::zeros([1, 3, 16, 16], &Device::flex());
        let f = vgg
            .features(
                x.clone(),
                &["relu2_1".parse().unwrap(), "conv1_1".parse().unwrap()],
            )
            .unwrap();
        assert_eq!(f[0].dims(), [1, 128, 8, 8]);
        assert_eq!(f[1].dims(), [1, 64, 16, 16]);
        let err = vgg
            .features(x, &["relu4_1".parse().unwrap()])
            .unwrap_err()
            .to_string();
        for part in ["relu4_1", "vgg.safetensors", "relu2_1", "conv1_2"] {
            assert!(err.contains(part), "'{part}' missing from: {err}");
        }
    }

    #[test]
    fn runs_only_as_deep_as_asked_and_pools_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vgg.safetensors");
        write_random_vgg(&path, 3, 2);
        let d = Device::flex();
        let mut vgg = VggConfig::new().load(&path, &d).unwrap();
        // Poison conv2_1: a request that stops before it must not touch it.
        let shape = VggArch::Vgg19.conv_shape(2);
        vgg.net.convs[2].weight = Param::from_tensor(Tensor::full(shape, f32::NAN, &d));
        let x = Tensor::<4>::random([1, 3, 8, 8], burn::tensor::Distribution::Default, &d);
        let finite = |layer: &str| {
            let f = vgg.features(x.clone(), &[layer.parse().unwrap()]).unwrap();
            !f[0].clone().is_nan().any().into_scalar::<bool>()
        };
        assert!(finite("relu1_2"), "conv2_1 ran for a block-1 request");
        assert!(!finite("relu2_1"));

        // Average pooling: conv2_1's input is the 2x2 mean of relu1_2, max pooling its max.
        let pool_in = |pooling: Pooling| {
            let v = VggConfig::new()
                .with_pooling(pooling)
                .load(&path, &d)
                .unwrap();
            let relu = v
                .features(x.clone(), &["relu1_2".parse().unwrap()])
                .unwrap();
            v.pool(relu[0].clone())
        };
        let relu12 = vgg
            .features(x.clone(), &["relu1_2".parse().unwrap()])
            .unwrap()[0]
            .clone();
        let by_hand = relu12.clone().reshape([1, 64, 4, 2, 4, 2]);
        let mean = by_hand
            .clone()
            .mean_dim(5)
            .mean_dim(3)
            .reshape([1, 64, 4, 4]);
        let max = by_hand.max_dim(5).max_dim(3).reshape([1, 64, 4, 4]);
        let close = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>() < 1e-5;
        assert!(close(pool_in(Pooling::Avg), mean));
        assert!(close(pool_in(Pooling::Max), max));
    }

    #[test]
    fn loads_a_pytorch_state_dict() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vgg19-conv1_1-pattern.pth");
        let file = TensorFile::open(&path).unwrap();
        let w = file.read_f32("features.0.weight", &[64, 3, 3, 3]).unwrap();
        assert!(
            w.iter()
                .enumerate()
                .all(|(i, &v)| (v - ((i % 17) as f32 / 17.0 - 0.5)).abs() < 1e-6)
        );
        let vgg = VggConfig::new().load(&path, &Device::flex()).unwrap();
        assert_eq!(vgg.net.convs.len(), 1);
        let b = vgg.net.convs[0]
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(b[..6], [0.0, 0.1, 0.2, 0.3, 0.4, 0.0]);
        // Wrong shape for the layer it claims to be.
        let err = file
            .read_f32("features.0.weight", &[64, 3, 5, 5])
            .unwrap_err()
            .to_string();
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn files_that_are_not_vgg19_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, b"definitely not weights").unwrap();
        let err = VggConfig::new()
            .load(&junk, &Device::flex())
            .unwrap_err()
            .to_string();
        assert!(err.contains("junk.safetensors"), "{err}");
        // A file with the wrong tensors.
        let other = dir.path().join("other.safetensors");
        let data = vec![0u8; 16];
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4], &data).unwrap();
        safetensors::serialize_to_file(vec![("fc.weight", view)], None, &other).unwrap();
        let err = VggConfig::new()
            .load(&other, &Device::flex())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no VGG convolutions"), "{err}");
    }

    #[test]
    fn layer_names_round_trip_and_map_to_torchvision_indices() {
        for arch in [VggArch::Vgg16, VggArch::Vgg19] {
            for i in 0..arch.n_convs() {
                for relu in [false, true] {
                    let l = arch.layer(i, relu);
                    assert_eq!(l.to_string().parse::<VggLayer>().unwrap(), l);
                    assert_eq!(arch.conv_index(l), Some(i));
                }
            }
        }
        let idx = |arch: VggArch, s: &str| {
            arch.conv_index(s.parse().unwrap())
                .map(|i| arch.feature_index(i))
        };
        let v19 = VggArch::Vgg19;
        assert_eq!(idx(v19, "conv1_1"), Some(0));
        assert_eq!(idx(v19, "conv2_1"), Some(5));
        assert_eq!(idx(v19, "conv3_4"), Some(16));
        assert_eq!(idx(v19, "conv4_1"), Some(19));
        assert_eq!(idx(v19, "conv4_2"), Some(21));
        assert_eq!(idx(v19, "conv5_1"), Some(28));
        assert_eq!(idx(v19, "conv5_4"), Some(34));
        // torchvision's VGG16: features.17 is conv4_1, features.28 conv5_3.
        let v16 = VggArch::Vgg16;
        assert_eq!(idx(v16, "conv3_3"), Some(14));
        assert_eq!(idx(v16, "conv4_1"), Some(17));
        assert_eq!(idx(v16, "relu4_3"), Some(21));
        assert_eq!(idx(v16, "conv5_3"), Some(28));
        assert_eq!(idx(v16, "conv3_4"), None);
        assert_eq!(VggLayer::relu(4, 2), "relu4_2".parse().unwrap());
        assert!("relu2_3".parse::<VggLayer>().is_err());
        assert!("pool1".parse::<VggLayer>().is_err());
        assert_eq!(v19.conv_shape(8), [512, 256, 3, 3]);
        assert_eq!(v16.conv_shape(7), [512, 256, 3, 3]);
    }

    #[test]
    fn vgg16_files_are_told_from_vgg19_and_name_what_they_lack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vgg16.safetensors");
        write_random_vgg_of(VggArch::Vgg16, &path, 9, 4);
        let vgg = VggConfig::new().load(&path, &Device::flex()).unwrap();
        assert_eq!(vgg.arch, VggArch::Vgg16);
        assert_eq!(vgg.net.convs.len(), 9);
        assert!(vgg.has("relu4_2".parse().unwrap()) && !vgg.has("relu4_3".parse().unwrap()));
        let x = Tensor::<4>::zeros([1, 3, 32, 32], &Device::flex());
        let f = vgg
            .features(x.clone(), &["relu4_2".parse().unwrap()])
            .unwrap();
        assert_eq!(f[0].dims(), [1, 512, 4, 4]);
        // A layer VGG16 does not have at all, and one this file stops before.
        let err = vgg
            .check(&["relu3_4".parse().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("VGG16 has no such layer"), "{err}");
        let err = vgg
            .check(&["relu5_1".parse().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("stops at relu4_2"), "{err}");
        // A VGG19 prefix past conv3_3 is VGG19.
        let p19 = dir.path().join("vgg19.safetensors");
        write_random_vgg(&p19, 8, 5);
        let v19 = VggConfig::new().load(&p19, &Device::flex()).unwrap();
        assert_eq!(v19.arch, VggArch::Vgg19);
        let err = v19
            .check(&["relu4_2".parse().unwrap()])
            .unwrap_err()
            .to_string();
        for part in [
            "relu4_2",
            "vgg19.safetensors",
            "stops at relu3_4",
            "relu3_4",
        ] {
            assert!(err.contains(part), "'{part}' missing from: {err}");
        }
        // Memory estimates follow the network: VGG16 has fewer convs to relu4_3.
        let deep = VggLayer::relu(4, 3);
        assert!(
            VggArch::Vgg16.activation_floats(deep, 64, 64)
                < VggArch::Vgg19.activation_floats(deep, 64, 64)
        );
    }

    #[test]
    fn circular_padding_wraps() {
        let d = Device::flex();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &d).reshape([1, 1, 2, 2]);
        let p = pad_circular(x).into_data().try_to_vec::<f32>().unwrap();
        // Rows: [4 3 4 3], [2 1 2 1], [4 3 4 3], [2 1 2 1].
        assert_eq!(
            p,
            vec![
                4., 3., 4., 3., 2., 1., 2., 1., 4., 3., 4., 3., 2., 1., 2., 1.
            ]
        );
    }
}
