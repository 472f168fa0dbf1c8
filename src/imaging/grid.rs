//! Tiling images into one sheet (sample grids, interpolation strips).

use image::RgbImage;

/// Lay `images` out in rows of `cols`, with `pad` pixels of dark gutter between them.
pub fn make_grid(images: &[RgbImage], cols: usize, pad: u32) -> RgbImage {
    assert!(!images.is_empty(), "no images for the grid");
    let cols = cols.clamp(1, images.len());
    let rows = images.len().div_ceil(cols);
    let (w, h) = images[0].dimensions();
    let gw = cols as u32 * w + (cols as u32 + 1) * pad;
    let gh = rows as u32 * h + (rows as u32 + 1) * pad;
    let mut grid = RgbImage::from_pixel(gw, gh, image::Rgb([24, 24, 24]));
    for (k, img) in images.iter().enumerate() {
        let x = pad + (k % cols) as u32 * (w + pad);
        let y = pad + (k / cols) as u32 * (h + pad);
        image::imageops::replace(&mut grid, img, x as i64, y as i64);
    }
    grid
}

/// Columns for a roughly square grid of `n` images.
pub fn square_cols(n: usize) -> usize {
    ((n as f64).sqrt().ceil() as usize).max(1)
}

/// A sheet of rows of equally sized images (input, output, target ...), one row per line.
pub fn rows_sheet(rows: &[Vec<RgbImage>]) -> RgbImage {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let all: Vec<RgbImage> = rows.iter().flatten().cloned().collect();
    make_grid(&all, cols, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_tiles() {
        let a = RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0]));
        let b = RgbImage::from_pixel(4, 4, image::Rgb([0, 255, 0]));
        let g = make_grid(&[a.clone(), b, a], 2, 1);
        assert_eq!(g.dimensions(), (2 * 4 + 3, 2 * 4 + 3));
        assert_eq!(g.get_pixel(1, 1).0, [255, 0, 0]);
        assert_eq!(g.get_pixel(6, 1).0, [0, 255, 0]);
        assert_eq!(g.get_pixel(1, 6).0, [255, 0, 0]);
        assert_eq!(g.get_pixel(6, 6).0, [24, 24, 24]);
        assert_eq!(square_cols(64), 8);
    }
}
