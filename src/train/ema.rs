//! Exponential moving average of a module's weights (Karras et al.): samples from the
//! averaged generator are smoother and more stable than from the live one.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Flattened, detached, autodiff-free copies of every float parameter, in visiting order.
fn flat_params<M: Module>(m: &M) -> Vec<Tensor<1>> {
    struct V(Vec<Tensor<1>>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val().detach().without_autodiff();
            let n = t.shape().num_elements();
            self.0.push(t.reshape([n]));
        }
    }
    let mut v = V(vec![]);
    m.visit(&mut v);
    v.0
}

/// `avg <- decay * avg + (1 - decay) * live`, parameter by parameter. Both modules must
/// have the same structure (the average is a copy of the live module).
pub fn ema_update<M: Module>(avg: M, live: &M, decay: f64) -> M {
    struct Mix {
        live: std::vec::IntoIter<Tensor<1>>,
        decay: f64,
    }
    impl ModuleMapper for Mix {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let src = self.live.next().expect("EMA: modules differ in structure");
            let decay = self.decay;
            p.map(|a| {
                let dims = a.dims();
                let src = src.reshape(dims).to_device(&a.device());
                a.mul_scalar(decay) + src.mul_scalar(1.0 - decay)
            })
        }
    }
    let mut mix = Mix {
        live: flat_params(live).into_iter(),
        decay,
    };
    avg.map(&mut mix)
}

/// True when every float parameter is finite.
pub fn all_finite<M: Module>(m: &M) -> bool {
    flat_params(m).into_iter().all(|t| {
        let s: f32 = t.abs().sum().into_scalar();
        s.is_finite()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn ema_moves_toward_live_weights() {
        let dev = Device::flex();
        let live: Linear = LinearConfig::new(2, 1).init(&dev);
        let zero = live.clone().map(&mut ZeroAll);
        let avg = ema_update(zero, &live, 0.75);
        let a: Vec<f32> = avg.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let l: Vec<f32> = live.weight.val().into_data().try_to_vec::<f32>().unwrap();
        for (x, y) in a.iter().zip(&l) {
            assert!((x - 0.25 * y).abs() < 1e-6);
        }
        assert!(all_finite(&live));
    }

    struct ZeroAll;
    impl ModuleMapper for ZeroAll {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            p.map(|t| t.zeros_like())
        }
    }
}
