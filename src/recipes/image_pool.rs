//! The history buffer of generated images (Shrivastava et al. 2017, used by CycleGAN): the
//! discriminator sees a mix of the newest fakes and older ones, so it does not chase the
//! generator's latest mode and the two oscillate less.

use burn::prelude::*;

use crate::util::rng::SeededRng;

pub struct ImagePool {
    capacity: usize,
    /// Stored images, each [1, C, H, W], detached.
    images: Vec<Tensor<4>>,
}

impl ImagePool {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            images: Vec::new(),
        }
    }

    /// The most images the pool keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// For each image of `fakes`: while the pool fills up, store it and return it; after
    /// that, with probability ½ return a random stored image and store the new one in its
    /// place, else return the new one.
    pub fn query(&mut self, fakes: Tensor<4>, rng: &mut SeededRng) -> Tensor<4> {
        let fakes = fakes.detach();
        if self.capacity == 0 {
            return fakes;
        }
        let n = fakes.dims()[0];
        let out: Vec<Tensor<4>> = (0..n)
            .map(|i| {
                let img = fakes.clone().slice(s![i..i + 1]);
                if self.images.len() < self.capacity {
                    self.images.push(img.clone());
                    img
                } else if rng.coin() {
                    let k = rng.below(self.capacity);
                    std::mem::replace(&mut self.images[k], img)
                } else {
                    img
                }
            })
            .collect();
        Tensor::cat(out, 0)
    }

    /// The stored images, for checkpoints.
    pub fn to_data(&self) -> Vec<TensorData> {
        self.images.iter().map(|t| t.to_data()).collect()
    }

    /// Refill from checkpointed images.
    pub fn restore(&mut self, images: Vec<TensorData>, device: &Device) {
        self.images = images
            .into_iter()
            .take(self.capacity)
            .map(|d| Tensor::from_data(d, device))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[f32], d: &Device) -> Tensor<4> {
        Tensor::<1>::from_floats(values, d).reshape([values.len(), 1, 1, 1])
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn fills_then_mixes_history_half_the_time() {
        let d = Device::flex();
        let mut rng = SeededRng::new(1);
        let mut pool = ImagePool::new(4);
        // Filling: images come straight back.
        assert_eq!(
            values(pool.query(batch(&[1., 2., 3.], &d), &mut rng)),
            [1., 2., 3.]
        );
        assert_eq!(values(pool.query(batch(&[4.], &d), &mut rng)), [4.]);
        assert_eq!(pool.len(), 4);
        // Full: each output is the new image or one seen before, about half of each.
        let mut seen: Vec<f32> = vec![1., 2., 3., 4.];
        let mut from_history = 0;
        for step in 0..200 {
            let new: Vec<f32> = (0..2).map(|k| 100.0 + (2 * step + k) as f32).collect();
            let out = values(pool.query(batch(&new, &d), &mut rng));
            // A later image of the batch may get an earlier one, stored a moment before.
            seen.extend(&new);
            for (o, n) in out.iter().zip(&new) {
                if o != n {
                    assert!(seen.contains(o), "{o} never went in");
                    from_history += 1;
                }
            }
            assert_eq!(pool.len(), 4);
        }
        assert!((150..250).contains(&from_history), "{from_history} of 400");
        // Round trip through checkpoint data.
        let mut copy = ImagePool::new(4);
        copy.restore(pool.to_data(), &d);
        assert_eq!(copy.to_data(), pool.to_data());
        // No pool: pass-through.
        let mut none = ImagePool::new(0);
        assert_eq!(values(none.query(batch(&[7.], &d), &mut rng)), [7.]);
    }
}
