//! Images in and out: decoding (any format `image` reads, EXIF orientation applied, a
//! pixel-count limit against decompression bombs), resizing and cropping, conversion to and
//! from tensors, grids, and atomic PNG/JPEG saving.

pub mod color;
pub mod cracks;
pub mod fill;
pub mod grid;
pub mod io;
pub mod pyramid;
pub mod tensor;

pub use grid::make_grid;
pub use io::{DEFAULT_MAX_PIXELS, LoadOptions, check_image_output, load_rgb, save_image};
pub use tensor::{Range, image_to_tensor, tensor_to_images};
