//! Training data for image-to-image translation: aligned pairs (A, B) for pix2pix, or two
//! unrelated collections for CycleGAN.
//!
//! Pairs come from two folders matched by file name, from side-by-side images (A on the
//! left half, B on the right, the pix2pix convention), or are made from one folder of
//! paintings by a [`PairMaker`]. Both images of a pair get the same crop and flip.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::loader::{Examples, crop_and_flip};
use super::pair_makers::PairMaker;
use super::paired::match_by_name;
use super::{FolderOptions, ImageFolder};
use crate::error::{AtelierError, Result};
use crate::imaging::io::{LoadOptions, load_rgb, probe};
use crate::imaging::tensor::{Range, push_chw};
use crate::util::rng::SeededRng;

/// What to do with images smaller than the training crop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SmallImages {
    /// Refuse to train, naming them (enlarging would teach the network blur).
    #[default]
    Error,
    /// Leave them out.
    Skip,
    /// Enlarge them to the crop size.
    Upscale,
}

/// How training crops are cut.
#[derive(Clone, Copy, Debug)]
pub struct CropConfig {
    pub size: u32,
    /// Short side after resizing, before the random crop (pix2pix: 286 for 256).
    pub load_size: u32,
    pub flip: bool,
}

impl CropConfig {
    /// The pix2pix/CycleGAN jitter: resize to 1.12x, random crop back.
    pub fn jittered(size: u32) -> Self {
        Self {
            size,
            load_size: (size as f32 * 1.12).round() as u32,
            flip: true,
        }
    }
}

/// Where the pairs come from.
#[derive(Clone, Debug)]
pub enum PairSource {
    /// (A file, B file).
    Files(Vec<(PathBuf, PathBuf)>),
    /// Images holding A on the left half and B on the right.
    SideBySide(Vec<PathBuf>),
    /// B files; A is made from each.
    Made(Vec<PathBuf>, PairMaker),
}

impl PairSource {
    /// Two folders matched by name, or (without `b`) side-by-side images or, with a maker,
    /// pairs made from one folder.
    pub fn open(a: &Path, b: Option<&Path>, maker: Option<PairMaker>) -> Result<Self> {
        Ok(match (b, maker) {
            (Some(_), Some(_)) => {
                return Err(AtelierError::Config(
                    "--pairs makes pairs from one folder (--a); leave out --b".into(),
                ));
            }
            (Some(b), None) => PairSource::Files(match_by_name(a, b)?),
            (None, Some(m)) => PairSource::Made(image_files(a)?, m),
            (None, None) => PairSource::SideBySide(image_files(a)?),
        })
    }

