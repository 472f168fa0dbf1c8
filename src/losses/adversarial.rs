//! GAN objectives on raw discriminator scores (logits), and gradient penalties.
//!
//! With D(x) = sigmoid(s):
//! - `minimax`: D maximises E[log D(x)] + E[log(1 - D(G(z)))]; G minimises E[log(1 - D(G(z)))].
//! - `ns` (non-saturating): same D; G maximises E[log D(G(z))] instead.
//! - `lsgan`: D minimises ½E[(s_r - 1)²] + ½E[s_f²]; G minimises ½E[(s_f - 1)²].
//! - `hinge`: D minimises E[relu(1 - s_r)] + E[relu(1 + s_f)]; G minimises -E[s_f].
//! - `wgan` (use with the gradient penalty, `wgan-gp`): D minimises E[s_f] - E[s_r]; G -E[s_f].
//!
//! log(sigmoid(s)) = -softplus(-s) and log(1 - sigmoid(s)) = -softplus(s) keep the BCE
//! forms stable for large |s|.

use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    Minimax,
    Ns,
    Lsgan,
    Hinge,
    /// Wasserstein loss with gradient penalty (weight 10 unless set).
    WganGp,
}

/// The discriminator's loss, a scalar tensor [1].
pub fn d_loss(kind: GanLoss, real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    match kind {
        GanLoss::Minimax | GanLoss::Ns => {
            softplus(real.neg(), 1.0).mean() + softplus(fake, 1.0).mean()
        }
        GanLoss::Lsgan => {
            real.sub_scalar(1.0).powf_scalar(2.0).mean().mul_scalar(0.5)
                + fake.powf_scalar(2.0).mean().mul_scalar(0.5)
        }
        GanLoss::Hinge => {
            relu(real.neg().add_scalar(1.0)).mean() + relu(fake.add_scalar(1.0)).mean()
        }
        GanLoss::WganGp => fake.mean() - real.mean(),
    }
}

/// The generator's loss on D's scores for generated samples, a scalar tensor [1].
pub fn g_loss(kind: GanLoss, fake: Tensor<1>) -> Tensor<1> {
    match kind {
        GanLoss::Minimax => softplus(fake, 1.0).mean().neg(),
        GanLoss::Ns => softplus(fake.neg(), 1.0).mean(),
        GanLoss::Lsgan => fake.sub_scalar(1.0).powf_scalar(2.0).mean().mul_scalar(0.5),
        GanLoss::Hinge | GanLoss::WganGp => fake.mean().neg(),
    }
}

/// The mean score D gave, for logging: a probability for the BCE losses, the raw score
/// otherwise. Detached.
pub fn mean_score(kind: GanLoss, scores: Tensor<1>) -> Tensor<1> {
    match kind {
        GanLoss::Minimax | GanLoss::Ns => burn::tensor::activation::sigmoid(scores).mean().detach(),
        _ => scores.mean().detach(),
    }
}

/// Squared input-gradient norm of a critic, estimated per sample with central finite
/// differences along `dirs` random Gaussian directions:
///     (D(x + εv) - D(x - εv)) / 2ε ≈ ∇D(x)·v,   E_v[(∇D·v)²] = ‖∇D(x)‖².
///
/// Burn's autodiff is first-order only, so the usual double-backward penalty is not
/// available; this estimator needs only first-order gradients (through D's parameters) and
/// is unbiased up to O(ε²). `noise` holds `dirs` direction batches shaped like `x`.
pub fn grad_norm_sq(
    critic: impl Fn(Tensor<4>) -> Tensor<1>,
    x: Tensor<4>,
    noise: &[Tensor<4>],
    eps: f64,
) -> Tensor<1> {
    let mut acc: Option<Tensor<1>> = None;
    for v in noise {
        let d = (critic(x.clone() + v.clone().mul_scalar(eps))
            - critic(x.clone() - v.clone().mul_scalar(eps)))
        .div_scalar(2.0 * eps);
        let sq = d.powf_scalar(2.0);
        acc = Some(match acc {
            Some(a) => a + sq,
            None => sq,
        });
    }
    acc.expect("at least one direction")
        .div_scalar(noise.len() as f64)
}

