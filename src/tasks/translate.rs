//! Image-to-image translation with a trained generator, at the input's own resolution.
//!
//! Large images go through in overlapping tiles that share the whole image's instance-norm
//! statistics (`nn::tiled`).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use image::RgbImage;

use crate::data::loader::centre_square;
use crate::data::pair_makers::PairMaker;
use crate::error::{AtelierError, Result};
use crate::imaging::tensor::Range;
use crate::imaging::{LoadOptions, load_rgb, save_image};
use crate::models::translator::Translator;
use crate::nn::norm::StatsHistory;
pub use crate::nn::tiled::Tiling;
use crate::nn::tiled::run_tiled;
use crate::util::rng::SeededRng;

/// Translate one image of any size (see [`run_tiled`]); `history` carries instance-norm
/// statistics across a video's frames.
pub fn translate_image(
    net: &Translator,
    img: &RgbImage,
    tiling: Tiling,
    history: Option<&Arc<StatsHistory>>,
    device: &Device,
) -> RgbImage {
    run_tiled(
        img,
        tiling,
        net.tiles_exactly(),
        Range::Signed,
        device,
        |x, _, ctx| {
            ctx.set_history(history.cloned());
            net.forward_with(x, ctx)
        },
    )
}

/// What [`translate_files`] does with each image besides translating it.
#[derive(Clone, Debug)]
pub struct FileOptions {
    pub tiling: Tiling,
    /// First turn each input into what the model restores (`translate --degrade`).
    pub degrade: Option<PairMaker>,
    /// Seed of the degradation (image `k` gets stream `k`).
    pub seed: u64,
    /// Collect before/after sheet rows (256 px squares).
    pub sheet: bool,
}

/// Translate each planned `(input, output)` file (see [`plan_outputs`]) and write the
/// result; `done` is called after each. Returns the sheet rows (input | output, plus the
/// original when degrading) when `opts.sheet`.
pub fn translate_files(
    net: &Translator,
    plan: &[(PathBuf, PathBuf)],
    opts: &FileOptions,
    device: &Device,
    mut done: impl FnMut(),
) -> Result<Vec<Vec<RgbImage>>> {
    let mut rows = vec![];
    for (k, (src, dst)) in plan.iter().enumerate() {
        let original = load_rgb(src, &LoadOptions::default())?;
        let img = match opts.degrade {
            Some(m) => m.make(&original, &mut SeededRng::derived(opts.seed, &[k as u64])),
            None => original.clone(),
        };
        let out = translate_image(net, &img, opts.tiling, None, device);
        save_image(&out, dst)?;
        if opts.sheet {
            let mut row = vec![centre_square(&img, 256), centre_square(&out, 256)];
            if opts.degrade.is_some() {
                row.push(centre_square(&original, 256));
            }
            rows.push(row);
        }
        done();
    }
    Ok(rows)
}

/// `p` made absolute with symlinks resolved, also when it (or its tail) does not exist yet:
/// the longest existing ancestor is canonicalised and the rest appended.
pub fn real_path(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut tail = Vec::new();
    let mut head = abs.as_path();
    loop {
        if let Ok(real) = head.canonicalize() {
            return tail.iter().rev().fold(real, |acc, c| acc.join(c));
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                head = parent;
            }
            _ => return abs,
        }
    }
}

