#![allow(dead_code)]
//! Helpers shared by the integration tests: tiny synthetic image folders, and the rule for
//! tests that need `../shared/data`.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// A folder with `per_class` images in each of `classes` sub-folders. Class k is a flat
/// colour `colours[k]` with a little deterministic texture.
pub fn class_folder(root: &Path, colours: &[[u8; 3]], per_class: usize, size: u32) {
    for (k, c) in colours.iter().enumerate() {
        let dir = root.join(format!("class-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let img = RgbImage::from_fn(size, size, |x, y| {
                let j = ((x * 7 + y * 13 + i as u32 * 5) % 11) as i32 - 5;
                Rgb(c.map(|v| (v as i32 + j).clamp(0, 255) as u8))
            });
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// The shared data folder, or `None` (after printing why) when it is absent outside CI.
/// In CI (`CI` set) a missing folder is a test failure: the data must be there.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let p = atelier::data::shared_data_root().join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the shared data {} is missing", p.display());
    }
    eprintln!(
        "skipping: shared data {} not found (set ATELIER_DATA)",
        p.display()
    );
    None
}