/// R1 penalty (Mescheder et al. 2018): γ/2 · E[‖∇D(x_real)‖²].
pub fn r1_penalty(sq_norms: Tensor<1>, gamma: f64) -> Tensor<1> {
    sq_norms.mean().mul_scalar(gamma * 0.5)
}

/// WGAN-GP penalty (Gulrajani et al. 2017): λ · E[(‖∇D(x̂)‖ - 1)²] on interpolates x̂.
pub fn gradient_penalty(sq_norms: Tensor<1>, lambda: f64) -> Tensor<1> {
    sq_norms
        .add_scalar(1e-12)
        .sqrt()
        .sub_scalar(1.0)
        .powf_scalar(2.0)
        .mean()
        .mul_scalar(lambda)
}

/// Diversity term for the generator, to minimise: λ · mean(max(0, τ - ratio)), where per
/// pair (i, i + N/2) of a batch whose two halves share their conditions, ratio =
/// mean|P(G(z₁)) - P(G(z₂))| / mean|z₁ - z₂| and P average-pools the images to 16×16.
/// A conditional G that ignores z (one image per class) has ratio 0 and is pushed apart.
/// Two departures from MSGAN's λ/ratio (Mao et al. 2019), both measured on KaoKore: the
/// ceiling τ (as DSGAN, Yang et al. 2019) stops the push once a pair is τ apart, where
/// λ/ratio drove images to saturated colours; and pooling, since pixel distances are
/// raised cheapest by high-frequency noise (what an unpooled DCGAN drew).
pub fn diversity_loss(fake: Tensor<4>, z: Tensor<2>, lambda: f64, ceiling: f64) -> Tensor<1> {
    let [n, _, side, _] = fake.dims();
    let half = n / 2;
    assert!(half > 0, "the diversity term needs at least two samples");
    let k = (side / 16).max(1);
    let pooled = avg_pool2d(fake, AvgPoolOptions::new([k, k]).with_stride([k, k]));
    let image_gap = (pooled.clone().narrow(0, 0, half) - pooled.narrow(0, half, half))
        .abs()
        .mean_dims(&[1, 2, 3])
        .reshape([half]);
    let z_gap = (z.clone().narrow(0, 0, half) - z.narrow(0, half, half))
        .abs()
        .mean_dim(1)
        .reshape([half]);
    relu((image_gap / z_gap).neg().add_scalar(ceiling))
        .mean()
        .mul_scalar(lambda)
}

