//! Batches decoded on background threads.
//!
//! The data is an endless stream: epoch `e` is a permutation of the dataset seeded by
//! `(seed, e)`, and stream sample `k` gets its own augmentation RNG seeded by `(seed, k)`.
//! So batch `b` is a pure function of `(seed, b)`: worker threads can build batches in any
//! order, and resuming only needs the next batch number.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use burn::prelude::*;
use image::RgbImage;

use super::folder::ImageFolder;
use crate::imaging::io::{LoadOptions, load_rgb, resize_short_side};
use crate::imaging::tensor::{Range, push_chw};
use crate::util::rng::SeededRng;

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

struct Source {
    folder: ImageFolder,
    cfg: LoaderConfig,
    load: LoadOptions,
}

impl Source {
    fn permutation(&self, epoch: u64) -> Vec<u32> {
        let mut p: Vec<u32> = (0..self.folder.len() as u32).collect();
        SeededRng::derived(self.cfg.seed, &[1, epoch]).shuffle(&mut p);
        p
    }

    fn sample(&self, index: usize, rng: &mut SeededRng) -> (RgbImage, i64) {
        let n = self.folder.len();
        // A file that passed the header probe can still fail to decode; fall back to the
        // next file so the stream stays deterministic, and say so once per file.
        for attempt in 0..n {
            let i = (index + attempt) % n;
            let (path, label) = &self.folder.items[i];
            match load_rgb(path, &self.load) {
                Ok(img) => {
                    return (
                        self.augment(&img, rng),
                        label.map(|l| l as i64).unwrap_or(0),
                    );
                }
                Err(e) => tracing::warn!("{e}; using another image instead"),
            }
        }
        panic!(
            "no image in {} could be decoded",
            self.folder.root.display()
        );
    }

    fn augment(&self, img: &RgbImage, rng: &mut SeededRng) -> RgbImage {
        let s = self.cfg.size;
        let img = resize_short_side(img, self.cfg.load_size.max(s));
        let (w, h) = img.dimensions();
        let (x, y) = if self.cfg.random_crop {
            (
                rng.below((w - s + 1) as usize) as u32,
                rng.below((h - s + 1) as usize) as u32,
            )
        } else {
            ((w - s) / 2, (h - s) / 2)
        };
        let mut out = image::imageops::crop_imm(&img, x, y, s, s).to_image();
        if self.cfg.flip && rng.coin() {
            image::imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }

    fn batch(&self, b: u64, perms: &mut HashMap<u64, Vec<u32>>) -> Batch {
        let n = self.folder.len() as u64;
        let bs = self.cfg.batch_size;
        let mut pixels = Vec::with_capacity(bs * 3 * (self.cfg.size * self.cfg.size) as usize);
        let mut labels = Vec::with_capacity(bs);
        // A batch spans at most its first epoch and later ones: older permutations go.
        let first_epoch = b * bs as u64 / n;
        perms.retain(|e, _| *e >= first_epoch);
        for j in 0..bs as u64 {
            let k = b * bs as u64 + j;
            let epoch = k / n;
            let perm = perms
                .entry(epoch)
                .or_insert_with(|| self.permutation(epoch));
            let index = perm[(k % n) as usize] as usize;
            let mut rng = SeededRng::derived(self.cfg.seed, &[2, k]);
            let (img, label) = self.sample(index, &mut rng);
            push_chw(&img, Range::Signed, &mut pixels);
            labels.push(label);
        }
        Batch {
            pixels,
            labels,
            n: bs,
            size: self.cfg.size as usize,
        }
    }
}

/// Yields batches `start, start+1, ...` in order; `workers` threads decode ahead.
pub struct BatchLoader {
    receivers: Vec<Receiver<Batch>>,
    start: u64,
    next: u64,
    pub classes: Vec<String>,
    pub len: usize,
}

impl BatchLoader {
    pub fn new(folder: ImageFolder, cfg: LoaderConfig, start_batch: u64) -> Self {
        let workers = cfg.workers.max(1);
        let classes = folder.classes.clone();
        let len = folder.len();
        let src = Arc::new(Source {
            folder,
            cfg,
            load: LoadOptions::default(),
        });
        let receivers = (0..workers as u64)
            .map(|w| {
                let (tx, rx) = sync_channel(2);
                let src = Arc::clone(&src);
                std::thread::spawn(move || {
                    let mut perms = HashMap::new();
                    let mut b = start_batch + w;
                    // Stops when the loader (the receiver) is dropped.
                    while tx.send(src.batch(b, &mut perms)).is_ok() {
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
            classes,
            len,
        }
    }

    /// The number of the batch `next_batch` will return: the loader's resume position.
    pub fn position(&self) -> u64 {
        self.next
    }

    pub fn next_batch(&mut self) -> Batch {
        // Worker w makes batches start + w, start + w + W, ...
        let w = ((self.next - self.start) % self.receivers.len() as u64) as usize;
        self.next += 1;
        self.receivers[w]
            .recv()
            .expect("data loader thread stopped unexpectedly")
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
    fn batch_at(folder: &ImageFolder, cfg: &LoaderConfig, b: u64) -> Batch {
        let src = Source {
            folder: folder.clone(),
            cfg: cfg.clone(),
            load: LoadOptions::default(),
        };
        src.batch(b, &mut HashMap::new())
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
        assert_eq!(batch_at(&f, &cfg(1), 2).pixels, seq[2]);
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
