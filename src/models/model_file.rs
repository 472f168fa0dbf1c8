//! The shipped-model file format: one safetensors file, weights in f16 (half the size,
//! no visible loss for a generator), and metadata saying what network it holds, its config,
//! its class names and the command that trained it. Any safetensors reader can open it.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;
use crate::weights::tensor_file::{StoreAs, encode_safetensors, view_to_f32};

const KIND_KEY: &str = "atelier.kind";
const CONFIG_KEY: &str = "atelier.config";
const CLASSES_KEY: &str = "atelier.classes";
const COMMAND_KEY: &str = "atelier.trained_with";

/// What a model file holds besides the weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    pub kind: String,
    pub config_json: String,
    pub classes: Vec<String>,
    pub trained_with: Option<String>,
}

/// Named float tensors of a module, in visiting order, with dotted paths.
pub fn named_tensors<M: Module>(module: &M) -> Vec<(String, TensorData)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, TensorData)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), param.val().to_data()));
        }
    }
    let mut c = Collect {
        path: vec![],
        out: vec![],
    };
    module.visit(&mut c);
    c.out
}

/// Replace every float parameter of `module` by the tensor of the same path.
/// Fails (listing names) on missing tensors, unused tensors or shape mismatches.
pub fn load_named_tensors<M: Module>(
    module: M,
    mut tensors: HashMap<String, TensorData>,
    device: &Device,
) -> std::result::Result<M, String> {
    struct Apply<'a> {
        path: Vec<String>,
        tensors: &'a mut HashMap<String, TensorData>,
        device: Device,
        errors: Vec<String>,
    }
    impl ModuleMapper for Apply<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let name = self.path.join(".");
            let expected = param.shape().dims::<D>().to_vec();
            match self.tensors.remove(&name) {
                None => {
                    self.errors.push(format!("missing tensor '{name}'"));
                    param
                }
                Some(data) if data.shape().to_vec() != expected => {
                    self.errors.push(format!(
                        "tensor '{name}' has shape {:?}, the network needs {:?}",
                        data.shape(),
                        expected
                    ));
                    param
                }
                Some(data) => {
                    let t = Tensor::<D>::from_data(data.convert::<f32>(), &self.device);
                    // Keep a trainable parameter trainable: a loaded network can be
                    // fine-tuned (`train style --fine-tune`).
                    param.map(|old| {
                        if old.is_require_grad() {
                            t.require_grad()
                        } else {
                            t
                        }
                    })
                }
            }
        }
    }
    let mut apply = Apply {
        path: vec![],
        tensors: &mut tensors,
        device: device.clone(),
        errors: vec![],
    };
    let module = module.map(&mut apply);
    let mut errors = apply.errors;
    let mut unused: Vec<_> = tensors.keys().cloned().collect();
    unused.sort();
    if !unused.is_empty() {
        errors.push(format!(
            "tensors the network does not have: {}",
            unused.join(", ")
        ));
    }
    if errors.is_empty() {
        Ok(module)
    } else {
        Err(errors.join("; "))
    }
}

/// Refuse, before any weight is allocated, a file whose metadata describes a network of
/// another size than its tensors hold (crafted or mismatched settings), so that settings
/// claiming a huge network cannot make the loader allocate it. `net` is lazily initialised.
fn check_param_count<M: Module>(
    net: &M,
    tensors: &HashMap<String, TensorData>,
) -> std::result::Result<(), String> {
    let in_file: u64 = tensors
        .values()
        .map(|t| t.shape().iter().product::<usize>() as u64)
        .sum();
    let described = crate::models::budget::param_count(net);
    if described != in_file {
        return Err(format!(
            "its settings describe a network of {described} parameters, but the file holds \
             {in_file} values: the settings and the weights do not belong together"
        ));
    }
    Ok(())
}

fn bad_model(path: &Path, reason: String) -> AtelierError {
    AtelierError::BadModel {
        path: path.to_path_buf(),
        reason,
    }
}

/// Where a model shipped with Atelier is: the file `env` names when set, else `file` in this
/// source tree's `models/`.
pub fn shipped_model_path(env: &str, file: &str) -> std::path::PathBuf {
    std::env::var_os(env)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models")
                .join(file)
        })
}

/// Open a model file that must hold a `kind` network: its metadata and tensors, with a clear
/// error for a missing file or one of another kind (`needs` says what does make one).
pub fn open_model(
    path: &Path,
    kind: &str,
    needs: &str,
) -> Result<(ModelMeta, HashMap<String, TensorData>)> {
    if !path.exists() {
        return Err(bad_model(path, "no such file".into()));
    }
    let (meta, tensors) = read_model(path)?;
    if meta.kind != kind {
        return Err(bad_model(
            path,
            format!("holds a '{}', not a '{kind}'; {needs}", meta.kind),
        ));
    }
    Ok((meta, tensors))
}

/// Load a file's tensors into `net` (built lazily from the file's settings), after checking
/// that the settings describe as many parameters as the file holds.
pub fn load_into<M: Module>(
    net: M,
    tensors: HashMap<String, TensorData>,
    device: &Device,
    path: &Path,
) -> Result<M> {
    check_param_count(&net, &tensors).map_err(|e| bad_model(path, e))?;
    load_named_tensors(net, tensors, device).map_err(|e| bad_model(path, e))
}