    pub fn len(&self) -> usize {
        match self {
            PairSource::Files(v) => v.len(),
            PairSource::SideBySide(v) | PairSource::Made(v, _) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file that decides item `i`'s size (the A side of a file pair).
    fn key_file(&self, i: usize) -> &Path {
        match self {
            PairSource::Files(v) => &v[i].0,
            PairSource::SideBySide(v) | PairSource::Made(v, _) => &v[i],
        }
    }

    fn retain(&mut self, keep: &[bool]) {
        let mut k = keep.iter();
        match self {
            PairSource::Files(v) => v.retain(|_| *k.next().unwrap_or(&true)),
            PairSource::SideBySide(v) | PairSource::Made(v, _) => {
                v.retain(|_| *k.next().unwrap_or(&true))
            }
        }
    }

    /// Split off every item whose index is in `take` (sorted), keeping the rest.
    fn split_off(&mut self, take: &[usize]) -> Self {
        let keep: Vec<bool> = (0..self.len())
            .map(|i| take.binary_search(&i).is_err())
            .collect();
        let mut taken = self.clone();
        let inverse: Vec<bool> = keep.iter().map(|k| !k).collect();
        taken.retain(&inverse);
        self.retain(&keep);
        taken
    }

    /// Item `i` as decoded (A, B), same size; damage is seeded by `rng`. Not yet cropped
    /// (made pairs are made after the crop, see [`PairedExamples`]).
    fn load(&self, i: usize, opts: &LoadOptions) -> Result<(RgbImage, Option<RgbImage>)> {
        match self {
            PairSource::Files(v) => {
                let a = load_rgb(&v[i].0, opts)?;
                let mut b = load_rgb(&v[i].1, opts)?;
                if b.dimensions() != a.dimensions() {
                    // Same scene at another resolution: bring B onto A's pixel grid.
                    b = image::imageops::resize(
                        &b,
                        a.width(),
                        a.height(),
                        image::imageops::FilterType::Triangle,
                    );
                }
                Ok((a, Some(b)))
            }
            PairSource::SideBySide(v) => {
                let ab = load_rgb(&v[i], opts)?;
                let half = ab.width() / 2;
                let a = image::imageops::crop_imm(&ab, 0, 0, half, ab.height()).to_image();
                let b = image::imageops::crop_imm(&ab, half, 0, half, ab.height()).to_image();
                Ok((a, Some(b)))
            }
            PairSource::Made(v, _) => Ok((load_rgb(&v[i], opts)?, None)),
        }
    }
}

/// Every image file under `dir`, sorted.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let f = ImageFolder::open(dir, &FolderOptions::default())?;
    Ok(f.items.into_iter().map(|(p, _)| p).collect())
}

/// Apply the small-image policy: the kept flags, or an error naming the small images.
fn check_sizes(
    files: &[&Path],
    side_by_side: bool,
    size: u32,
    policy: SmallImages,
    what: &str,
) -> Result<Vec<bool>> {
    let opts = LoadOptions::default();
    let mut keep = Vec::with_capacity(files.len());
    let mut small = Vec::new();
    for f in files {
        let (mut w, h) = probe(f, &opts)?;
        if side_by_side {
            w /= 2;
        }
        let ok = w.min(h) >= size;
        if !ok {
            small.push(format!("{} ({w}x{h})", f.display()));
        }
        keep.push(ok || policy == SmallImages::Upscale);
    }
    if small.is_empty() || policy == SmallImages::Upscale {
        return Ok(keep);
    }
    let listed = small.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    let msg = format!(
        "{} of {} {what} images are smaller than the {size} px training crop (e.g. {listed})",
        small.len(),
        files.len()
    );
    match policy {
        SmallImages::Error => Err(AtelierError::Dataset(format!(
            "{msg}; pass --small skip to leave them out or --small upscale to enlarge them"
        ))),
        SmallImages::Skip if small.len() == files.len() => Err(AtelierError::Dataset(format!(
            "{msg}: --small skip leaves nothing to train on"
        ))),
        _ => {
            eprintln!("warning: {msg}; leaving them out (--small skip)");
            Ok(keep)
        }
    }
}

/// One batch of (A, B) images, NCHW in [-1, 1].
#[derive(Clone, Debug)]
pub struct PairBatch {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub n: usize,
    pub size: usize,
}

impl PairBatch {
    fn tensor(&self, v: &[f32], device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [self.n, 3, self.size, self.size]),
            device,
        )
    }
    pub fn a(&self, device: &Device) -> Tensor<4> {
        self.tensor(&self.a, device)
    }
    pub fn b(&self, device: &Device) -> Tensor<4> {
        self.tensor(&self.b, device)
    }

    fn collect(pairs: impl Iterator<Item = (RgbImage, RgbImage)>, size: u32) -> Self {
        let (mut a, mut b, mut n) = (Vec::new(), Vec::new(), 0);
        for (x, y) in pairs {
            push_chw(&x, Range::Signed, &mut a);
            push_chw(&y, Range::Signed, &mut b);
            n += 1;
        }
        PairBatch {
            a,
            b,
            n,
            size: size as usize,
        }
    }
}

/// Aligned pairs for pix2pix.
#[derive(Clone, Debug)]
pub struct PairedExamples {
    pub source: PairSource,
    pub crop: CropConfig,
}

