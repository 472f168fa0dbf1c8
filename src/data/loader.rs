//! Batches decoded on background threads.
//!
//! The data is an endless stream: epoch `e` is a permutation of the dataset seeded by
//! `(seed, e)`, and stream sample `k` gets its own augmentation RNG seeded by `(seed, k)`.
//! So batch `b` is a pure function of `(seed, b)`: worker threads can build batches in any
//! order, and resuming only needs the next batch number.
//!
//! [`Stream`] does this for any [`Examples`] (a folder of images, pairs for translation);
//! [`BatchLoader`] is the stream over an image folder.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use burn::prelude::*;
use image::RgbImage;

use super::folder::ImageFolder;
use crate::imaging::io::{LoadOptions, load_rgb, resize_short_side};
use crate::imaging::tensor::{Range, push_chw};
use crate::util::rng::SeededRng;

/// A dataset a [`Stream`] draws from.
pub trait Examples: Send + Sync + 'static {
    type Batch: Send + 'static;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One batch from the picked examples: (dataset index, that sample's own RNG).
    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> Self::Batch;
}

/// Where batch `b` draws from: dataset indices (epoch permutations) and per-sample RNGs.
fn picks(
    n: u64,
    bs: usize,
    seed: u64,
    b: u64,
    perms: &mut HashMap<u64, Vec<u32>>,
) -> Vec<(usize, SeededRng)> {
    // A batch spans at most its first epoch and later ones: older permutations go.
    let first_epoch = b * bs as u64 / n;
    perms.retain(|e, _| *e >= first_epoch);
    (0..bs as u64)
        .map(|j| {
            let k = b * bs as u64 + j;
            let epoch = k / n;
            let perm = perms.entry(epoch).or_insert_with(|| {
                let mut p: Vec<u32> = (0..n as u32).collect();
                SeededRng::derived(seed, &[1, epoch]).shuffle(&mut p);
                p
            });
            (
                perm[(k % n) as usize] as usize,
                SeededRng::derived(seed, &[2, k]),
            )
        })
        .collect()
}

/// Yields batches `start, start+1, ...` of `examples` in order; `workers` threads decode
/// ahead.
pub struct Stream<B> {
    receivers: Vec<Receiver<B>>,
    start: u64,
    next: u64,
}

impl<B: Send + 'static> Stream<B> {
    pub fn new<E: Examples<Batch = B>>(
        examples: E,
        batch_size: usize,
        seed: u64,
        workers: usize,
        start_batch: u64,
    ) -> Self {
        let workers = workers.max(1);
        let n = examples.len().max(1) as u64;
        let bs = batch_size.max(1);
        let src = Arc::new(examples);
        let receivers = (0..workers as u64)
            .map(|w| {
                let (tx, rx) = sync_channel(2);
                let src = Arc::clone(&src);
                std::thread::spawn(move || {
                    let mut perms = HashMap::new();
                    let mut b = start_batch + w;
                    // Stops when the stream (the receiver) is dropped.
                    while tx
                        .send(src.collate(picks(n, bs, seed, b, &mut perms)))
                        .is_ok()
                    {
                        b += workers as u64;
                    }
                });
                rx
            })
            .collect();
        Self {
            receivers,
            start: start_batch,
            next: start_batch,
        }
    }

    /// The number of the batch `next_batch` will return: the stream's resume position.
    pub fn position(&self) -> u64 {
        self.next
    }

    pub fn next_batch(&mut self) -> B {
        // Worker w makes batches start + w, start + w + W, ...
        let w = ((self.next - self.start) % self.receivers.len() as u64) as usize;
        self.next += 1;
        self.receivers[w]
            .recv()
            .expect("data loader thread stopped unexpectedly")
    }
}

/// The batch at position `b` of a stream over `examples`, computed on this thread.
pub fn batch_at<E: Examples>(examples: &E, batch_size: usize, seed: u64, b: u64) -> E::Batch {
    let n = examples.len().max(1) as u64;
    examples.collate(picks(n, batch_size.max(1), seed, b, &mut HashMap::new()))
}

