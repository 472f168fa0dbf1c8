//! Training data for inpainting: crops of paintings, each with a freshly drawn hole mask.
//!
//! Crops are cut at the painting's own scale or up to 2× smaller (log-uniform), so the
//! network sees brushwork at the scale `atelier inpaint` will meet it; paintings smaller
//! than the crop are enlarged to it. Masks come from the sample's own seeded RNG, so batch
//! *b* is the same on resume.

use std::path::PathBuf;

use burn::prelude::*;
use image::{GrayImage, RgbImage};

use super::loader::Examples;
use super::masks::{MaskKind, is_hole, random_mask};
use crate::error::Result;
use crate::imaging::fill::diffusion_fill;
use crate::imaging::io::{LoadOptions, load_rgb, resize_short_side};
use crate::imaging::tensor::{Range, push_chw};
use crate::util::rng::SeededRng;

/// A painting and its hole mask (white = hole), the same size.
pub type MaskedImage = (RgbImage, GrayImage);

/// What the generator starts from: the holes filled by diffusion.
pub fn prefill(image: &RgbImage, mask: &GrayImage) -> RgbImage {
    diffusion_fill(image, mask)
}

/// The generator's input for equally sized pairs, on the host: the prefilled images
/// (CHW, [-1, 1]) and the masks (1 = hole), one after another.
pub fn generator_input(pairs: &[MaskedImage]) -> (Vec<f32>, Vec<f32>) {
    let mut prefilled = Vec::new();
    let mut masks = Vec::new();
    for (img, mask) in pairs {
        push_chw(&prefill(img, mask), Range::Signed, &mut prefilled);
        masks.extend(
            mask.pixels()
                .map(|p| if is_hole(p.0[0]) { 1.0 } else { 0.0 }),
        );
    }
    (prefilled, masks)
}

/// Images [-1, 1], the same with their holes filled by diffusion (the generator's
/// input), and their masks (1 = hole), on the host.
#[derive(Clone, Debug)]
pub struct InpaintBatch {
    pub pixels: Vec<f32>,
    pub prefilled: Vec<f32>,
    pub masks: Vec<f32>,
    pub n: usize,
    pub size: usize,
}

impl InpaintBatch {
    pub fn from_pairs(pairs: &[(RgbImage, GrayImage)]) -> Self {
        let size = pairs.first().map(|p| p.0.width() as usize).unwrap_or(0);
        let mut pixels = Vec::with_capacity(pairs.len() * 3 * size * size);
        for (img, _) in pairs {
            push_chw(img, Range::Signed, &mut pixels);
        }
        let (prefilled, masks) = generator_input(pairs);
        Self {
            pixels,
            prefilled,
            masks,
            n: pairs.len(),
            size,
        }
    }

    pub fn images(&self, device: &Device) -> Tensor<4> {
        let s = self.size;
        Tensor::from_data(
            TensorData::new(self.pixels.clone(), [self.n, 3, s, s]),
            device,
        )
    }

    pub fn prefilled(&self, device: &Device) -> Tensor<4> {
        let s = self.size;
        Tensor::from_data(
            TensorData::new(self.prefilled.clone(), [self.n, 3, s, s]),
            device,
        )
    }

    pub fn masks(&self, device: &Device) -> Tensor<4> {
        let s = self.size;
        Tensor::from_data(
            TensorData::new(self.masks.clone(), [self.n, 1, s, s]),
            device,
        )
    }
}

/// Paintings to cut crops from, and the mask kinds to draw.
#[derive(Clone)]
pub struct InpaintExamples {
    pub files: Vec<PathBuf>,
    pub size: u32,
    pub kinds: Vec<MaskKind>,
}

impl InpaintExamples {
    /// A random crop of painting `i` (scale jitter, flip).
    pub fn crop(&self, i: usize, rng: &mut SeededRng) -> Result<RgbImage> {
        let img = load_rgb(&self.files[i], &LoadOptions::default())?;
        Ok(random_crop(&img, self.size, rng))
    }

    /// The painting's crop and a mask for it, or, for an unreadable file, a flat grey
    /// crop fully kept (the file was readable when listed; a file changed mid-run must not
    /// stop it).
    fn example(&self, i: usize, rng: &mut SeededRng) -> (RgbImage, GrayImage) {
        let img = self.crop(i, rng).unwrap_or_else(|e| {
            tracing::warn!("{e}; using a grey crop instead");
            RgbImage::from_pixel(self.size, self.size, image::Rgb([128; 3]))
        });
        let mask = random_mask(&self.kinds, self.size, rng);
        (img, mask)
    }
}

/// A `size` square crop: the short side first scaled to a log-uniform length between
/// `size` and min(short side, 2·size) (enlarged to `size` when smaller), then cut at a
/// random place and flipped at random.
pub fn random_crop(img: &RgbImage, size: u32, rng: &mut SeededRng) -> RgbImage {
    let short = img.width().min(img.height());
    let top = short.min(2 * size).max(size);
    let t = rng.uniform() as f64;
    let target = (size as f64 * (top as f64 / size as f64).powf(t)).round() as u32;
    let scaled = if target == short {
        img.clone()
    } else {
        resize_short_side(img, target.clamp(size, top))
    };
    let (w, h) = scaled.dimensions();
    let x = rng.below((w - size + 1) as usize) as u32;
    let y = rng.below((h - size + 1) as usize) as u32;
    let mut out = image::imageops::crop_imm(&scaled, x, y, size, size).to_image();
    if rng.coin() {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    out
}

impl Examples for InpaintExamples {
    type Batch = InpaintBatch;

    fn len(&self) -> usize {
        self.files.len()
    }

    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> InpaintBatch {
        let pairs: Vec<(RgbImage, GrayImage)> = picks
            .into_iter()
            .map(|(i, mut rng)| self.example(i, &mut rng))
            .collect();
        InpaintBatch::from_pairs(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_have_the_size_and_small_images_are_enlarged() {
        let big = RgbImage::from_fn(300, 200, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let small = RgbImage::from_pixel(50, 40, image::Rgb([9, 9, 9]));
        for seed in 0..10 {
            let mut rng = SeededRng::new(seed);
            assert_eq!(random_crop(&big, 64, &mut rng).dimensions(), (64, 64));
            assert_eq!(random_crop(&small, 64, &mut rng).dimensions(), (64, 64));
        }
        let pairs = vec![(
            RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0])),
            MaskKind::Strokes.generate(8, 8, &mut SeededRng::new(1)),
        )];
        let b = InpaintBatch::from_pairs(&pairs);
        assert_eq!(
            (b.n, b.size, b.pixels.len(), b.masks.len()),
            (1, 8, 192, 64)
        );
        assert_eq!(b.pixels[0], 1.0);
        assert!(b.masks.iter().all(|&m| m == 0.0 || m == 1.0));
    }
}
