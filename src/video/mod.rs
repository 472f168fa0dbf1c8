//! Video in and out, frame by frame with bounded memory: MP4/H.264 through `openh264`
//! (Cisco's codec, built from its bundled C source) and `mp4`, frame folders and
//! image-sequence patterns. Nothing here needs a system package.
//!
//! - [`h264`]: the two H.264 byte-stream layouts (MP4's length prefixes, the codec's start
//!   codes).
//! - [`source`]: frames in ([`source::open`]), with their size and frame rate.
//! - [`sink`]: frames out ([`sink::create`]), MP4 or a folder, finalised atomically and
//!   resumable.
//! - [`consistency`]: what keeps a stylised clip from flickering between frames.

pub mod consistency;
pub mod h264;
pub mod sink;
pub mod source;

use std::path::Path;

use crate::error::AtelierError;

pub(crate) fn video_err(path: &Path, reason: impl std::fmt::Display) -> AtelierError {
    AtelierError::Video {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The frame rate of a clip as a timescale and a per-frame duration in its ticks, so that
/// timestamps stay exact integers (24 fps = 12288 / 512, 29.97 = 30000 / 1001).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FrameRate {
    pub timescale: u32,
    pub frame_ticks: u32,
}

impl FrameRate {
    /// A rate given in frames per second (1000 ticks per frame; 29.97 rounds to 1 ms).
    pub fn from_fps(fps: f64) -> Self {
        Self {
            timescale: (fps * 1000.0).round().max(1.0) as u32,
            frame_ticks: 1000,
        }
    }

    pub fn fps(&self) -> f64 {
        self.timescale as f64 / self.frame_ticks as f64
    }

    /// Every `n`th frame kept: frames last `n` times as long, so the clip keeps its duration.
    pub fn every(self, n: usize) -> Self {
        Self {
            frame_ticks: self.frame_ticks * n.max(1) as u32,
            ..self
        }
    }
}
