//! Sampling from a trained generator: grids, class-conditional samples, truncation, and
//! spherical interpolation between latents.

use std::path::PathBuf;

use image::RgbImage;

/// The generator these tasks sample from (its file handling lives with the networks).
pub use crate::models::generator::LoadedGenerator;
use crate::models::generator::labels_for;
use crate::util::rng::SeededRng;

/// The shipped KaoKore generator's file name under `models/`.
pub const DEFAULT_MODEL: &str = "kaokore-dcgan-64.safetensors";

/// Where `generate` looks when no `--model` is given: `$ATELIER_MODEL`, else the model
/// shipped in this source tree.
pub fn default_model_path() -> PathBuf {
    crate::models::model_file::shipped_model_path("ATELIER_MODEL", DEFAULT_MODEL)
}

impl LoadedGenerator {
    /// `n` images; `class` fixes the class of a conditional model, else classes cycle.
    pub fn generate(
        &self,
        n: usize,
        class: Option<usize>,
        seed: u64,
        truncation: Option<f32>,
    ) -> Vec<RgbImage> {
        let z = self.draw_latents(&mut SeededRng::new(seed), n, truncation);
        let labels = labels_for(n, self.n_classes, class);
        self.render(z, labels, truncation)
    }

    /// "More like this": image `index` of `generate(_, class, seed, truncation)` first, then
    /// `n - 1` neighbours of it (its latent plus `spread` times noise, rescaled to its norm
    /// so they stay as typical of the prior as it was). `picks` walks on: each entry picks
    /// one image of the previous round of variations as the next centre, at 0.7 times the
    /// spread. Neighbour `j` of round `r` has its own seeded noise, so a pick reproduces
    /// exactly the image that was clicked.
    #[allow(clippy::too_many_arguments)]
    pub fn variations(
        &self,
        n: usize,
        index: usize,
        class: Option<usize>,
        seed: u64,
        truncation: Option<f32>,
        spread: f32,
        picks: &[usize],
    ) -> Vec<RgbImage> {
        let zd = self.z_dim;
        // Draws are sequential, so the first (index + 1) latents of a larger grid are these.
        let all = self.draw_latents(&mut SeededRng::new(seed), index + 1, truncation);
        let neighbour = |base: &[f32], spread: f32, round: usize, j: usize| -> Vec<f32> {
            if j == 0 {
                return base.to_vec();
            }
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            let mut noise = SeededRng::derived(seed, &[index as u64, round as u64, j as u64]);
            let v: Vec<f32> = base
                .iter()
                .zip(noise.normal_vec(zd))
                .map(|(b, e)| b + spread * e)
                .collect();
            let k = norm(base) / norm(&v);
            v.iter().map(|x| x * k).collect()
        };
        let mut centre = all[index * zd..].to_vec();
        let mut spread = spread;
        for (round, &pick) in picks.iter().enumerate() {
            centre = neighbour(&centre, spread, round, pick);
            spread *= 0.7;
        }
        let z = (0..n)
            .flat_map(|j| neighbour(&centre, spread, picks.len(), j))
            .collect();
        let label = labels_for(index + 1, self.n_classes, class).map(|l| l[index]);
        self.render(z, label.map(|l| vec![l; n]), truncation)
    }

    /// `frames` images along the great circle between two random latents (slerp keeps
    /// the latent norm typical of the prior, unlike a straight line).
    pub fn interpolate(&self, frames: usize, class: Option<usize>, seed: u64) -> Vec<RgbImage> {
        let mut rng = SeededRng::new(seed);
        let zd = self.z_dim;
        let a = rng.normal_vec(zd);
        let b = rng.normal_vec(zd);
        let z: Vec<f32> = (0..frames)
            .flat_map(|i| {
                let t = if frames > 1 {
                    i as f32 / (frames - 1) as f32
                } else {
                    0.0
                };
                slerp(&a, &b, t)
            })
            .collect();
        let labels = (self.n_classes > 0).then(|| vec![class.unwrap_or(0) as i64; frames]);
        self.render(z, labels, None)
    }
}