/// Random crop (or centre crop) and flip, the same for every image given (a pair stays
/// aligned). Images are first resized so their short side is `load_size`.
pub fn crop_and_flip(
    images: &[&RgbImage],
    size: u32,
    load_size: u32,
    random_crop: bool,
    flip: bool,
    rng: &mut SeededRng,
) -> Vec<RgbImage> {
    let resized: Vec<RgbImage> = images
        .iter()
        .map(|i| resize_short_side(i, load_size.max(size)))
        .collect();
    let (w, h) = resized[0].dimensions();
    let (x, y) = if random_crop {
        (
            rng.below((w - size + 1) as usize) as u32,
            rng.below((h - size + 1) as usize) as u32,
        )
    } else {
        ((w - size) / 2, (h - size) / 2)
    };
    let flipped = flip && rng.coin();
    resized
        .iter()
        .map(|img| {
            let mut out = image::imageops::crop_imm(img, x, y, size, size).to_image();
            if flipped {
                image::imageops::flip_horizontal_in_place(&mut out);
            }
            out
        })
        .collect()
}

/// The centre square of `img` at `side` pixels (sample sheets, thumbnails).
pub fn centre_square(img: &RgbImage, side: u32) -> RgbImage {
    crop_and_flip(&[img], side, side, false, false, &mut SeededRng::new(0)).remove(0)
}

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Output side length (square crops).
    pub size: u32,
    /// Short side after resizing, before the crop; `>= size`. Equal to `size` means the
    /// crop only trims the long side.
    pub load_size: u32,
    /// Random horizontal flips.
    pub flip: bool,
    /// Random crop position (else centre).
    pub random_crop: bool,
    pub seed: u64,
    /// Decoding threads.
    pub workers: usize,
}

/// One batch on the host, ready to become tensors.
#[derive(Clone, Debug)]
pub struct Batch {
    /// NCHW pixels in [-1, 1].
    pub pixels: Vec<f32>,
    pub labels: Vec<i64>,
    pub n: usize,
    pub size: usize,
}

impl Batch {
    pub fn images(&self, device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(self.pixels.clone(), [self.n, 3, self.size, self.size]),
            device,
        )
    }

    pub fn labels(&self, device: &Device) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(self.labels.clone(), [self.n]), device)
    }
}

/// An image folder as training examples: labelled, augmented crops.
struct FolderExamples {
    folder: ImageFolder,
    cfg: LoaderConfig,
    load: LoadOptions,
}

impl FolderExamples {
    fn sample(&self, index: usize, rng: &mut SeededRng) -> (RgbImage, i64) {
        let n = self.folder.len();
        // A file that passed the header probe can still fail to decode; fall back to the
        // next file so the stream stays deterministic, and say so once per file.
        for attempt in 0..n {
            let i = (index + attempt) % n;
            let (path, label) = &self.folder.items[i];
            match load_rgb(path, &self.load) {
                Ok(img) => {
                    let c = &self.cfg;
                    let crop =
                        crop_and_flip(&[&img], c.size, c.load_size, c.random_crop, c.flip, rng);
                    let img = crop.into_iter().next().expect("one image in, one out");
                    return (img, label.map(|l| l as i64).unwrap_or(0));
                }
                Err(e) => tracing::warn!("{e}; using another image instead"),
            }
        }
        panic!(
            "no image in {} could be decoded",
            self.folder.root.display()
        );
    }
}

impl Examples for FolderExamples {
    type Batch = Batch;

    fn len(&self) -> usize {
        self.folder.len()
    }

    fn collate(&self, picks: Vec<(usize, SeededRng)>) -> Batch {
        let s = self.cfg.size as usize;
        let mut pixels = Vec::with_capacity(picks.len() * 3 * s * s);
        let mut labels = Vec::with_capacity(picks.len());
        for (index, mut rng) in picks {
            let (img, label) = self.sample(index, &mut rng);
            push_chw(&img, Range::Signed, &mut pixels);
            labels.push(label);
        }
        Batch {
            n: labels.len(),
            pixels,
            labels,
            size: s,
        }
    }
}

