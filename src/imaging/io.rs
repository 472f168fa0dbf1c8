//! Decoding and encoding files.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;

/// 64 megapixels: far above any painting scan we train on, far below what exhausts memory.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Refuse images with more pixels than this before decoding them.
    pub max_pixels: u64,
}

/// The limit `LoadOptions::default()` uses; the CLI's global `--max-pixels` sets it once at
/// start-up, so every command that reads images honours it.
static MAX_PIXELS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Set the default pixel limit for this process (first call wins).
pub fn set_default_max_pixels(limit: u64) {
    let _ = MAX_PIXELS.set(limit);
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_pixels: MAX_PIXELS.get().copied().unwrap_or(DEFAULT_MAX_PIXELS),
        }
    }
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> AtelierError {
    AtelierError::ImageRead {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Read only the header: (width, height) after checking the pixel limit. Cheap enough to
/// run over a whole data folder to find unreadable files before training starts.
pub fn probe(path: &Path, opts: &LoadOptions) -> Result<(u32, u32)> {
    let reader = ImageReader::open(path)
        .map_err(|e| read_err(path, e))?
        .with_guessed_format()
        .map_err(|e| read_err(path, e))?;
    if reader.format().is_none() {
        return Err(read_err(path, "not an image format we know"));
    }
    let is_jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let (w, h) = reader.into_dimensions().map_err(|e| read_err(path, e))?;
    check_pixels(path, w, h, opts)?;
    if is_jpeg && !jpeg_file_is_complete(path).map_err(|e| read_err(path, e))? {
        return Err(read_err(path, TRUNCATED_JPEG));
    }
    Ok((w, h))
}

const TRUNCATED_JPEG: &str = "truncated JPEG (no end-of-image marker): the missing part would \
                              decode as flat grey";

/// A complete JPEG ends with the end-of-image marker FF D9 (some writers pad after it).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// [`jpeg_is_complete`] reading only the file's last bytes.
fn jpeg_file_is_complete(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64)))?;
    let mut tail = Vec::with_capacity(64);
    f.read_to_end(&mut tail)?;
    Ok(jpeg_is_complete(&tail))
}

fn check_pixels(path: &Path, w: u32, h: u32, opts: &LoadOptions) -> Result<()> {
    let pixels = w as u64 * h as u64;
    if pixels > opts.max_pixels {
        return Err(AtelierError::ImageTooLarge {
            path: path.to_path_buf(),
            width: w,
            height: h,
            pixels,
            limit: opts.max_pixels,
        });
    }
    if w == 0 || h == 0 {
        return Err(read_err(path, "image has zero size"));
    }
    Ok(())
}

/// Decode any supported file to 8-bit RGB: grey, alpha and 16-bit inputs are converted,
/// EXIF orientation is applied.
pub fn load_rgb(path: &Path, opts: &LoadOptions) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
    decode_rgb(&bytes, path, opts)
}

/// Decode from memory; `path` is only used in messages.
pub fn decode_rgb(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<RgbImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| read_err(path, e))?;
    if reader.format().is_none() {
        return Err(read_err(path, "not an image format we know"));
    }
    // The decoder's own allocation limit backs up our pixel check.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(16));
    reader.limits(limits);
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        // Decodable, but the bottom of the picture is missing: say so and go on (data
        // folders skip such files; see `probe`).
        tracing::warn!("{}: {TRUNCATED_JPEG}", path.display());
    }
    let mut decoder = reader.into_decoder().map_err(|e| read_err(path, e))?;
    let (w, h) = decoder.dimensions();
    check_pixels(path, w, h, opts)?;
    let orientation = decoder.orientation().map_err(|e| read_err(path, e))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| read_err(path, e))?;
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

/// The format an output path's extension asks for (no extension: PNG).
fn output_format(path: &Path) -> Result<image::ImageFormat> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "jpg" | "jpeg" => image::ImageFormat::Jpeg,
        "png" | "" => image::ImageFormat::Png,
        "webp" => image::ImageFormat::WebP,
        "bmp" => image::ImageFormat::Bmp,
        "tif" | "tiff" => image::ImageFormat::Tiff,
        other => {
            return Err(AtelierError::Write {
                path: path.to_path_buf(),
                reason: format!("unsupported output extension '.{other}' (use .png or .jpg)"),
            });
        }
    })
}

/// Check, before any work, that an image can be saved at `path`: a known extension and a
/// writable place (see [`crate::util::atomic::check_writable`]).
pub fn check_image_output(path: &Path) -> Result<()> {
    output_format(path)?;
    crate::util::atomic::check_writable(path)
}

/// Save as PNG or JPEG (by extension; anything else is PNG), atomically.
pub fn save_image(img: &RgbImage, path: &Path) -> Result<()> {
    let format = output_format(path)?;
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, format)
        .map_err(|e| AtelierError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_atomic(path, buf.get_ref())
}

/// Width and height with the long side `long`, keeping the aspect ratio.
pub fn dims_for_long_side(w: u32, h: u32, long: u32) -> (u32, u32) {
    let scale = |a: u32, b: u32| ((a as u64 * long as u64 + b as u64 / 2) / b as u64).max(1) as u32;
    if w >= h {
        (long, scale(h, w))
    } else {
        (scale(w, h), long)
    }
}

