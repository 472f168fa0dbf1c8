//! Adam (Kingma & Ba 2015) over a plain f32 vector, with the same stepping interface as
//! [`super::Lbfgs`], for image optimisation where a user prefers it (cheaper iterations,
//! no line search, smoother early progress).

use super::lbfgs::check_finite;
use super::{Objective, Step, VectorOptimizer};
use crate::error::Result;

pub struct Adam {
    lr: f64,
    betas: (f64, f64),
    x: Vec<f32>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
    loss: f64,
}

impl Adam {
    pub fn new(lr: f64, x0: Vec<f32>) -> Self {
        let n = x0.len();
        Self {
            lr,
            betas: (0.9, 0.999),
            x: x0,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            loss: f64::INFINITY,
        }
    }

    /// The loss at the point before the last step.
    pub fn loss(&self) -> f64 {
        self.loss
    }
}

impl VectorOptimizer for Adam {
    fn x(&self) -> &[f32] {
        &self.x
    }

    /// Evaluate at the current point and take one step.
    fn step(&mut self, f: &mut Objective) -> Result<Step> {
        let (loss, grad) = f(&self.x)?;
        check_finite(loss, &grad)?;
        self.loss = loss;
        self.t += 1;
        let (b1, b2) = self.betas;
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let state = self
            .x
            .iter_mut()
            .zip(self.m.iter_mut().zip(self.v.iter_mut()));
        for ((x, (m, v)), &g) in state.zip(&grad) {
            let g = g as f64;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *x -= (self.lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8)) as f32;
        }
        Ok(Step::Improved(loss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_a_quadratic() {
        let mut f = |x: &[f32]| {
            let l = x.iter().map(|&v| ((v - 3.0) as f64).powi(2)).sum();
            Ok((l, x.iter().map(|&v| 2.0 * (v - 3.0)).collect()))
        };
        let mut opt = Adam::new(0.1, vec![0.0; 4]);
        for _ in 0..300 {
            opt.step(&mut f).unwrap();
        }
        assert!(
            opt.x().iter().all(|&v| (v - 3.0).abs() < 0.05),
            "{:?}",
            opt.x()
        );
    }
}
