//! Datasets and the background batch loader.

pub mod folder;
pub mod loader;

pub use folder::{FolderOptions, ImageFolder};
pub use loader::{Batch, BatchLoader, LoaderConfig};