/// Where each input's result goes. A folder's images keep their sub-folders under the output
/// folder (with several inputs, under the folder's own name too), a file goes to
/// `OUT/<name>.png`. Refused: an output folder that is, or is inside, an input folder (results
/// would mix with the sources and could replace them) and any output that would land on an
/// input. Names that still meet (`a.jpg` and `a.png` side by side) get `-2`, `-3` suffixes,
/// so no result overwrites another.
pub fn plan_outputs(inputs: &[PathBuf], out: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let out_real = real_path(out);
    let mut sources: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let dir_real = real_path(input);
            if out_real.starts_with(&dir_real) {
                return Err(AtelierError::Config(format!(
                    "the output folder {} is inside the input folder {}; results would mix \
                     with (and could replace) the originals: choose an output folder outside it",
                    out.display(),
                    input.display()
                )));
            }
            let prefix = if inputs.len() > 1 {
                dir_real.file_name().map(PathBuf::from).unwrap_or_default()
            } else {
                PathBuf::new()
            };
            for f in crate::data::translation::image_files(input)? {
                let rel = f.strip_prefix(input).unwrap_or(&f);
                let rel: PathBuf = rel
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .collect();
                sources.push((f.clone(), prefix.join(rel)));
            }
        } else {
            let name = input.file_name().map(PathBuf::from).unwrap_or_default();
            sources.push((input.clone(), name));
        }
    }
    let input_files: HashSet<PathBuf> = sources.iter().map(|(f, _)| real_path(f)).collect();
    let mut taken = HashSet::new();
    let mut plan = Vec::with_capacity(sources.len());
    for (src, rel) in sources {
        let base = out.join(rel.with_extension(""));
        let mut dst = base.with_extension("png");
        let mut k = 2;
        let mut real = real_path(&dst);
        while taken.contains(&real) {
            let stem = base.file_name().unwrap_or_default().to_string_lossy();
            dst = base.with_file_name(format!("{stem}-{k}.png"));
            real = real_path(&dst);
            k += 1;
        }
        if input_files.contains(&real) {
            return Err(AtelierError::Config(format!(
                "the result for {} would be written over the input {}; choose another \
                 output folder",
                src.display(),
                dst.display()
            )));
        }
        taken.insert(real);
        plan.push((src, dst));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::translator::{GeneratorArch, TranslatorConfig, translate_batch};
    use crate::nn::tiled::spans;

    #[test]
    fn outputs_mirror_sub_folders_and_never_land_on_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        for sub in ["a", "b"] {
            std::fs::create_dir_all(input.join(sub)).unwrap();
            crate::imaging::save_image(&RgbImage::new(4, 4), &input.join(sub).join("x.png"))
                .unwrap();
        }
        // A JPEG beside a PNG of the same stem.
        crate::imaging::save_image(&RgbImage::new(4, 4), &input.join("a/x.jpg")).unwrap();
        let out = dir.path().join("out");
        let plan = plan_outputs(std::slice::from_ref(&input), &out).unwrap();
        let mut dsts: Vec<PathBuf> = plan.iter().map(|(_, d)| d.clone()).collect();
        dsts.sort();
        assert_eq!(
            dsts,
            vec![
                out.join("a/x-2.png"),
                out.join("a/x.png"),
                out.join("b/x.png")
            ]
        );

        // Output equal to, or inside, the input folder: refused.
        for bad in [input.clone(), input.join("a"), input.join("new")] {
            let err = plan_outputs(std::slice::from_ref(&input), &bad).unwrap_err();
            assert!(err.to_string().contains("inside the input folder"), "{err}");
        }
        // A file input whose result would replace it.
        let file = input.join("a/x.png");
        let err = plan_outputs(std::slice::from_ref(&file), &input.join("a")).unwrap_err();
        assert!(err.to_string().contains("over the input"), "{err}");
    }

    #[test]
    fn spans_cover_the_axis_with_partitioning_cores() {
        for (len, tile, overlap) in [(100, 40, 8), (64, 64, 16), (257, 64, 16), (90, 48, 24)] {
            let s = spans(len, tile, overlap);
            assert_eq!(s[0].2, 0);
            assert_eq!(s.last().unwrap().3, len);
            for (k, &(a, b, c0, c1)) in s.iter().enumerate() {
                assert!(
                    a % 4 == 0 && b - a < tile + 4 && a <= c0 && c0 < c1 && c1 <= b,
                    "{s:?}"
                );
                if k > 0 {
                    assert_eq!(c0, s[k - 1].3, "cores meet: {s:?}");
                }
            }
        }
    }

    /// The largest channel difference of two pixels.
    fn pixel_diff(p: &image::Rgb<u8>, q: &image::Rgb<u8>) -> i32 {
        (0..3)
            .map(|c| (p.0[c] as i32 - q.0[c] as i32).abs())
            .max()
            .unwrap()
    }

    /// Tiled translation equals untiled translation away from the tile overlaps.
    #[test]
    fn tiled_equals_untiled_away_from_seams() {
        let d = Device::flex();
        d.seed(3);
        let net = TranslatorConfig::new(GeneratorArch::Resnet)
            .with_width(4)
            .with_blocks(1)
            .init(&d);
        let img = RgbImage::from_fn(150, 110, |x, y| {
            image::Rgb([
                (x * 255 / 150) as u8,
                (y * 255 / 110) as u8,
                (((x / 9 + y / 7) % 2) * 200) as u8,
            ])
        });
        let whole = translate_batch(&net, std::slice::from_ref(&img), &d).remove(0);
        let tiling = Tiling {
            tile: 64,
            overlap: 24,
            align: 4,
        };
        let tiled = translate_image(&net, &img, tiling, None, &d);
        let (xs, ys) = (spans(150, 64, 24), spans(110, 64, 24));
        let in_overlap = |p: usize, s: &[(usize, usize, usize, usize)]| {
            s.windows(2).any(|w| p >= w[1].0 && p < w[0].1)
        };
        let (mut worst, mut seams) = (0i32, 0i32);
        for (x, y, p) in tiled.enumerate_pixels() {
            let q = whole.get_pixel(x, y);
            let diff = pixel_diff(p, q);
            if in_overlap(x as usize, &xs) || in_overlap(y as usize, &ys) {
                seams = seams.max(diff);
            } else {
                worst = worst.max(diff);
            }
        }
        assert!(worst <= 3, "away from seams differs by {worst}/255");
        // Tiles normalised by their own statistics, for contrast, differ visibly.
        let crop = |im: &RgbImage, (y0, y1, x0, x1): (usize, usize, usize, usize)| {
            image::imageops::crop_imm(im, x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32)
                .to_image()
        };
        let naive: Vec<i32> = ys
            .iter()
            .flat_map(|&(y0, y1, _, _)| xs.iter().map(move |&(x0, x1, _, _)| (y0, y1, x0, x1)))
            .map(|r| {
                let out = translate_batch(&net, &[crop(&img, r)], &d).remove(0);
                let reference = crop(&whole, r);
                out.pixels()
                    .zip(reference.pixels())
                    .map(|(p, q)| pixel_diff(p, q))
                    .max()
                    .unwrap()
            })
            .collect();
        assert!(
            naive.iter().max().unwrap() > &20,
            "own-statistics tiles differ by {naive:?} (shared: {worst}, seams {seams})"
        );
    }
}
