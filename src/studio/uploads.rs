//! Uploaded photos, paintings, masks and clips. The type is sniffed from the bytes (never
//! trusted from the name), images are decoded once under the pixel limit so that a broken or
//! oversized file is refused at the door, and each upload is stored under a random id:
//! `uploads/ID.EXT` with `uploads/ID.json` describing it. Requests name uploads by id only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::jobs::{is_id, new_id, now_ms};
use crate::imaging::LoadOptions;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UploadKind {
    Image,
    Video,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Upload {
    pub id: String,
    pub kind: UploadKind,
    /// `png`, `jpeg`, `webp`, `bmp`, `gif`, `tiff` or `mp4`.
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// Seconds, for a clip.
    pub duration_s: Option<f64>,
    /// The name the file had on the person's machine, for display only.
    pub name: String,
    pub created: u64,
}

/// Why an upload was refused (the HTTP layer: 413 for `TooLarge`, 415 for `Unsupported`,
/// 400 otherwise).
#[derive(Debug)]
pub enum UploadError {
    TooLarge(String),
    Unsupported(String),
    Invalid(String),
    Io(String),
}

pub struct UploadLimits {
    pub max_pixels: u64,
    pub max_video_seconds: f64,
}

pub struct Uploads {
    dir: PathBuf,
}

/// What the bytes are, from their first bytes.
fn sniff(bytes: &[u8]) -> Option<(UploadKind, &'static str)> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some((UploadKind::Video, "mp4"));
    }
    use image::ImageFormat as F;
    let name = match image::guess_format(bytes).ok()? {
        F::Png => "png",
        F::Jpeg => "jpeg",
        F::WebP => "webp",
        F::Bmp => "bmp",
        F::Gif => "gif",
        F::Tiff => "tiff",
        _ => return None,
    };
    Some((UploadKind::Image, name))
}

/// A display name: the last path component, printable characters only, at most 80.
fn display_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(80).collect();
    if clean.is_empty() {
        "upload".into()
    } else {
        clean
    }
}

impl Uploads {
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Check and store `bytes`.
    pub fn store(
        &self,
        bytes: &[u8],
        name: &str,
        limits: &UploadLimits,
    ) -> Result<Upload, UploadError> {
        let (kind, format) = sniff(bytes).ok_or_else(|| {
            UploadError::Unsupported(
                "not an image (PNG, JPEG, WebP, BMP, GIF, TIFF) or an MP4 clip".into(),
            )
        })?;
        let id = new_id();
        let path = self.dir.join(format!("{id}.{format}"));
        let name = display_name(name);
        let (width, height, duration_s) = match kind {
            UploadKind::Image => {
                let opts = LoadOptions {
                    max_pixels: limits.max_pixels,
                };
                let img = crate::imaging::io::decode_rgb(bytes, Path::new(&name), &opts).map_err(
                    |e| match e {
                        crate::AtelierError::ImageTooLarge { .. } => {
                            UploadError::TooLarge(e.to_string())
                        }
                        e => UploadError::Invalid(e.to_string()),
                    },
                )?;
                crate::util::atomic::write_atomic(&path, bytes)
                    .map_err(|e| UploadError::Io(e.to_string()))?;
                (img.width(), img.height(), None)
            }
            UploadKind::Video => {
                crate::util::atomic::write_atomic(&path, bytes)
                    .map_err(|e| UploadError::Io(e.to_string()))?;
                match check_clip(&path, limits) {
                    Ok(info) => info,
                    Err(e) => {
                        let _ = std::fs::remove_file(&path);
                        return Err(e);
                    }
                }
            }
        };
        let upload = Upload {
            id,
            kind,
            format: format.into(),
            width,
            height,
            bytes: bytes.len() as u64,
            duration_s,
            name,
            created: now_ms(),
        };
        let meta =
            serde_json::to_vec_pretty(&upload).map_err(|e| UploadError::Io(e.to_string()))?;
        crate::util::atomic::write_atomic(&self.dir.join(format!("{}.json", upload.id)), &meta)
            .map_err(|e| UploadError::Io(e.to_string()))?;
        Ok(upload)
    }

    /// An upload by id (`None` for anything that is not one of ours).
    pub fn get(&self, id: &str) -> Option<(Upload, PathBuf)> {
        if !is_id(id) {
            return None;
        }
        let meta: Upload =
            serde_json::from_slice(&std::fs::read(self.dir.join(format!("{id}.json"))).ok()?)
                .ok()?;
        let path = self.dir.join(format!("{id}.{}", meta.format));
        path.is_file().then_some((meta, path))
    }
}

/// A clip must open with our own MP4 reader, be small enough and short enough.
fn check_clip(path: &Path, limits: &UploadLimits) -> Result<(u32, u32, Option<f64>), UploadError> {
    let src = crate::video::source::open(path, 24.0)
        .map_err(|e| UploadError::Unsupported(e.to_string()))?;
    let info = src.info();
    let pixels = info.width as u64 * info.height as u64;
    if pixels > limits.max_pixels {
        return Err(UploadError::TooLarge(format!(
            "the clip's frames are {}x{}, over the limit of {} pixels",
            info.width, info.height, limits.max_pixels
        )));
    }
    let duration = info.frames.map(|n| n as f64 / info.rate.fps());
    if let Some(d) = duration
        && d > limits.max_video_seconds
    {
        return Err(UploadError::TooLarge(format!(
            "the clip lasts {d:.1} s; the studio takes clips up to {} s",
            limits.max_video_seconds
        )));
    }
    Ok((info.width, info.height, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_ignores_names_and_ids_are_checked() {
        let mut png = Vec::new();
        image::RgbImage::new(2, 2)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(sniff(&png), Some((UploadKind::Image, "png")));
        assert_eq!(sniff(b"<html>hello</html>"), None);
        let mut mp4 = vec![0, 0, 0, 24];
        mp4.extend_from_slice(b"ftypisom\0\0\0\0");
        assert_eq!(sniff(&mp4), Some((UploadKind::Video, "mp4")));
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\x\\photo.jpg"), "photo.jpg");
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path()).unwrap();
        assert!(uploads.get("../uploads/x").is_none());
        assert!(uploads.get("0123456789abcdef").is_none());
    }
}