impl PairedExamples {
    /// Check sizes under `policy`, then split off a validation set: `val` items chosen by
    /// `seed`. Returns (training, validation).
    pub fn new(
        mut source: PairSource,
        crop: CropConfig,
        policy: SmallImages,
        val: usize,
        seed: u64,
    ) -> Result<(Self, Self)> {
        let files: Vec<&Path> = (0..source.len()).map(|i| source.key_file(i)).collect();
        let side = matches!(source, PairSource::SideBySide(_));
        let keep = check_sizes(&files, side, crop.size, policy, "paired")?;
        source.retain(&keep);
        let n = source.len();
        if n < 2 {
            return Err(AtelierError::Dataset(format!(
                "paired training needs at least 2 pairs, found {n}"
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        SeededRng::derived(seed, &[7]).shuffle(&mut order);
        let mut take: Vec<usize> = order.into_iter().take(val.min(n - 1)).collect();
        take.sort();
        let val_source = source.split_off(&take);
        let fixed = CropConfig {
            load_size: crop.size,
            flip: false,
            ..crop
        };
        Ok((
            Self { source, crop },
            Self {
                source: val_source,
                crop: fixed,
            },
        ))
    }

    /// Pair `i`, cropped and flipped by `rng` (a centre crop when `load_size == size`
    /// and flips are off, as for validation).
    pub fn pair(&self, index: usize, rng: &mut SeededRng) -> Result<(RgbImage, RgbImage)> {
        let (a, b) = self.source.load(index, &LoadOptions::default())?;
        let c = self.crop;
        let random = c.load_size > c.size;
        match b {
            Some(b) => {
                let mut v = crop_and_flip(&[&a, &b], c.size, c.load_size, random, c.flip, rng);
                let b = v.pop().expect("two images");
                Ok((v.pop().expect("two images"), b))
            }
            None => {
                let clean = crop_and_flip(&[&a], c.size, c.load_size, random, c.flip, rng)
                    .pop()
                    .expect("one image");
                let PairSource::Made(_, maker) = &self.source else {
                    unreachable!("only made pairs load without B")
                };
                Ok((maker.make(&clean, rng), clean))
            }
        }
    }

    /// Every pair, deterministically (validation and sample sheets).
    pub fn all(&self, limit: usize) -> Result<Vec<(RgbImage, RgbImage)>> {
        (0..self.source.len().min(limit))
            .map(|i| self.pair(i, &mut SeededRng::derived(0, &[i as u64])))
            .collect()
    }
}

/// Decode with fallback to the next item so the stream stays deterministic.
fn first_ok<T>(n: usize, index: usize, mut f: impl FnMut(usize) -> Result<T>) -> T {
    for attempt in 0..n {
        match f((index + attempt) % n) {
            Ok(v) => return v,
            Err(e) => tracing::warn!("{e}; using another image instead"),
        }
    }
    panic!("no training image could be decoded")
}

impl Examples for PairedExamples {
    type Batch = PairBatch;

    fn len(&self) -> usize {
        self.source.len()
    }

    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> PairBatch {
        let n = self.len();
        PairBatch::collect(
            picks
                .into_iter()
                .map(|(i, mut rng)| first_ok(n, i, |j| self.pair(j, &mut rng))),
            self.crop.size,
        )
    }
}

/// Two unrelated collections for CycleGAN. The stream walks A; each A image meets a random
/// B image (as in CycleGAN), so the collections may differ in size.
#[derive(Clone, Debug)]
pub struct UnpairedExamples {
    pub a: Vec<PathBuf>,
    pub b: Vec<PathBuf>,
    pub crop: CropConfig,
}

impl UnpairedExamples {
    /// The images under every folder in `a` and in `b`, with the small-image policy applied.
    pub fn open(
        a: &[PathBuf],
        b: &[PathBuf],
        crop: CropConfig,
        policy: SmallImages,
    ) -> Result<Self> {
        let side = |dirs: &[PathBuf], name: &str| -> Result<Vec<PathBuf>> {
            let mut files = Vec::new();
            for d in dirs {
                files.extend(image_files(d)?);
            }
            let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
            let keep = check_sizes(&refs, false, crop.size, policy, name)?;
            let mut k = keep.iter();
            files.retain(|_| *k.next().unwrap_or(&true));
            Ok(files)
        };
        Ok(Self {
            a: side(a, "domain A")?,
            b: side(b, "domain B")?,
            crop,
        })
    }

    fn one(&self, path: &Path, rng: &mut SeededRng) -> Result<RgbImage> {
        let img = load_rgb(path, &LoadOptions::default())?;
        let c = self.crop;
        Ok(crop_and_flip(
            &[&img],
            c.size,
            c.load_size,
            c.load_size > c.size,
            c.flip,
            rng,
        )
        .pop()
        .expect("one image"))
    }

    /// The first `limit` images of each side, centre-cropped (sample sheets).
    pub fn fixed(&self, limit: usize) -> Result<(Vec<RgbImage>, Vec<RgbImage>)> {
        let centre = Self {
            crop: CropConfig {
                load_size: self.crop.size,
                flip: false,
                ..self.crop
            },
            ..self.clone()
        };
        let take = |v: &[PathBuf]| -> Result<Vec<RgbImage>> {
            v.iter()
                .take(limit)
                .map(|p| centre.one(p, &mut SeededRng::new(0)))
                .collect()
        };
        Ok((take(&self.a)?, take(&self.b)?))
    }
}

impl Examples for UnpairedExamples {
    type Batch = PairBatch;

    fn len(&self) -> usize {
        self.a.len()
    }

    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> PairBatch {
        PairBatch::collect(
            picks.into_iter().map(|(i, mut rng)| {
                let j = rng.below(self.b.len());
                let a = first_ok(self.a.len(), i, |k| self.one(&self.a[k], &mut rng));
                let b = first_ok(self.b.len(), j, |k| self.one(&self.b[k], &mut rng));
                (a, b)
            }),
            self.crop.size,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loader::batch_at;

    fn save(path: &Path, img: &RgbImage) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        img.save(path).unwrap();
    }

    #[test]
    fn pairs_stay_aligned_through_crop_and_flip() {
        let d = tempfile::tempdir().unwrap();
        // A is a gradient; B is A inverted, so an aligned crop keeps a + b = 255.
        for i in 0..4u32 {
            let a = RgbImage::from_fn(24, 20, |x, y| {
                image::Rgb([(x * 10) as u8, (y * 12) as u8, i as u8 * 40])
            });
            let b = RgbImage::from_fn(24, 20, |x, y| {
                let p = a.get_pixel(x, y).0;
                image::Rgb([255 - p[0], 255 - p[1], 255 - p[2]])
            });
            save(&d.path().join(format!("a/{i}.png")), &a);
            save(&d.path().join(format!("b/{i}.png")), &b);
        }
        let src = PairSource::open(&d.path().join("a"), Some(&d.path().join("b")), None).unwrap();
        let crop = CropConfig {
            size: 16,
            load_size: 16,
            flip: true,
        };
        let (train, val) = PairedExamples::new(src, crop, SmallImages::Error, 1, 0).unwrap();
        assert_eq!((train.len(), val.source.len()), (3, 1));
        for b in 0..4 {
            let batch = batch_at(&train, 2, 9, b);
            assert_eq!(batch.n, 2);
            for (x, y) in batch.a.iter().zip(&batch.b) {
                assert!((x + y).abs() < 1e-5, "{x} + {y}");
            }
        }
        // Too small for a 32 px crop: an error naming the files, or skipped, or upscaled.
        let src =
            || PairSource::open(&d.path().join("a"), Some(&d.path().join("b")), None).unwrap();
        let big = CropConfig::jittered(32);
        let err = PairedExamples::new(src(), big, SmallImages::Error, 1, 0).unwrap_err();
        assert!(
            err.to_string().contains("smaller than the 32 px") && err.to_string().contains("24x20"),
            "{err}"
        );
        assert!(PairedExamples::new(src(), big, SmallImages::Skip, 1, 0).is_err());
        let (up, _) = PairedExamples::new(src(), big, SmallImages::Upscale, 1, 0).unwrap();
        assert_eq!(batch_at(&up, 1, 0, 0).a.len(), 3 * 32 * 32);
    }

    #[test]
    fn side_by_side_and_made_pairs() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..3u8 {
            let ab = RgbImage::from_fn(32, 16, |x, _| {
                image::Rgb(if x < 16 { [10 + i, 0, 0] } else { [0, 200, 0] })
            });
            save(&d.path().join(format!("ab/{i}.png")), &ab);
        }
        let crop = CropConfig {
            size: 16,
            load_size: 16,
            flip: false,
        };
        let src = PairSource::open(&d.path().join("ab"), None, None).unwrap();
        let (train, _) = PairedExamples::new(src, crop, SmallImages::Error, 0, 0).unwrap();
        let (a, b) = train.pair(0, &mut SeededRng::new(0)).unwrap();
        assert_eq!(a.get_pixel(15, 8).0, [10, 0, 0]);
        assert_eq!(b.get_pixel(0, 8).0, [0, 200, 0]);

        let src = PairSource::open(&d.path().join("ab"), None, Some(PairMaker::Gray)).unwrap();
        let (train, _) = PairedExamples::new(src, crop, SmallImages::Error, 0, 0).unwrap();
        let (a, b) = train.pair(1, &mut SeededRng::new(0)).unwrap();
        assert!(a.pixels().all(|p| p.0[0] == p.0[1]));
        assert!(b.pixels().any(|p| p.0[0] != p.0[1]));
        assert!(
            PairSource::open(&d.path().join("ab"), Some(d.path()), Some(PairMaker::Gray)).is_err()
        );
    }

    #[test]
    fn unpaired_batches_draw_from_both_sides() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..3 {
            save(
                &d.path().join(format!("a/{i}.png")),
                &RgbImage::from_pixel(20, 20, image::Rgb([255, 0, 0])),
            );
        }
        save(
            &d.path().join("b/x.png"),
            &RgbImage::from_pixel(20, 20, image::Rgb([0, 0, 255])),
        );
        save(
            &d.path().join("c/y.png"),
            &RgbImage::from_pixel(8, 8, image::Rgb([0, 0, 255])),
        );
        let crop = CropConfig::jittered(16);
        let ex = UnpairedExamples::open(
            &[d.path().join("a")],
            &[d.path().join("b")],
            crop,
            SmallImages::Error,
        )
        .unwrap();
        let batch = batch_at(&ex, 4, 1, 0);
        assert_eq!(batch.n, 4);
        assert!(batch.a.iter().take(256).all(|v| *v == 1.0));
        assert!(batch.b.iter().take(256).all(|v| *v == -1.0));
        let two = UnpairedExamples::open(
            &[d.path().join("a")],
            &[d.path().join("b"), d.path().join("c")],
            crop,
            SmallImages::Skip,
        )
        .unwrap();
        assert_eq!(two.b.len(), 1);
    }
}
