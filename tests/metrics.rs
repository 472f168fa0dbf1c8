//! The InceptionV3 FID network reproduces the reference features shipped with the weights.

mod common;

use atelier::models::inception::{FEATURE_DIM, InceptionFid};
use burn::prelude::*;

#[test]
fn inception_matches_golden_features() {
    let Some(w) = common::shared_data("weights") else {
        return;
    };
    let device = Device::flex();
    let net = InceptionFid::load(
        &w.join("inception-v3-fid.safetensors"),
        &w.join("inception-v3-fid.spec.json"),
        &device,
    )
    .unwrap();
    let bytes = std::fs::read(w.join("inception-v3-fid.golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let input = Tensor::<4>::from_data(TensorData::new(f32s("input"), [2, 3, 299, 299]), &device);
    let expect = f32s("features");
    let got: Vec<f32> = net.features(input).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(got.len(), 2 * FEATURE_DIM);
    let max = got
        .iter()
        .zip(&expect)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max < 1e-4,
        "max |difference| from the golden features: {max}"
    );
}

#[test]
fn eval_fid_of_a_folder_with_itself_is_zero_and_differs_from_another() {
    let Some(w) = common::shared_data("weights") else {
        return;
    };
    let Some(k) = common::shared_data("paintings/kaokore/train") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, class) in [(&a, "female-noble"), (&b, "male-warrior")] {
        std::fs::create_dir_all(dir).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(k.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files.iter().take(4) {
            std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let run = |real: &std::path::Path, fake: &std::path::Path| -> f64 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(["eval", "fid", "--json", "--real"])
            .arg(real)
            .arg("--fake")
            .arg(fake)
            .arg("--inception")
            .arg(w.join("inception-v3-fid.safetensors"))
            .env("ATELIER_CACHE", tmp.path().join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["value"].as_f64().unwrap()
    };
    let same = run(&a, &a);
    let other = run(&a, &b);
    assert!(same < 1e-3, "FID of a folder with itself: {same}");
    assert!(other > 10.0, "FID between two classes: {other}");
    // The real folder's statistics were cached.
    assert!(
        tmp.path()
            .join("cache/fid-stats")
            .read_dir()
            .unwrap()
            .count()
            >= 1
    );
}
