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
