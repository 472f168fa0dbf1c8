//! Reading named tensors from a weights file, whichever format it is in: safetensors, or a
//! PyTorch `.pth`/`.pt` state dict (through burn-store's PyTorch reader, so no Python is
//! needed). Values come back as f32 whatever the stored float type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::pytorch_reader::{DType as PtDType, PytorchReader};

use crate::error::{AtelierError, Result};

enum Format {
    Safetensors(Vec<u8>),
    Pytorch(PytorchReader),
}

/// An open weights file: names and shapes are known, values are read on request.
pub struct TensorFile {
    path: PathBuf,
    format: Format,
    shapes: BTreeMap<String, Vec<usize>>,
}

fn bad(path: &Path, reason: impl Into<String>) -> AtelierError {
    AtelierError::BadModel {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn f32s_from(bytes: &[u8], width: usize, convert: impl Fn(&[u8]) -> f32) -> Vec<f32> {
    bytes.chunks_exact(width).map(convert).collect()
}

/// Little-endian f32 bytes to values (safetensors' and our caches' byte order).
pub fn f32s_le(bytes: &[u8]) -> Vec<f32> {
    f32s_from(bytes, 4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// A safetensors tensor's values as f32, whichever float type stores them (F32, F16,
/// BF16); the stored type back when it is not a float. The one decoder of safetensors
/// values in the crate (model files, checkpoints, pretrained weights).
pub fn view_to_f32(
    view: &safetensors::tensor::TensorView<'_>,
) -> std::result::Result<Vec<f32>, safetensors::Dtype> {
    use safetensors::Dtype as D;
    Ok(match view.dtype() {
        D::F32 => f32s_le(view.data()),
        D::F16 => f32s_from(view.data(), 2, |c| {
            half::f16::from_le_bytes([c[0], c[1]]).to_f32()
        }),
        D::BF16 => f32s_from(view.data(), 2, |c| {
            half::bf16::from_le_bytes([c[0], c[1]]).to_f32()
        }),
        other => return Err(other),
    })
}

/// How [`encode_safetensors`] stores float values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreAs {
    /// Lossless (checkpoints, test weights).
    F32,
    /// Half the size (shipped model files).
    F16,
}

/// Named float tensors as safetensors bytes, values stored as `store`, with optional
/// metadata. The one safetensors encoder in the crate (model files, checkpoints, test
/// weights), as [`view_to_f32`] is the one decoder.
pub fn encode_safetensors(
    tensors: &[(String, burn::tensor::TensorData)],
    store: StoreAs,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> std::result::Result<Vec<u8>, String> {
    let mut bufs = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        let values = data
            .clone()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format!("tensor '{name}': {e:?}"))?;
        let bytes: Vec<u8> = match store {
            StoreAs::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoreAs::F16 => values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        };
        bufs.push((name, data.shape().to_vec(), bytes));
    }
    let dtype = match store {
        StoreAs::F32 => safetensors::Dtype::F32,
        StoreAs::F16 => safetensors::Dtype::F16,
    };
    let views = bufs
        .iter()
        .map(|(n, s, b)| {
            let view = safetensors::tensor::TensorView::new(dtype, s.clone(), b)
                .map_err(|e| e.to_string())?;
            Ok((n.as_str(), view))
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    safetensors::serialize(views, metadata).map_err(|e| e.to_string())
}

impl TensorFile {
    /// Open `path`, telling the format from its first bytes: a ZIP (`PK`) or pickle (0x80)
    /// start is a PyTorch file, anything else must be safetensors.
    pub fn open(path: &Path) -> Result<Self> {
        // Only the first bytes decide; a PyTorch file is then read by its own reader.
        let mut head = [0u8; 2];
        let n = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| bad(path, e.to_string()))?;
        let is_torch = n >= 1 && (head == *b"PK" || head[0] == 0x80);
        if is_torch {
            let reader = PytorchReader::new(path)
                .or_else(|_| PytorchReader::with_top_level_key(path, "state_dict"))
                .map_err(|e| bad(path, format!("not a readable PyTorch state dict ({e})")))?;
            let shapes = reader
                .tensors()
                .iter()
                .map(|(k, t)| (k.clone(), t.shape().to_vec()))
                .collect();
            return Ok(Self {
                path: path.to_path_buf(),
                format: Format::Pytorch(reader),
                shapes,
            });
        }
        let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
        let shapes = {
            let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
                bad(
                    path,
                    format!("neither a safetensors file nor a PyTorch state dict ({e})"),
                )
            })?;
            st.tensors()
                .into_iter()
                .map(|(k, v)| (k, v.shape().to_vec()))
                .collect()
        };
        Ok(Self {
            path: path.to_path_buf(),
            format: Format::Safetensors(bytes),
            shapes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape of tensor `name`, if the file has it.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.shapes.get(name).map(Vec::as_slice)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.shapes.keys().map(String::as_str)
    }

    /// Tensor `name` as f32 values, checked against `shape`.
    pub fn read_f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let found = self
            .shape(name)
            .ok_or_else(|| bad(&self.path, format!("missing tensor '{name}'")))?;
        if found != shape {
            return Err(bad(
                &self.path,
                format!("tensor '{name}' has shape {found:?}, expected {shape:?}"),
            ));
        }
        let unsupported = |dtype: &dyn std::fmt::Debug| {
            bad(
                &self.path,
                format!("tensor '{name}' is {dtype:?}, expected a float type"),
            )
        };
        match &self.format {
            Format::Safetensors(bytes) => {
                let st = safetensors::SafeTensors::deserialize(bytes)
                    .map_err(|e| bad(&self.path, e.to_string()))?;
                let view = st
                    .tensor(name)
                    .map_err(|e| bad(&self.path, e.to_string()))?;
                view_to_f32(&view).map_err(|other| unsupported(&other))
            }
            Format::Pytorch(reader) => {
                let t = reader
                    .get(name)
                    .ok_or_else(|| bad(&self.path, format!("missing tensor '{name}'")))?;
                let data = t.read().map_err(|e| bad(&self.path, e.to_string()))?;
                // The reader returns native-endian bytes.
                Ok(match t.dtype() {
                    PtDType::F32 => {
                        f32s_from(&data, 4, |c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    }
                    PtDType::F64 => f32s_from(&data, 8, |c| {
                        f64::from_ne_bytes(c.try_into().expect("8 bytes")) as f32
                    }),
                    PtDType::F16 => f32s_from(&data, 2, |c| {
                        half::f16::from_ne_bytes([c[0], c[1]]).to_f32()
                    }),
                    PtDType::BF16 => f32s_from(&data, 2, |c| {
                        half::bf16::from_ne_bytes([c[0], c[1]]).to_f32()
                    }),
                    other => return Err(unsupported(&other)),
                })
            }
        }
    }
}