/// Resize so the long side is `long`, keeping the aspect ratio.
pub fn resize_long_side(img: &RgbImage, long: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = dims_for_long_side(w, h, long);
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, nw, nh, image::imageops::FilterType::Lanczos3)
}

/// Resize so the short side is `short`, keeping the aspect ratio.
pub fn resize_short_side(img: &RgbImage, short: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.min(h) == short {
        return img.clone();
    }
    let (nw, nh) = if w <= h {
        (
            short,
            ((h as u64 * short as u64 + w as u64 / 2) / w as u64).max(1) as u32,
        )
    } else {
        (
            ((w as u64 * short as u64 + h as u64 / 2) / h as u64).max(1) as u32,
            short,
        )
    };
    image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgba};

    fn encode(img: DynamicImage, fmt: image::ImageFormat) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        img.write_to(&mut c, fmt).unwrap();
        c.into_inner()
    }

    #[test]
    fn grey_rgba_and_16_bit_become_rgb() {
        let p = Path::new("x");
        let o = LoadOptions::default();
        let grey = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(3, 2, Luma([200u8])));
        let g = decode_rgb(&encode(grey, image::ImageFormat::Png), p, &o).unwrap();
        assert_eq!(g.get_pixel(1, 1).0, [200, 200, 200]);
        let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(2, 2, Rgba([10, 20, 30, 40])));
        let r = decode_rgb(&encode(rgba, image::ImageFormat::Png), p, &o).unwrap();
        assert_eq!(r.get_pixel(0, 0).0, [10, 20, 30]);
        let g16 = DynamicImage::ImageLuma16(ImageBuffer::from_pixel(2, 2, Luma([65535u16])));
        let r16 = decode_rgb(&encode(g16, image::ImageFormat::Png), p, &o).unwrap();
        assert_eq!(r16.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn pixel_limit_refuses_before_decoding() {
        let img = DynamicImage::ImageRgb8(ImageBuffer::new(100, 100));
        let bytes = encode(img, image::ImageFormat::Png);
        let err = decode_rgb(
            &bytes,
            Path::new("big.png"),
            &LoadOptions { max_pixels: 5000 },
        )
        .unwrap_err();
        assert!(
            matches!(err, AtelierError::ImageTooLarge { pixels: 10000, .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_jpegs_are_found() {
        let img = RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 9]));
        let jpeg = encode(DynamicImage::ImageRgb8(img), image::ImageFormat::Jpeg);
        assert!(jpeg_is_complete(&jpeg));
        // The end-of-image marker lost: decoders accept this without a word.
        let cut = &jpeg[..jpeg.len() - 2];
        assert!(!jpeg_is_complete(cut));
        assert!(!jpeg_is_complete(&jpeg[..jpeg.len() * 2 / 3]));
        let dir = tempfile::tempdir().unwrap();
        let (whole, part) = (dir.path().join("whole.jpg"), dir.path().join("cut.jpg"));
        std::fs::write(&whole, &jpeg).unwrap();
        std::fs::write(&part, cut).unwrap();
        let o = LoadOptions::default();
        assert_eq!(probe(&whole, &o).unwrap(), (32, 32));
        let err = probe(&part, &o).unwrap_err().to_string();
        assert!(err.contains("truncated JPEG"), "{err}");
        // Single images still decode (with a warning).
        assert!(load_rgb(&part, &o).is_ok());
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let err =
            decode_rgb(b"not an image", Path::new("a.jpg"), &LoadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("a.jpg"));
    }

    /// A JPEG with an EXIF block saying "rotate 90° clockwise" (orientation 6).
    fn jpeg_with_orientation_6(img: &RgbImage) -> Vec<u8> {
        let jpeg = encode(
            DynamicImage::ImageRgb8(img.clone()),
            image::ImageFormat::Jpeg,
        );
        // TIFF header (little endian), one IFD entry: tag 0x0112 SHORT count 1 value 6.
        let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
        tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        tiff.extend([0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let len = (app1.len() + 2) as u16;
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend(len.to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        // 16x8, left half black, right half white.
        let img = RgbImage::from_fn(16, 8, |x, _| {
            if x < 8 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255; 3])
            }
        });
        let bytes = jpeg_with_orientation_6(&img);
        let out = decode_rgb(&bytes, Path::new("r.jpg"), &LoadOptions::default()).unwrap();
        // Rotated 90° clockwise: 8 wide, 16 tall; the left (black) half is now on top.
        assert_eq!(out.dimensions(), (8, 16));
        assert!(out.get_pixel(4, 2).0[0] < 60, "{:?}", out.get_pixel(4, 2));
        assert!(
            out.get_pixel(4, 13).0[0] > 200,
            "{:?}",
            out.get_pixel(4, 13)
        );
    }

    #[test]
    fn short_side_resize_keeps_aspect() {
        let img = RgbImage::new(200, 100);
        let r = resize_short_side(&img, 50);
        assert_eq!(r.dimensions(), (100, 50));
    }

    #[test]
    fn png_and_jpeg_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 128]));
        let p = dir.path().join("a.png");
        save_image(&img, &p).unwrap();
        assert_eq!(load_rgb(&p, &LoadOptions::default()).unwrap(), img);
        let j = dir.path().join("a.jpg");
        save_image(&img, &j).unwrap();
        assert_eq!(
            load_rgb(&j, &LoadOptions::default()).unwrap().dimensions(),
            (8, 6)
        );
        assert!(save_image(&img, &dir.path().join("a.xyz")).is_err());
    }
}
