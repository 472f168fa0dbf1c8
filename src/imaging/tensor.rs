//! Images <-> tensors. Tensors are NCHW, float, in [-1, 1] (GANs) or [0, 1] (VGG-style
//! networks).

use burn::prelude::*;
use image::RgbImage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// [-1, 1], the range of a tanh generator.
    Signed,
    /// [0, 1].
    Unit,
}

impl Range {
    fn encode(self, v: u8) -> f32 {
        let u = v as f32 / 255.0;
        match self {
            Range::Signed => u * 2.0 - 1.0,
            Range::Unit => u,
        }
    }
    fn decode(self, v: f32) -> u8 {
        let u = match self {
            Range::Signed => (v + 1.0) * 0.5,
            Range::Unit => v,
        };
        (u.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Append an image's pixels to `out` in CHW order.
pub fn push_chw(img: &RgbImage, range: Range, out: &mut Vec<f32>) {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let start = out.len();
    out.resize(start + 3 * plane, 0.0);
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[start + c * plane + i] = range.encode(p.0[c]);
        }
    }
}

/// An image's pixels as CHW values in [0, 1] (what image optimisation works on).
pub fn unit_chw(img: &RgbImage) -> Vec<f32> {
    let mut v = Vec::with_capacity((3 * img.width() * img.height()) as usize);
    push_chw(img, Range::Unit, &mut v);
    v
}

/// An image from CHW values.
pub fn image_from_chw(v: &[f32], w: u32, h: u32, range: Range) -> RgbImage {
    let plane = (w * h) as usize;
    assert_eq!(v.len(), 3 * plane, "3 x {w} x {h} values");
    RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        image::Rgb(std::array::from_fn(|c| range.decode(v[c * plane + i])))
    })
}

/// One image as a [1, 3, H, W] tensor.
pub fn image_to_tensor(img: &RgbImage, range: Range, device: &Device) -> Tensor<4> {
    let (w, h) = img.dimensions();
    let mut v = Vec::with_capacity((3 * w * h) as usize);
    push_chw(img, range, &mut v);
    Tensor::from_data(TensorData::new(v, [1, 3, h as usize, w as usize]), device)
}

/// A [N, 3, H, W] tensor back to N images.
pub fn tensor_to_images(t: Tensor<4>, range: Range) -> Vec<RgbImage> {
    let [n, c, h, w] = t.dims();
    assert_eq!(c, 3, "expected 3 channels");
    let data: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("float tensor data");
    let plane = h * w;
    (0..n)
        .map(|k| {
            let base = k * 3 * plane;
            image_from_chw(&data[base..base + 3 * plane], w as u32, h as u32, range)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_ranges() {
        let dev = Device::flex();
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 50, y as u8 * 100, 7]));
        for range in [Range::Signed, Range::Unit] {
            let t = image_to_tensor(&img, range, &dev);
            assert_eq!(t.dims(), [1, 3, 3, 5]);
            let back = tensor_to_images(t, range);
            assert_eq!(back[0], img);
        }
        let t = image_to_tensor(&img, Range::Signed, &dev);
        let v: Vec<f32> = t.into_data().try_to_vec::<f32>().unwrap();
        // pixel (0,0) red = 0 -> -1; blue = 7 -> 7/255*2-1
        assert_eq!(v[0], -1.0);
        assert!((v[2 * 15] - (7.0 / 255.0 * 2.0 - 1.0)).abs() < 1e-6);
    }
}
