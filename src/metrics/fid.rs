//! Fréchet Inception Distance (Heusel et al. 2017) between two sets of features:
//!     FID = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁ Σ₂)^½)
//! computed in f64. Tr((Σ₁Σ₂)^½) is taken as the sum of square roots of the eigenvalues of
//! the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (same spectrum as Σ₁Σ₂), which avoids the
//! non-symmetric matrix square root that makes the usual scipy implementation unstable.

use faer::{Mat, Side};
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};

/// Mean and covariance of a feature set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FeatureStats {
    pub n: usize,
    pub dim: usize,
    pub mean: Vec<f64>,
    /// Row-major dim x dim, unbiased (n - 1).
    pub cov: Vec<f64>,
}

impl FeatureStats {
    /// `features`: n rows of `dim` values.
    pub fn from_features(features: &[f32], dim: usize) -> Result<Self> {
        let n = features.len() / dim.max(1);
        if features.len() != n * dim {
            return Err(AtelierError::Config(format!(
                "feature data holds {} values, not a whole number of {dim}-value vectors",
                features.len()
            )));
        }
        if n < 2 {
            return Err(AtelierError::Config(format!(
                "FID needs at least 2 images in each set (a covariance of one image is \
                 undefined), got {n}"
            )));
        }
        let mut mean = vec![0f64; dim];
        for row in features.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred = Mat::<f64>::from_fn(n, dim, |i, j| features[i * dim + j] as f64 - mean[j]);
        let cov = centred.transpose() * &centred;
        let scale = 1.0 / (n as f64 - 1.0);
        Ok(Self {
            n,
            dim,
            mean,
            cov: (0..dim * dim)
                .map(|k| cov[(k / dim, k % dim)] * scale)
                .collect(),
        })
    }

    fn cov_matrix(&self) -> Mat<f64> {
        let d = self.dim;
        Mat::from_fn(d, d, |i, j| self.cov[i * d + j])
    }
}

fn trace(m: &Mat<f64>) -> f64 {
    (0..m.nrows()).map(|i| m[(i, i)]).sum()
}

fn symmetrise(m: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
}

fn eig_err(e: impl std::fmt::Debug) -> AtelierError {
    AtelierError::Config(format!("eigendecomposition failed: {e:?}"))
}

/// Symmetric PSD square root by eigendecomposition (negative eigenvalues from rounding
/// are clamped to zero).
fn sqrt_psd(m: &Mat<f64>) -> Result<Mat<f64>> {
    let eig = symmetrise(m)
        .self_adjoint_eigen(Side::Lower)
        .map_err(eig_err)?;
    let (u, s) = (eig.U(), eig.S().column_vector());
    let n = m.nrows();
    let ud = Mat::from_fn(n, n, |i, j| u[(i, j)] * s[j].max(0.0).sqrt());
    Ok(&ud * u.transpose())
}

/// The Fréchet distance between two Gaussians fitted to feature sets.
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    if a.dim != b.dim {
        return Err(AtelierError::Config(format!(
            "feature sizes differ: {} vs {}",
            a.dim, b.dim
        )));
    }
    let mu: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let (s1, s2) = (a.cov_matrix(), b.cov_matrix());
    let r1 = sqrt_psd(&s1)?;
    let inner = symmetrise(&(&r1 * &s2 * &r1));
    let tr_sqrt: f64 = inner
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(eig_err)?
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    let fid = mu + trace(&s1) + trace(&s2) - 2.0 * tr_sqrt;
    Ok(fid.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SeededRng;

    fn gaussian(n: usize, dim: usize, shift: f32, scale: f32, seed: u64) -> Vec<f32> {
        SeededRng::new(seed)
            .normal_vec(n * dim)
            .into_iter()
            .enumerate()
            .map(|(i, v)| v * scale * (1.0 + (i % dim) as f32 * 0.1) + shift)
            .collect()
    }

    #[test]
    fn closed_form_for_diagonal_gaussians() {
        // Exact stats: N(0, diag(1, 4)) vs N((1, 0), diag(4, 1)):
        // |mu|^2 = 1; traces 5 + 5; Tr sqrt(S1 S2) = sqrt(4) + sqrt(4) = 4 -> FID = 1 + 10 - 8 = 3.
        let a = FeatureStats {
            n: 10,
            dim: 2,
            mean: vec![0.0, 0.0],
            cov: vec![1.0, 0.0, 0.0, 4.0],
        };
        let b = FeatureStats {
            n: 10,
            dim: 2,
            mean: vec![1.0, 0.0],
            cov: vec![4.0, 0.0, 0.0, 1.0],
        };
        assert!((frechet_distance(&a, &b).unwrap() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_set_with_itself_is_zero_and_noise_grows_it() {
        let dim = 12;
        let x = gaussian(400, dim, 0.0, 1.0, 1);
        let s = FeatureStats::from_features(&x, dim).unwrap();
        assert!(frechet_distance(&s, &s).unwrap() < 1e-8);
        let noise = SeededRng::new(2).normal_vec(x.len());
        let mut last = 0.0;
        for level in [0.1f32, 0.3, 0.6, 1.0, 2.0] {
            let y: Vec<f32> = x.iter().zip(&noise).map(|(a, n)| a + level * n).collect();
            let f = frechet_distance(&s, &FeatureStats::from_features(&y, dim).unwrap()).unwrap();
            assert!(f > last, "FID {f} at noise {level} not above {last}");
            last = f;
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(FeatureStats::from_features(&[1.0, 2.0, 3.0], 2).is_err());
        // One image: the message counts images, not values.
        let one = FeatureStats::from_features(&[1.0, 2.0], 2).unwrap_err();
        assert!(one.to_string().contains("at least 2 images"), "{one}");
        assert!(one.to_string().contains("got 1"), "{one}");
        let a = FeatureStats::from_features(&gaussian(10, 2, 0.0, 1.0, 1), 2).unwrap();
        let b = FeatureStats::from_features(&gaussian(10, 3, 0.0, 1.0, 1), 3).unwrap();
        assert!(frechet_distance(&a, &b).is_err());
    }
}