impl LoadedGenerator {
    /// StyleGAN2 style mixing as a grid of (n + 1)², row by row: a blank corner, then `n`
    /// "fine" sources along the first row and `n` "coarse" sources down the first column;
    /// cell (i, j) has coarse source i's layers before `from_layer` and fine source j's from
    /// it on. `None` for a DCGAN model.
    pub fn style_mixing_grid(
        &self,
        n: usize,
        class: Option<usize>,
        seed: u64,
        from_layer: usize,
        truncation: Option<f32>,
    ) -> Option<Vec<RgbImage>> {
        self.num_layers()?;
        let mut rng = SeededRng::new(seed);
        let coarse = rng.normal_vec(n * self.z_dim);
        let fine = rng.normal_vec(n * self.z_dim);
        let labels = |k: usize| (self.n_classes > 0).then(|| vec![class.unwrap_or(0) as i64; k]);
        let row = |z: &[f32]| self.render(z.to_vec(), labels(n), truncation);
        let (coarse_imgs, fine_imgs) = (row(&coarse), row(&fine));
        let mut grid = vec![RgbImage::from_pixel(
            self.size as u32,
            self.size as u32,
            image::Rgb([255, 255, 255]),
        )];
        grid.extend(fine_imgs);
        for i in 0..n {
            let zd = self.z_dim;
            let a: Vec<f32> = coarse[i * zd..(i + 1) * zd].repeat(n);
            grid.push(coarse_imgs[i].clone());
            grid.extend(self.mix(a, fine.clone(), labels(n), from_layer, truncation)?);
        }
        Some(grid)
    }
}

/// Spherical linear interpolation between `a` and `b`.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let cos = (a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.abs() < 1e-5 {
        return a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
    }
    let s = omega.sin();
    let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_endpoints_and_norm() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        assert_eq!(slerp(&a, &b, 0.0), vec![1.0, 0.0]);
        let m = slerp(&a, &b, 0.5);
        assert!((m[0] - 0.70710677).abs() < 1e-5 && (m[1] - 0.70710677).abs() < 1e-5);
        let e = slerp(&a, &b, 1.0);
        assert!((e[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn variations_start_from_the_grid_image_and_stay_near_it() {
        let device = burn::prelude::Device::flex();
        let config = crate::models::dcgan::DcganGeneratorConfig::new(32).with_n_classes(3);
        let g = LoadedGenerator {
            net: crate::models::generator::GeneratorNet::Dcgan(config.init(&device)),
            z_dim: config.z_dim,
            n_classes: config.n_classes,
            size: config.size,
            classes: vec!["a".into(), "b".into(), "c".into()],
            trained_with: None,
            device,
        };
        let grid = g.generate(6, None, 5, None);
        let near = g.variations(4, 4, None, 5, None, 0.3, &[]);
        let far = g.variations(4, 4, None, 5, None, 3.0, &[]);
        assert_eq!(near.len(), 4);
        assert_eq!(
            near[0], grid[4],
            "the first variation is the clicked image itself"
        );
        let diff = |a: &RgbImage, b: &RgbImage| {
            a.as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(x, y)| (*x as f64 - *y as f64).abs())
                .sum::<f64>()
        };
        assert!(diff(&near[1], &near[0]) > 0.0);
        assert!(diff(&near[1], &near[0]) < diff(&far[1], &far[0]));
        assert_eq!(g.variations(4, 4, None, 5, None, 0.3, &[]), near, "seeded");
        // Walking on from variation 2 starts from exactly that image.
        let walk = g.variations(3, 4, None, 5, None, 0.3, &[2]);
        assert_eq!(walk[0], near[2]);
        assert_ne!(walk[1], near[1]);
    }

    #[test]
    fn labels_cycle_or_fix() {
        assert_eq!(labels_for(5, 2, None), Some(vec![0, 1, 0, 1, 0]));
        assert_eq!(labels_for(3, 4, Some(2)), Some(vec![2, 2, 2]));
        assert_eq!(labels_for(3, 0, None), None);
    }
}