/// The stream of batches over an image folder.
pub struct BatchLoader {
    stream: Stream<Batch>,
    pub classes: Vec<String>,
    pub len: usize,
}

impl BatchLoader {
    pub fn new(folder: ImageFolder, cfg: LoaderConfig, start_batch: u64) -> Self {
        let classes = folder.classes.clone();
        let len = folder.len();
        let (bs, seed, workers) = (cfg.batch_size, cfg.seed, cfg.workers);
        let examples = FolderExamples {
            folder,
            cfg,
            load: LoadOptions::default(),
        };
        Self {
            stream: Stream::new(examples, bs, seed, workers, start_batch),
            classes,
            len,
        }
    }

    /// The number of the batch `next_batch` will return: the loader's resume position.
    pub fn position(&self) -> u64 {
        self.stream.position()
    }

    pub fn next_batch(&mut self) -> Batch {
        self.stream.next_batch()
    }
}

/// Pick a sensible number of decoding threads: leave the cores to the training maths.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).clamp(1, 4))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::folder::FolderOptions;

    /// The batch a loader would produce at position `b`, computed on this thread.
    fn folder_batch_at(folder: &ImageFolder, cfg: &LoaderConfig, b: u64) -> Batch {
        let ex = FolderExamples {
            folder: folder.clone(),
            cfg: cfg.clone(),
            load: LoadOptions::default(),
        };
        batch_at(&ex, cfg.batch_size, cfg.seed, b)
    }

    fn folder(n: usize) -> (tempfile::TempDir, ImageFolder) {
        let d = tempfile::tempdir().unwrap();
        for i in 0..n {
            RgbImage::from_pixel(10, 8, image::Rgb([i as u8 * 20, 0, 0]))
                .save(d.path().join(format!("{i:02}.png")))
                .unwrap();
        }
        let f = ImageFolder::open(d.path(), &FolderOptions::default()).unwrap();
        (d, f)
    }

    fn cfg(workers: usize) -> LoaderConfig {
        LoaderConfig {
            batch_size: 3,
            size: 6,
            load_size: 6,
            flip: true,
            random_crop: true,
            seed: 5,
            workers,
        }
    }

    #[test]
    fn order_is_seeded_and_independent_of_threads_and_start() {
        let (_d, f) = folder(7);
        let mut a = BatchLoader::new(f.clone(), cfg(1), 0);
        let seq: Vec<_> = (0..6).map(|_| a.next_batch().pixels).collect();
        let mut b = BatchLoader::new(f.clone(), cfg(3), 0);
        for s in &seq {
            assert_eq!(&b.next_batch().pixels, s);
        }
        for start in [3, 4] {
            let mut c = BatchLoader::new(f.clone(), cfg(2), start);
            assert_eq!(c.next_batch().pixels, seq[start as usize]);
            assert_eq!(c.next_batch().pixels, seq[start as usize + 1]);
            assert_eq!(c.position(), start + 2);
        }
        assert_eq!(folder_batch_at(&f, &cfg(1), 2).pixels, seq[2]);
    }

    #[test]
    fn each_epoch_visits_every_image_once() {
        let (_d, f) = folder(6);
        let mut c = cfg(1);
        c.flip = false;
        c.batch_size = 2;
        let mut l = BatchLoader::new(f, c, 0);
        let mut reds: Vec<i32> = (0..3)
            .flat_map(|_| {
                let b = l.next_batch();
                let plane = 36;
                (0..2).map(move |k| ((b.pixels[k * 3 * plane] + 1.0) * 127.5).round() as i32)
            })
            .collect();
        reds.sort();
        assert_eq!(reds, vec![0, 20, 40, 60, 80, 100]);
    }
}
