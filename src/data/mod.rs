//! Datasets and the background batch loader.

pub mod folder;
pub mod inpaint;
pub mod loader;
pub mod masks;
pub mod pair_makers;
pub mod paired;
pub mod translation;

pub use folder::{FolderOptions, ImageFolder};
pub use loader::{Batch, BatchLoader, LoaderConfig};

use std::path::PathBuf;

/// The shared data root: `$ATELIER_DATA`, else `../shared/data` beside the source tree.
pub fn shared_data_root() -> PathBuf {
    std::env::var_os("ATELIER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}
