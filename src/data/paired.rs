//! Two folders whose images correspond by name (`a/x/cat.png` ↔ `b/x/cat.jpg`): matched by
//! relative path without extension. Used by paired metrics, and by paired training.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::{FolderOptions, ImageFolder};
use crate::error::{AtelierError, Result};

fn keyed(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let folder = ImageFolder::open(dir, &FolderOptions::default())?;
    Ok(folder
        .items
        .into_iter()
        .map(|(p, _)| {
            let rel = p.strip_prefix(dir).unwrap_or(&p).with_extension("");
            (rel.to_string_lossy().into_owned(), p)
        })
        .collect())
}

/// Pairs (a, b) in name order. Any image without a partner is an error that lists the
/// unmatched names on each side (the first few).
pub fn match_by_name(a_dir: &Path, b_dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let (a, b) = (keyed(a_dir)?, keyed(b_dir)?);
    let only = |x: &BTreeMap<String, PathBuf>, y: &BTreeMap<String, PathBuf>| -> Vec<String> {
        x.keys().filter(|k| !y.contains_key(*k)).cloned().collect()
    };
    let (only_a, only_b) = (only(&a, &b), only(&b, &a));
    if !only_a.is_empty() || !only_b.is_empty() {
        let list = |v: &[String]| {
            let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 5 {
                s += &format!(" and {} more", v.len() - 5);
            }
            if s.is_empty() { "none".into() } else { s }
        };
        return Err(AtelierError::Dataset(format!(
            "the folders do not pair up by name: only in {}: {}; only in {}: {}",
            a_dir.display(),
            list(&only_a),
            b_dir.display(),
            list(&only_b)
        )));
    }
    Ok(a.into_iter().map(|(k, pa)| (pa, b[&k].clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::new(4, 4).save(path).unwrap();
    }

    #[test]
    fn pairs_by_relative_name_and_reports_the_unmatched() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        img(&a.join("x/cat.png"));
        img(&b.join("x/cat.jpg"));
        img(&a.join("dog.png"));
        img(&b.join("dog.png"));
        let pairs = match_by_name(&a, &b).unwrap();
        assert_eq!(pairs.len(), 2);
        assert!(pairs[1].0.ends_with("x/cat.png") && pairs[1].1.ends_with("x/cat.jpg"));
        img(&a.join("owl.png"));
        img(&b.join("x/bat.png"));
        let err = match_by_name(&a, &b).unwrap_err().to_string();
        assert!(err.contains("owl") && err.contains("x/bat"), "{err}");
    }
}
