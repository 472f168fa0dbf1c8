//! Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
//! search, over an f32 vector with f64 accumulation.
//!
//! Burn has no L-BFGS, and Gatys-style image optimisation converges far faster with it than
//! with Adam. The objective runs on any device; only the vectors live on the host, which
//! costs little next to a VGG forward and backward pass.

use std::collections::VecDeque;

use super::{Objective, Step, VectorOptimizer};
use crate::error::{AtelierError, Result};

#[derive(Clone, Debug)]
pub struct LbfgsConfig {
    /// Curvature pairs kept.
    pub history: usize,
    /// Step halvings tried before giving up on an iteration.
    pub max_backtracks: usize,
    /// Armijo sufficient-decrease constant.
    pub c1: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            history: 10,
            max_backtracks: 20,
            c1: 1e-4,
        }
    }
}

pub struct Lbfgs {
    cfg: LbfgsConfig,
    x: Vec<f32>,
    loss: f64,
    grad: Vec<f32>,
    s: VecDeque<Vec<f32>>,
    y: VecDeque<Vec<f32>>,
    rho: VecDeque<f64>,
    pub evaluations: usize,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn axpy(alpha: f64, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += (alpha * xi as f64) as f32;
    }
}

pub(crate) fn check_finite(loss: f64, grad: &[f32]) -> Result<()> {
    if !loss.is_finite() || grad.iter().any(|g| !g.is_finite()) {
        // Only what every image optimisation has; stylize adds its own ways out.
        return Err(AtelierError::OptimisationDiverged {
            loss,
            grad_finite: grad.iter().all(|g| g.is_finite()),
            hint: "lower --style-weight, or --lr with --optimizer adam".into(),
        });
    }
    Ok(())
}

impl Lbfgs {
    /// Start at `x0`; evaluates the objective once.
    pub fn new(cfg: LbfgsConfig, x0: Vec<f32>, f: &mut Objective) -> Result<Self> {
        let (loss, grad) = f(&x0)?;
        check_finite(loss, &grad)?;
        Ok(Self {
            cfg,
            x: x0,
            loss,
            grad,
            s: VecDeque::new(),
            y: VecDeque::new(),
            rho: VecDeque::new(),
            evaluations: 1,
        })
    }

    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The two-loop recursion: −H·g.
    fn direction(&self) -> Vec<f32> {
        let mut q = self.grad.clone();
        let k = self.s.len();
        let mut alpha = vec![0f64; k];
        for i in (0..k).rev() {
            alpha[i] = self.rho[i] * dot(&self.s[i], &q);
            axpy(-alpha[i], &self.y[i], &mut q);
        }
        // Initial Hessian scale γ = sᵀy / yᵀy of the newest pair.
        let gamma = match (self.s.back(), self.y.back()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y).max(1e-300),
            _ => 1.0,
        };
        q.iter_mut().for_each(|v| *v = (*v as f64 * gamma) as f32);
        for (i, a) in alpha.iter().enumerate() {
            let beta = self.rho[i] * dot(&self.y[i], &q);
            axpy(a - beta, &self.s[i], &mut q);
        }
        q.iter_mut().for_each(|v| *v = -*v);
        q
    }

    fn forget(&mut self) {
        self.s.clear();
        self.y.clear();
        self.rho.clear();
    }
}

impl VectorOptimizer for Lbfgs {
    fn x(&self) -> &[f32] {
        &self.x
    }

    /// One iteration: search direction, line search, history update.
    fn step(&mut self, f: &mut Objective) -> Result<Step> {
        let mut d = self.direction();
        let mut slope = dot(&self.grad, &d);
        if slope >= 0.0 || self.s.is_empty() {
            // No usable curvature yet (or it went bad): steepest descent, first step scaled
            // so its L1 length is 1 as in PyTorch's L-BFGS.
            self.forget();
            let l1: f64 = self.grad.iter().map(|g| g.abs() as f64).sum();
            let scale = 1.0 / l1.max(1e-12);
            d = self
                .grad
                .iter()
                .map(|&g| (-(g as f64) * scale) as f32)
                .collect();
            slope = dot(&self.grad, &d);
        }
        if slope >= 0.0 {
            return Ok(Step::Stalled);
        }
        let mut t = 1.0f64;
        for _ in 0..=self.cfg.max_backtracks {
            let mut x_new = self.x.clone();
            axpy(t, &d, &mut x_new);
            let (loss, grad) = f(&x_new)?;
            self.evaluations += 1;
            if loss.is_finite() && loss <= self.loss + self.cfg.c1 * t * slope {
                check_finite(loss, &grad)?;
                let s: Vec<f32> = x_new.iter().zip(&self.x).map(|(a, b)| a - b).collect();
                let y: Vec<f32> = grad.iter().zip(&self.grad).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                // Keep only pairs with positive curvature, so H stays positive definite.
                if sy > 1e-10 {
                    if self.s.len() == self.cfg.history {
                        self.s.pop_front();
                        self.y.pop_front();
                        self.rho.pop_front();
                    }
                    self.s.push_back(s);
                    self.y.push_back(y);
                    self.rho.push_back(1.0 / sy);
                }
                self.x = x_new;
                self.loss = loss;
                self.grad = grad;
                return Ok(Step::Improved(loss));
            }
            t *= 0.5;
        }
        if self.s.is_empty() {
            Ok(Step::Stalled)
        } else {
            // The quasi-Newton direction failed; forget the history and retry along −g.
            self.forget();
            self.step(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock in n dimensions: a curved valley that defeats plain gradient descent.
    fn rosenbrock(x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let mut f = 0.0;
        let mut g = vec![0f32; x.len()];
        for i in 0..x.len() - 1 {
            let (a, b) = (x[i] as f64, x[i + 1] as f64);
            f += 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
            g[i] += (-400.0 * a * (b - a * a) - 2.0 * (1.0 - a)) as f32;
            g[i + 1] += (200.0 * (b - a * a)) as f32;
        }
        Ok((f, g))
    }

    #[test]
    fn minimises_rosenbrock_monotonically() {
        let mut f = |x: &[f32]| rosenbrock(x);
        let mut opt =
            Lbfgs::new(LbfgsConfig::default(), vec![-1.2, 1.0, -1.2, 1.0], &mut f).unwrap();
        let mut last = opt.loss();
        for _ in 0..200 {
            match opt.step(&mut f).unwrap() {
                Step::Improved(l) => {
                    assert!(l <= last, "loss rose from {last} to {l}");
                    last = l;
                }
                Step::Stalled => break,
            }
        }
        assert!(last < 1e-6, "final loss {last}");
        assert!(
            opt.x().iter().all(|&v| (v - 1.0).abs() < 1e-2),
            "{:?}",
            opt.x()
        );
    }

    #[test]
    fn a_nan_objective_is_an_error() {
        let mut f = |_: &[f32]| Ok((f64::NAN, vec![0f32; 2]));
        let err = Lbfgs::new(LbfgsConfig::default(), vec![0.0, 0.0], &mut f)
            .err()
            .expect("NaN rejected");
        assert!(err.to_string().contains("diverged"));
    }
}
