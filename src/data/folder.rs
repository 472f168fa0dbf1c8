//! A folder of images, searched recursively, with an optional class label per image taken
//! from its first sub-folder's name (`root/<class>/.../img.jpg`).

use std::path::{Path, PathBuf};

use crate::error::{AtelierError, Result};
use crate::imaging::io::{LoadOptions, probe};

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"];

#[derive(Clone, Debug, Default)]
pub struct FolderOptions {
    /// Label each image with the name of its first sub-folder.
    pub class_folders: bool,
    pub load: LoadOptions,
}

#[derive(Clone, Debug)]
pub struct ImageFolder {
    pub root: PathBuf,
    /// (file, class index) in a fixed, sorted order.
    pub items: Vec<(PathBuf, Option<usize>)>,
    /// Sorted class names; empty without class folders.
    pub classes: Vec<String>,
    /// Files that looked like images but could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .map(|e| EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

impl ImageFolder {
    /// Scan `root`. Unreadable files are skipped and counted (their headers are probed
    /// now, so training does not discover them one by one); no usable image is an error.
    pub fn open(root: &Path, opts: &FolderOptions) -> Result<Self> {
        if !root.is_dir() {
            return Err(AtelierError::Dataset(format!(
                "data folder {} does not exist or is not a folder",
                root.display()
            )));
        }
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
            .follow_links(true)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && is_image(e.path()))
            .map(|e| e.into_path())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(AtelierError::Dataset(format!(
                "no images in {} (looked recursively for {})",
                root.display(),
                EXTENSIONS.join(", ")
            )));
        }

        // Each file's class name (when classes are asked for), looked up once.
        let mut file_classes: Vec<Option<String>> = vec![None; files.len()];
        if opts.class_folders {
            for (f, slot) in files.iter().zip(&mut file_classes) {
                *slot = Some(class_of(root, f).ok_or_else(|| {
                    AtelierError::Dataset(format!(
                        "--conditional needs every image inside a class sub-folder of {}, \
                         but {} is directly in it",
                        root.display(),
                        f.display()
                    ))
                })?);
            }
        }
        let mut classes: Vec<String> = file_classes.iter().flatten().cloned().collect();
        classes.sort();
        classes.dedup();

        let mut items = Vec::new();
        let mut skipped = Vec::new();
        for (f, class) in files.into_iter().zip(file_classes) {
            match probe(&f, &opts.load) {
                Ok(_) => {
                    let label = class.and_then(|c| classes.binary_search(&c).ok());
                    items.push((f, label));
                }
                Err(e) => skipped.push((f, e.to_string())),
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(
                "skipped {} unreadable image(s) in {}; first: {}",
                skipped.len(),
                root.display(),
                skipped[0].1
            );
        }
        if items.is_empty() {
            return Err(AtelierError::Dataset(format!(
                "none of the {} image files in {} could be read; first error: {}",
                skipped.len(),
                root.display(),
                skipped[0].1
            )));
        }
        Ok(Self {
            root: root.to_path_buf(),
            items,
            classes,
            skipped,
        })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn class_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut comps = rel.components();
    let first = comps.next()?;
    // A file directly in root has only one component.
    comps.next()?;
    Some(first.as_os_str().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    #[test]
    fn classes_from_subfolders_and_bad_files_skipped() {
        let d = tempfile::tempdir().unwrap();
        for (c, n) in [("b-cls", 2), ("a-cls", 1)] {
            std::fs::create_dir_all(d.path().join(c).join("deep")).unwrap();
            for i in 0..n {
                RgbImage::new(4, 4)
                    .save(d.path().join(c).join("deep").join(format!("{i}.png")))
                    .unwrap();
            }
        }
        std::fs::write(d.path().join("a-cls/broken.jpg"), b"nope").unwrap();
        std::fs::write(d.path().join("a-cls/notes.txt"), b"ignored").unwrap();
        let f = ImageFolder::open(
            d.path(),
            &FolderOptions {
                class_folders: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(f.classes, vec!["a-cls", "b-cls"]);
        assert_eq!(f.len(), 3);
        assert_eq!(f.skipped.len(), 1);
        let labels: Vec<_> = f.items.iter().map(|i| i.1).collect();
        assert_eq!(labels, vec![Some(0), Some(1), Some(1)]);
    }

    #[test]
    fn empty_and_all_bad_folders_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let e = ImageFolder::open(d.path(), &FolderOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no images"), "{e}");
        std::fs::write(d.path().join("x.png"), b"nope").unwrap();
        let e = ImageFolder::open(d.path(), &FolderOptions::default()).unwrap_err();
        assert!(e.to_string().contains("could be read"), "{e}");
        let e =
            ImageFolder::open(&d.path().join("missing"), &FolderOptions::default()).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
