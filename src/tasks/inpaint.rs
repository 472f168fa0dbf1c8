//! Fill the damaged parts of a painting of any size (`atelier inpaint`): a trained
//! inpainting GAN or the classical diffusion fill, only where the mask says; every other
//! pixel is returned exactly as it came.
//!
//! The GAN works in windows around the damage: each group of holes gets a window with
//! context around it (at least the model's training size, and at least half the group's
//! extent on every side), overlapping windows are merged, and a window larger than
//! `max_window` is filled at a reduced scale and the fill enlarged back. Only hole pixels
//! are pasted, after the seam correction (`imaging::fill::feather_seams`).

use burn::prelude::*;
use image::{GrayImage, Luma, RgbImage, imageops::FilterType};
use serde::{Deserialize, Serialize};

use crate::data::masks::{HOLE, connected_groups, is_hole};
use crate::error::{AtelierError, Result};
use crate::imaging::fill::{diffusion_fill, feather_seams};
use crate::models::inpaint::{LoadedInpainter, SIDE_MULTIPLE, inpaint_batch, paste_holes};
use crate::models::model_file::shipped_model_path;

/// The shipped inpainting model: `$ATELIER_INPAINTER`, else `models/` in the source tree.
pub fn shipped_inpainter() -> std::path::PathBuf {
    shipped_model_path("ATELIER_INPAINTER", "inpaint-paintings.safetensors")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FillMethod {
    /// The inpainting GAN (a model from `atelier train inpaint`; the shipped one by default).
    Gan,
    /// Diffusion fill: smooth colour carried in from the hole's edge (no model needed).
    Classic,
}

#[derive(Clone, Copy, Debug)]
pub struct InpaintOptions {
    /// The seam correction's reach in pixels (0: off).
    pub feather: u32,
    /// The largest window side the network runs at; larger windows are filled scaled
    /// down (default: 3 × the model's training size).
    pub max_window: Option<u32>,
}

impl Default for InpaintOptions {
    fn default() -> Self {
        Self {
            feather: 6,
            max_window: None,
        }
    }
}

/// A mask made ready for an image, and what was done to it (for the user to be told).
pub struct PreparedMask {
    pub mask: GrayImage,
    pub notes: Vec<String>,
}

/// Bring a user's mask to the image: resized (nearest) when its size differs, thresholded
/// at 128 when it is not black and white, and refused when it holes every pixel.
pub fn prepare_mask(mask: GrayImage, width: u32, height: u32) -> Result<PreparedMask> {
    let mut notes = Vec::new();
    let mut mask = mask;
    if mask.dimensions() != (width, height) {
        notes.push(format!(
            "the mask is {}x{}, the image {width}x{height}: the mask was resized to the image",
            mask.width(),
            mask.height()
        ));
        mask = image::imageops::resize(&mask, width, height, FilterType::Nearest);
    }
    let grey = mask
        .pixels()
        .filter(|p| p.0[0] != 0 && p.0[0] != HOLE)
        .count();
    if grey > 0 {
        notes.push(format!(
            "the mask is not black and white ({grey} grey pixels): pixels of 128 or more \
             were taken as holes"
        ));
    }
    for p in mask.pixels_mut() {
        p.0[0] = if is_hole(p.0[0]) { HOLE } else { 0 };
    }
    let holes = mask.pixels().filter(|p| p.0[0] == HOLE).count();
    if holes == mask.pixels().len() {
        return Err(AtelierError::Config(
            "the mask marks every pixel as a hole: there is nothing left to fill from \
             (white = fill, black = keep)"
                .into(),
        ));
    }
    if holes == 0 {
        notes.push("the mask is empty (all black): the image is returned unchanged".into());
    }
    Ok(PreparedMask { mask, notes })
}

/// A mask from a copy of the image with the damage painted over in `colour`: a pixel is a
/// hole where the copy is within `tolerance` (largest channel difference) of the colour.
pub fn mask_from_colour(painted: &RgbImage, colour: [u8; 3], tolerance: u8) -> GrayImage {
    GrayImage::from_fn(painted.width(), painted.height(), |x, y| {
        let p = painted.get_pixel(x, y).0;
        let near = (0..3).all(|c| p[c].abs_diff(colour[c]) <= tolerance);
        Luma([if near { HOLE } else { 0 }])
    })
}

/// A rectangle [x0, x1) × [y0, y1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Window {
    fn overlaps(&self, o: &Window) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn union(&self, o: &Window) -> Window {
        Window {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    fn height(&self) -> u32 {
        self.y1 - self.y0
    }
}

/// Bounding boxes of the 8-connected groups of holes.
fn hole_groups(mask: &GrayImage) -> Vec<Window> {
    let w = mask.width() as usize;
    let holes: Vec<bool> = mask.pixels().map(|p| is_hole(p.0[0])).collect();
    connected_groups(&holes, w)
        .into_iter()
        .map(|group| {
            let xs = group.iter().map(|&i| (i % w) as u32);
            let ys = group.iter().map(|&i| (i / w) as u32);
            Window {
                x0: xs.clone().min().expect("non-empty group"),
                x1: xs.max().expect("non-empty group") + 1,
                y0: ys.clone().min().expect("non-empty group"),
                y1: ys.max().expect("non-empty group") + 1,
            }
        })
        .collect()
}

/// The windows to fill in: each group of holes with context around it (half its extent,
/// at least enough for a `min_side` square), clipped to the image, overlapping ones merged.
pub fn windows(mask: &GrayImage, min_side: u32) -> Vec<Window> {
    let (w, h) = mask.dimensions();
    let grow = |lo: u32, hi: u32, limit: u32| {
        let extent = hi - lo;
        let margin = (extent / 2).max(min_side.saturating_sub(extent).div_ceil(2));
        let (mut a, mut b) = (lo.saturating_sub(margin), (hi + margin).min(limit));
        // Near a border, take the missing context from the other side.
        let want = (extent + 2 * margin).min(limit);
        if b - a < want {
            if a == 0 {
                b = want.min(limit);
            } else {
                a = limit - want;
            }
        }
        (a, b)
    };
    let mut out: Vec<Window> = hole_groups(mask)
        .into_iter()
        .map(|g| {
            let (x0, x1) = grow(g.x0, g.x1, w);
            let (y0, y1) = grow(g.y0, g.y1, h);
            Window { x0, y0, x1, y1 }
        })
        .collect();
    // Merge until no two overlap.
    loop {
        let mut merged = false;
        'outer: for i in 0..out.len() {
            for j in i + 1..out.len() {
                if out[i].overlaps(&out[j]) {
                    out[i] = out[i].union(&out[j]);
                    out.swap_remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            return out;
        }
    }
}

/// The network's input size for a window: scaled down to fit `max_side`, rounded to the
/// multiple the network needs.
fn network_size((w, h): (u32, u32), max_side: u32) -> (u32, u32) {
    let scale = (max_side as f64 / w.max(h) as f64).min(1.0);
    let round = |v: u32| {
        let m = SIDE_MULTIPLE as u32;
        ((v as f64 * scale / m as f64).round() as u32).max(1) * m
    };
    (round(w), round(h))
}

/// Fill one window with the network; returns the window's pixels with holes filled.
fn fill_window(
    model: &LoadedInpainter,
    crop: &RgbImage,
    mask: &GrayImage,
    max_side: u32,
    feather: u32,
    device: &Device,
) -> RgbImage {
    let (nw, nh) = network_size(crop.dimensions(), max_side);
    let same = (nw, nh) == crop.dimensions();
    let (small, small_mask) = if same {
        (crop.clone(), mask.clone())
    } else {
        // Any hole pixel of a cell makes the cell a hole (so no hole vanishes when shrunk).
        let grown = image::imageops::resize(mask, nw, nh, FilterType::Triangle);
        let small_mask = GrayImage::from_fn(nw, nh, |x, y| {
            Luma([if grown.get_pixel(x, y).0[0] > 0 {
                HOLE
            } else {
                0
            }])
        });
        (
            image::imageops::resize(crop, nw, nh, FilterType::Triangle),
            small_mask,
        )
    };
    let filled = inpaint_batch(&model.net, &[(small, small_mask)], device).remove(0);
    let full = if same {
        filled
    } else {
        image::imageops::resize(&filled, crop.width(), crop.height(), FilterType::CatmullRom)
    };
    feather_seams(crop, &full, mask, feather)
}

/// Fill the holes of `mask` (already prepared, same size) in `image`. With `model`, by the
/// GAN in windows; without, by diffusion. Pixels outside the holes are `image`'s own.
pub fn inpaint(
    image: &RgbImage,
    mask: &GrayImage,
    model: Option<&LoadedInpainter>,
    opts: &InpaintOptions,
    device: &Device,
) -> Result<RgbImage> {
    if image.dimensions() != mask.dimensions() {
        return Err(AtelierError::Config(format!(
            "mask {}x{} and image {}x{} differ (prepare the mask first)",
            mask.width(),
            mask.height(),
            image.width(),
            image.height()
        )));
    }
    let Some(model) = model else {
        return Ok(diffusion_fill(image, mask));
    };
    let size = model.meta.size as u32;
    let max_side = opts
        .max_window
        .unwrap_or(3 * size)
        .max(SIDE_MULTIPLE as u32);
    let mut out = image.clone();
    for win in windows(mask, size) {
        let crop =
            image::imageops::crop_imm(image, win.x0, win.y0, win.width(), win.height()).to_image();
        let m =
            image::imageops::crop_imm(mask, win.x0, win.y0, win.width(), win.height()).to_image();
        let filled = fill_window(model, &crop, &m, max_side, opts.feather, device);
        let pasted = paste_holes(&crop, &filled, &m);
        image::imageops::replace(&mut out, &pasted, win.x0 as i64, win.y0 as i64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_with(w: u32, h: u32, boxes: &[(u32, u32, u32, u32)]) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let inside = boxes
                .iter()
                .any(|&(x0, y0, x1, y1)| (x0..x1).contains(&x) && (y0..y1).contains(&y));
            Luma([if inside { HOLE } else { 0 }])
        })
    }

    #[test]
    fn windows_cover_each_group_with_context_and_merge_overlaps() {
        let m = mask_with(
            400,
            300,
            &[(10, 10, 20, 20), (300, 200, 310, 260), (30, 12, 40, 18)],
        );
        let ws = windows(&m, 64);
        // The two groups near the top-left share one window; the third has its own.
        assert_eq!(ws.len(), 2, "{ws:?}");
        for w in &ws {
            assert!(w.width() >= 64 && w.height() >= 64, "{w:?}");
            assert!(w.x1 <= 400 && w.y1 <= 300);
        }
        let far = ws.iter().find(|w| w.x0 > 100).unwrap();
        // 60 px tall group: 30 px of context above and below.
        assert_eq!((far.y0, far.y1), (170, 290), "{far:?}");
    }

    #[test]
    fn unmasked_pixels_come_back_bit_exact_at_odd_sizes_and_in_windows() {
        use crate::models::inpaint::{InpaintGeneratorConfig, InpaintMeta};
        let device = Device::flex();
        let model = LoadedInpainter {
            net: InpaintGeneratorConfig::new().with_width(4).init(&device),
            meta: InpaintMeta {
                generator: InpaintGeneratorConfig::new().with_width(4),
                size: 32,
                masks: vec![],
            },
            trained_with: None,
        };
        let img = RgbImage::from_fn(203, 157, |x, y| {
            image::Rgb([
                (x * 7 % 251) as u8,
                (y * 3 % 256) as u8,
                ((x + y) % 200) as u8,
            ])
        });
        // Three groups far apart (three windows), one large enough to be filled scaled down.
        let mask = mask_with(
            203,
            157,
            &[(5, 5, 9, 12), (150, 20, 160, 23), (70, 90, 120, 140)],
        );
        let ws = windows(&mask, 32);
        assert!(ws.len() >= 2, "{ws:?}");
        for (m, max_window) in [(Some(&model), Some(48)), (Some(&model), None), (None, None)] {
            let opts = InpaintOptions {
                feather: 6,
                max_window,
            };
            let out = inpaint(&img, &mask, m, &opts, &device).unwrap();
            assert_eq!(out.dimensions(), img.dimensions());
            let mut changed = 0;
            for ((o, i), k) in out.pixels().zip(img.pixels()).zip(mask.pixels()) {
                if is_hole(k.0[0]) {
                    changed += usize::from(o != i);
                } else {
                    assert_eq!(o, i, "an unmasked pixel changed");
                }
            }
            assert!(changed > 1000, "the holes were not filled: {changed}");
        }
    }

    #[test]
    fn masks_are_resized_thresholded_and_refused_when_full() {
        let grey = GrayImage::from_fn(10, 10, |x, _| Luma([(x * 25) as u8]));
        let p = prepare_mask(grey, 20, 20).unwrap();
        assert_eq!(p.mask.dimensions(), (20, 20));
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
        assert!(p.mask.pixels().all(|v| v.0[0] == 0 || v.0[0] == HOLE));
        let full = GrayImage::from_pixel(5, 5, Luma([255]));
        assert!(prepare_mask(full, 5, 5).is_err());
        let empty = prepare_mask(GrayImage::new(5, 5), 5, 5).unwrap();
        assert!(empty.notes[0].contains("empty"));
    }

    #[test]
    fn a_colour_painted_copy_gives_the_mask() {
        let mut img = RgbImage::from_pixel(8, 8, image::Rgb([10, 200, 30]));
        img.put_pixel(3, 4, image::Rgb([250, 2, 252]));
        let m = mask_from_colour(&img, [255, 0, 255], 10);
        assert_eq!(m.pixels().filter(|p| p.0[0] == HOLE).count(), 1);
        assert_eq!(m.get_pixel(3, 4).0[0], HOLE);
    }
}
