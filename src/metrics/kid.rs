//! Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD² between two
//! feature sets with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over
//! random subsets (mean and standard deviation reported).

use crate::error::{AtelierError, Result};
use crate::util::rng::SeededRng;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Kid {
    pub mean: f64,
    pub std: f64,
    pub subsets: usize,
    pub subset_size: usize,
}

fn kernel(a: &[f32], b: &[f32], d: f64) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    (dot / d + 1.0).powi(3)
}

/// Unbiased MMD² of two equally sized sets of rows.
fn mmd2(x: &[&[f32]], y: &[&[f32]], d: f64) -> f64 {
    let m = x.len() as f64;
    let mut kxx = 0.0;
    let mut kyy = 0.0;
    let mut kxy = 0.0;
    for i in 0..x.len() {
        for j in 0..x.len() {
            if i != j {
                kxx += kernel(x[i], x[j], d);
                kyy += kernel(y[i], y[j], d);
            }
            kxy += kernel(x[i], y[j], d);
        }
    }
    kxx / (m * (m - 1.0)) + kyy / (m * (m - 1.0)) - 2.0 * kxy / (m * m)
}

/// KID between feature sets `a` and `b` (rows of `dim`), over `subsets` random subsets
/// of `subset_size` rows each (capped at the smaller set's size).
pub fn kid(
    a: &[f32],
    b: &[f32],
    dim: usize,
    subsets: usize,
    subset_size: usize,
    seed: u64,
) -> Result<Kid> {
    let rows =
        |v: &'_ [f32]| -> Vec<Vec<f32>> { v.chunks_exact(dim).map(|c| c.to_vec()).collect() };
    let (ra, rb) = (rows(a), rows(b));
    let size = subset_size.min(ra.len()).min(rb.len());
    if size < 2 || subsets == 0 {
        return Err(AtelierError::Config(format!(
            "KID needs at least 2 feature vectors in each set (got {} and {})",
            ra.len(),
            rb.len()
        )));
    }
    let mut rng = SeededRng::new(seed);
    let d = dim as f64;
    let values: Vec<f64> = (0..subsets)
        .map(|_| {
            let mut ia: Vec<usize> = (0..ra.len()).collect();
            let mut ib: Vec<usize> = (0..rb.len()).collect();
            rng.shuffle(&mut ia);
            rng.shuffle(&mut ib);
            let x: Vec<&[f32]> = ia[..size].iter().map(|&i| ra[i].as_slice()).collect();
            let y: Vec<&[f32]> = ib[..size].iter().map(|&i| rb[i].as_slice()).collect();
            mmd2(&x, &y, d)
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    Ok(Kid {
        mean,
        std: var.sqrt(),
        subsets,
        subset_size: size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_distribution_is_near_zero_different_is_positive() {
        let dim = 8;
        let a = SeededRng::new(1).normal_vec(300 * dim);
        let b = SeededRng::new(2).normal_vec(300 * dim);
        let c: Vec<f32> = SeededRng::new(3)
            .normal_vec(300 * dim)
            .iter()
            .map(|v| v * 1.5 + 0.5)
            .collect();
        let same = kid(&a, &b, dim, 20, 100, 0).unwrap();
        let diff = kid(&a, &c, dim, 20, 100, 0).unwrap();
        assert!(same.mean.abs() < 3.0 * same.std.max(0.01), "{same:?}");
        assert!(
            diff.mean > 10.0 * same.mean.abs().max(0.01),
            "{diff:?} vs {same:?}"
        );
        assert!(diff.mean > 0.1);
    }

    #[test]
    fn mmd_matches_a_hand_computation() {
        // d = 1, x = {0, 1}, y = {1, 2}: k(a, b) = (ab + 1)^3.
        // kxx = 2 k(0,1) / 2 = 1; kyy = 2 k(1,2) / 2 = 27; kxy = (1 + 1 + 8 + 27) / 4 = 37/4.
        let x = [&[0.0f32][..], &[1.0]];
        let y = [&[1.0f32][..], &[2.0]];
        assert!((mmd2(&x, &y, 1.0) - (1.0 + 27.0 - 2.0 * 37.0 / 4.0)).abs() < 1e-12);
    }
}