/// Save `module` with `meta` as f16 safetensors, atomically.
pub fn save_model<M: Module>(module: &M, meta: &ModelMeta, path: &Path) -> Result<()> {
    let mut md = HashMap::new();
    md.insert(KIND_KEY.to_string(), meta.kind.clone());
    md.insert(CONFIG_KEY.to_string(), meta.config_json.clone());
    md.insert(
        CLASSES_KEY.to_string(),
        serde_json::to_string(&meta.classes).expect("strings serialise"),
    );
    if let Some(cmd) = &meta.trained_with {
        md.insert(COMMAND_KEY.to_string(), cmd.clone());
    }
    let bytes =
        encode_safetensors(&named_tensors(module), StoreAs::F16, Some(md)).map_err(|reason| {
            AtelierError::Write {
                path: path.to_path_buf(),
                reason,
            }
        })?;
    write_atomic(path, &bytes)
}

/// The kind a model file records, read from its header alone (the weights stay on disk).
pub fn model_kind(path: &Path) -> Result<String> {
    use std::io::Read;
    let bad = |reason: String| bad_model(path, reason);
    let mut f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| bad("too short to be a safetensors file".into()))?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 {
        return Err(bad("not a safetensors model file (header length)".into()));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|_| bad("truncated safetensors header".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("not a safetensors model file ({e})")))?;
    v.get("__metadata__")
        .and_then(|m| m.get(KIND_KEY))
        .and_then(|k| k.as_str())
        .map(str::to_string)
        .ok_or_else(|| bad("no 'atelier.kind' metadata: not an Atelier model file".into()))
}

/// Read a model file's metadata and tensors (as f32).
pub fn read_model(path: &Path) -> Result<(ModelMeta, HashMap<String, TensorData>)> {
    let bad = |reason: String| AtelierError::BadModel {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a safetensors model file ({e})")))?;
    let md = header.metadata().clone().unwrap_or_default();
    let kind = md
        .get(KIND_KEY)
        .cloned()
        .ok_or_else(|| bad("no 'atelier.kind' metadata: not an Atelier model file".into()))?;
    let classes: Vec<String> = match md.get(CLASSES_KEY) {
        Some(s) => serde_json::from_str(s).map_err(|e| bad(format!("bad class list: {e}")))?,
        None => vec![],
    };
    let meta = ModelMeta {
        kind,
        config_json: md.get(CONFIG_KEY).cloned().unwrap_or_default(),
        classes,
        trained_with: md.get(COMMAND_KEY).cloned(),
    };
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let values = view_to_f32(&view)
            .map_err(|other| bad(format!("tensor '{name}' has unsupported dtype {other:?}")))?;
        if let Some(bad_value) = values.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor '{name}' holds {bad_value}: the weights are damaged (a diverged or \
                 corrupted model); it would only produce blank images"
            )));
        }
        tensors.insert(name, TensorData::new(values, shape));
    }
    Ok((meta, tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::DcganGeneratorConfig;

    #[test]
    fn f16_round_trip_and_wrong_shape_is_reported() {
        let dev = Device::flex();
        let cfg = DcganGeneratorConfig::new(32).with_width(4).with_z_dim(8);
        let g = cfg.init(&dev);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.safetensors");
        let meta = ModelMeta {
            kind: "dcgan-generator".into(),
            config_json: "{}".into(),
            classes: vec!["a".into()],
            trained_with: Some("atelier train gan".into()),
        };
        save_model(&g, &meta, &p).unwrap();
        let (m2, tensors) = read_model(&p).unwrap();
        assert_eq!(m2, meta);
        let fresh = cfg.init(&dev);
        let loaded = load_named_tensors(fresh, tensors.clone(), &dev).unwrap();
        let z = Tensor::<2>::ones([1, 8], &dev);
        let a: Vec<f32> = g
            .forward(z.clone(), None)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b: Vec<f32> = loaded
            .forward(z, None)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(max < 2e-3, "f16 error {max}");

        let wider = DcganGeneratorConfig::new(32)
            .with_width(8)
            .with_z_dim(8)
            .init(&dev);
        let err = load_named_tensors(wider, tensors, &dev).unwrap_err();
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn a_network_loaded_for_training_is_trainable() {
        let cfg = DcganGeneratorConfig::new(32).with_width(4).with_z_dim(8);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.safetensors");
        let meta = ModelMeta {
            kind: "dcgan-generator".into(),
            config_json: "{}".into(),
            classes: vec![],
            trained_with: None,
        };
        save_model(&cfg.init(&Device::flex()), &meta, &p).unwrap();
        let dev = Device::flex().autodiff();
        let (_, tensors) = read_model(&p).unwrap();
        let g = load_named_tensors(cfg.init(&dev), tensors, &dev).unwrap();
        let z = Tensor::<2>::ones([2, 8], &dev);
        let grads = g.forward(z, None).powf_scalar(2.0).sum().backward();
        let mut with_grad = 0;
        let mut params = 0;
        g.visit(&mut GradCount {
            grads: &grads,
            with_grad: &mut with_grad,
            params: &mut params,
        });
        assert!(params > 0);
        assert_eq!(with_grad, params, "every loaded parameter gets a gradient");
    }

    struct GradCount<'a> {
        grads: &'a burn::tensor::Gradients,
        with_grad: &'a mut usize,
        params: &'a mut usize,
    }
    impl ModuleVisitor for GradCount<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            *self.params += 1;
            if param.val().grad(self.grads).is_some() {
                *self.with_grad += 1;
            }
        }
    }

    #[test]
    fn non_model_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.safetensors");
        std::fs::write(&p, b"hello").unwrap();
        assert!(
            read_model(&p)
                .unwrap_err()
                .to_string()
                .contains("not a safetensors")
        );
    }
}