/// Conditions for a diversity batch: the first half's labels twice (and the last label
/// for an odd batch), so each pair (i, i + N/2) shares its class.
pub fn paired_labels(labels: Tensor<1, Int>) -> Tensor<1, Int> {
    let n = labels.dims()[0];
    let half = n / 2;
    let first = labels.clone().narrow(0, 0, half);
    let mut parts = vec![first.clone(), first];
    if n % 2 == 1 {
        parts.push(labels.narrow(0, n - 1, 1));
    }
    Tensor::cat(parts, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Device::flex())
    }
    fn val(x: Tensor<1>) -> f64 {
        x.into_scalar::<f32>() as f64
    }
    fn sp(x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }

    #[test]
    fn losses_match_closed_forms() {
        let r = [0.5f32, -1.0];
        let f = [2.0f32, 0.0];
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        // BCE: -log sigmoid(r) - log(1 - sigmoid(f))
        let bce = ((sp(-0.5) + sp(1.0)) / 2.0) + ((sp(2.0) + sp(0.0)) / 2.0);
        close(val(d_loss(GanLoss::Minimax, t(&r), t(&f))), bce);
        close(val(d_loss(GanLoss::Ns, t(&r), t(&f))), bce);
        close(
            val(g_loss(GanLoss::Minimax, t(&f))),
            -(sp(2.0) + sp(0.0)) / 2.0,
        );
        close(val(g_loss(GanLoss::Ns, t(&f))), (sp(-2.0) + sp(0.0)) / 2.0);
        close(
            val(d_loss(GanLoss::Lsgan, t(&r), t(&f))),
            0.5 * ((0.25 + 4.0) / 2.0) + 0.5 * ((4.0 + 0.0) / 2.0),
        );
        close(
            val(g_loss(GanLoss::Lsgan, t(&f))),
            0.5 * ((1.0 + 1.0) / 2.0),
        );
        close(
            val(d_loss(GanLoss::Hinge, t(&r), t(&f))),
            (0.5 + 2.0) / 2.0 + (3.0 + 1.0) / 2.0,
        );
        close(val(g_loss(GanLoss::Hinge, t(&f))), -1.0);
        close(val(d_loss(GanLoss::WganGp, t(&r), t(&f))), 1.0 - (-0.25));
        // At the optimum D(x) = 1/2 everywhere, minimax D loss is 2 log 2.
        close(
            val(d_loss(GanLoss::Minimax, t(&[0.0]), t(&[0.0]))),
            2.0 * 2f64.ln(),
        );
    }

    #[test]
    fn finite_difference_gradient_norm_matches_linear_critic() {
        // D(x) = sum(w * x) has ∇D = w everywhere: ‖w‖² = 1 + 4 + 9 + 16 = 30.
        let dev = Device::flex();
        let w = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &dev,
        );
        let critic = |x: Tensor<4>| (x * w.clone()).sum_dims(&[1, 2, 3]).reshape([1]);
        let x = Tensor::<4>::zeros([1, 1, 2, 2], &dev);
        // Seeded directions: the estimate is random, and an unseeded draw fails now and then.
        let mut rng = crate::util::rng::SeededRng::new(7);
        let dirs: Vec<_> = (0..400)
            .map(|_| Tensor::<4>::from_data(TensorData::new(rng.normal_vec(4), [1, 1, 2, 2]), &dev))
            .collect();
        let est = val(grad_norm_sq(critic, x, &dirs, 1e-2));
        assert!((est - 30.0).abs() < 6.0, "estimate {est}");
        close_pen();
    }

    fn close_pen() {
        let v = val(gradient_penalty(t(&[4.0, 1.0]), 10.0));
        assert!((v - 10.0 * (1.0 + 0.0) / 2.0).abs() < 1e-4);
        let r = val(r1_penalty(t(&[2.0, 4.0]), 10.0));
        assert!((r - 15.0).abs() < 1e-5);
    }

    #[test]
    fn diversity_pushes_apart_only_pairs_closer_than_the_ceiling() {
        let dev = Device::flex().autodiff();
        let z = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 0.0, 0.0, 1.0, -1.0, 1.0, -1.0], [4, 2]),
            &dev,
        );
        // Pairs (0, 2) and (1, 3); |z₁ - z₂| averages 1 for each.
        // Pair (0, 2) differs by 0.1 everywhere (ratio 0.1), pair (1, 3) by 0.5 (ratio 0.5).
        let mut v = vec![0.0f32; 4 * 32 * 32];
        v[2 * 1024..3 * 1024].fill(0.1);
        v[3 * 1024..].fill(-0.5);
        let fake = Tensor::<4>::from_data(TensorData::new(v, [4, 1, 32, 32]), &dev);
        let loss = |lambda, ceiling| val(diversity_loss(fake.clone(), z.clone(), lambda, ceiling));
        // Ceiling 0.3: only the first pair is short, by 0.2; averaged over the two pairs.
        assert!((loss(2.0, 0.3) - 2.0 * 0.2 / 2.0).abs() < 1e-5);
        assert!(loss(2.0, 0.05).abs() < 1e-7);
        // The gradient moves the close pair apart and leaves the far one alone.
        let fake = fake.require_grad();
        let l = diversity_loss(fake.clone(), z, 1.0, 0.3);
        let g = fake
            .grad(&l.backward())
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(g[0] > 0.0 && g[2 * 1024] < 0.0, "{} {}", g[0], g[2 * 1024]);
        assert_eq!(g[1024], 0.0);
        assert_eq!(g[3 * 1024], 0.0);
    }

    #[test]
    fn paired_labels_repeat_the_first_half() {
        let dev = Device::flex();
        let l = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 1, 4, 1, 5], [5]), &dev);
        let p = paired_labels(l)
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(p, vec![3, 1, 3, 1, 5]);
    }
}
