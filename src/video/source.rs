//! Frames in: an MP4 (H.264), a folder of frames, or an image-sequence pattern
//! (`frames/%04d.png`). Frames are decoded one at a time, never the whole clip.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use image::RgbImage;
use openh264::decoder::{Decoder, DecoderConfig, Flush};

use super::h264::avcc_to_annexb;
use super::{FrameRate, video_err};
use crate::error::Result;
use crate::imaging::{LoadOptions, load_rgb};

/// What a source holds.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    pub rate: FrameRate,
    /// The number of frames, when the container says.
    pub frames: Option<usize>,
    /// The MP4 has an audio track (which Atelier does not carry over).
    pub has_audio: bool,
}

/// What ffmpeg would be asked to do for inputs Atelier cannot read itself.
const FFMPEG_HINT: &str = "Atelier reads MP4 with H.264 video, frame folders and patterns \
    like frames/%04d.png; with ffmpeg installed, convert first: \
    ffmpeg -i INPUT -c:v libx264 -pix_fmt yuv420p converted.mp4 (or -> frames/%06d.png)";

/// A stream of frames with its [`VideoInfo`].
pub struct Source {
    info: VideoInfo,
    inner: Inner,
}

enum Inner {
    Mp4(Box<Mp4Frames>),
    Files { paths: Vec<PathBuf>, next: usize },
}

impl Source {
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }
}

impl Iterator for Source {
    type Item = Result<RgbImage>;

    fn next(&mut self) -> Option<Result<RgbImage>> {
        match &mut self.inner {
            Inner::Mp4(m) => m.next_frame().transpose(),
            Inner::Files { paths, next } => {
                let path = paths.get(*next)?;
                *next += 1;
                let (w, h) = (self.info.width, self.info.height);
                Some(load_rgb(path, &LoadOptions::default()).and_then(|img| {
                    if img.dimensions() == (w, h) {
                        Ok(img)
                    } else {
                        Err(video_err(
                            path,
                            format!(
                                "is {}x{}, the first frame {w}x{h}: every frame must have one size",
                                img.width(),
                                img.height()
                            ),
                        ))
                    }
                }))
            }
        }
    }
}

/// Open `input`: an `.mp4`/`.m4v`/`.mov` file, a folder of images (in natural name order),
/// or a pattern with `%d`/`%0Nd` (numbered from 0 or 1). `fps` is the rate of frame
/// folders and patterns (an MP4 has its own).
pub fn open(input: &Path, fps: f64) -> Result<Source> {
    let s = input.to_string_lossy();
    if s.contains('%') {
        return files(input, pattern_files(&s)?, fps);
    }
    if input.is_dir() {
        return files(input, folder_files(input)?, fps);
    }
    if !input.exists() {
        return Err(video_err(input, "does not exist"));
    }
    open_mp4(input)
}

fn files(input: &Path, paths: Vec<PathBuf>, fps: f64) -> Result<Source> {
    let first = paths
        .first()
        .ok_or_else(|| video_err(input, "holds no frames (no PNG/JPEG/WebP/BMP images)"))?;
    let img = load_rgb(first, &LoadOptions::default())?;
    Ok(Source {
        info: VideoInfo {
            width: img.width(),
            height: img.height(),
            rate: FrameRate::from_fps(fps),
            frames: Some(paths.len()),
            has_audio: false,
        },
        inner: Inner::Files { paths, next: 0 },
    })
}

fn is_image(p: &Path) -> bool {
    p.extension().is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().to_str(),
            Some("png" | "jpg" | "jpeg" | "webp" | "bmp")
        )
    })
}

/// Natural order: "frame_2" before "frame_10".
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = vec![];
    let mut text = String::new();
    let mut digits = String::new();
    for ch in name.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(ch);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

fn folder_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| video_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    paths.sort_by_cached_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    Ok(paths)
}

/// The files of a `%d` / `%0Nd` pattern, counting from 0 or 1 until one is missing.
fn pattern_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let bad = || {
        video_err(
            Path::new(pattern),
            "a frame pattern needs exactly one %d or %0Nd (e.g. frames/frame_%04d.png)",
        )
    };
    let at = pattern.find('%').ok_or_else(bad)?;
    let rest = &pattern[at + 1..];
    let d = rest.find('d').ok_or_else(bad)?;
    let spec = &rest[..d];
    if !spec.chars().all(|c| c.is_ascii_digit()) || rest[d + 1..].contains('%') {
        return Err(bad());
    }
    let width: usize = spec.parse().unwrap_or(0);
    let name =
        |k: usize| PathBuf::from(format!("{}{:0width$}{}", &pattern[..at], k, &rest[d + 1..]));
    let first = if name(0).is_file() { 0 } else { 1 };
    Ok((first..).map(name).take_while(|p| p.is_file()).collect())
}

/// An MP4's H.264 track through openh264, in display order.
struct Mp4Frames {
    path: PathBuf,
    reader: mp4::Mp4Reader<BufReader<File>>,
    track: u32,
    next_sample: u32,
    samples: u32,
    /// The track's parameter sets, put before every key frame (MP4 keeps them apart).
    params: Vec<u8>,
    decoder: Decoder,
    pending: VecDeque<RgbImage>,
    flushed: bool,
    failures_in_a_row: usize,
    buf: Vec<u8>,
}

fn open_mp4(path: &Path) -> Result<Source> {
    let file = File::open(path).map_err(|e| video_err(path, e))?;
    let size = file.metadata().map_err(|e| video_err(path, e))?.len();
    let reader = mp4::Mp4Reader::read_header(BufReader::new(file), size)
        .map_err(|e| video_err(path, format!("is not a readable MP4 ({e}). {FFMPEG_HINT}")))?;
    let has_audio = reader
        .tracks()
        .values()
        .any(|t| matches!(t.track_type(), Ok(mp4::TrackType::Audio)));
    let videos: Vec<&mp4::Mp4Track> = reader
        .tracks()
        .values()
        .filter(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video)))
        .collect();
    let Some(t) = videos
        .iter()
        .find(|t| matches!(t.media_type(), Ok(mp4::MediaType::H264)))
    else {
        let codecs: Vec<String> = videos
            .iter()
            .map(|t| match t.media_type() {
                Ok(m) => m.to_string(),
                Err(_) => t
                    .box_type()
                    .map(|b| b.to_string())
                    .unwrap_or("unknown".into()),
            })
            .collect();
        let what = if codecs.is_empty() {
            "has no video track".to_string()
        } else {
            format!("has {} video, not H.264", codecs.join(", "))
        };
        return Err(video_err(path, format!("{what}. {FFMPEG_HINT}")));
    };
    let samples = t.sample_count();
    if samples == 0 {
        return Err(video_err(path, "has a video track with no frames"));
    }
    let mut params = vec![];
    for ps in [t.sequence_parameter_set(), t.picture_parameter_set()] {
        let ps =
            ps.map_err(|e| video_err(path, format!("H.264 track without parameter sets ({e})")))?;
        params.extend_from_slice(&[0, 0, 0, 1]);
        params.extend_from_slice(ps);
    }
    let mdhd = &t.trak.mdia.mdhd;
    let frame_ticks = (mdhd.duration as f64 / samples as f64).round().max(1.0) as u32;
    let info = VideoInfo {
        width: t.width() as u32,
        height: t.height() as u32,
        rate: FrameRate {
            timescale: mdhd.timescale.max(1),
            frame_ticks,
        },
        frames: Some(samples as usize),
        has_audio,
    };
    let track = t.track_id();
    let decoder = Decoder::with_api_config(
        openh264::OpenH264API::from_source(),
        // Frames come out in display order once their references are in: B-frames are
        // reordered by the decoder, and the rest flushed at the end.
        DecoderConfig::new().flush_after_decode(Flush::NoFlush),
    )
    .map_err(|e| video_err(path, format!("H.264 decoder: {e}")))?;
    Ok(Source {
        info,
        inner: Inner::Mp4(Box::new(Mp4Frames {
            path: path.to_path_buf(),
            reader,
            track,
            next_sample: 1,
            samples,
            params,
            decoder,
            pending: VecDeque::new(),
            flushed: false,
            failures_in_a_row: 0,
            buf: vec![],
        })),
    })
}

fn yuv_to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> RgbImage {
    use openh264::formats::YUVSource;
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(w as u32, h as u32, rgb).expect("w*h*3 bytes")
}

impl Mp4Frames {
    /// Samples that fail to decode are skipped with a warning (a damaged spot); this many in
    /// a row means the stream is not one openh264 can decode.
    const MAX_FAILURES_IN_A_ROW: usize = 8;

    fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Ok(Some(f));
            }
            if self.next_sample > self.samples {
                if self.flushed {
                    return Ok(None);
                }
                self.flushed = true;
                let rest = self
                    .decoder
                    .flush_remaining()
                    .map_err(|e| video_err(&self.path, format!("H.264 decoder: {e}")))?;
                self.pending.extend(rest.iter().map(yuv_to_rgb));
                continue;
            }
            let k = self.next_sample;
            self.next_sample += 1;
            let sample = self
                .reader
                .read_sample(self.track, k)
                .map_err(|e| video_err(&self.path, format!("frame {k}: {e}")))?;
            let Some(sample) = sample else { continue };
            self.buf.clear();
            if sample.is_sync {
                self.buf.extend_from_slice(&self.params);
            }
            avcc_to_annexb(&sample.bytes, &mut self.buf)
                .map_err(|e| video_err(&self.path, format!("frame {k}: {e}")))?;
            match self.decoder.decode(&self.buf) {
                Ok(frame) => {
                    self.failures_in_a_row = 0;
                    if let Some(yuv) = frame {
                        self.pending.push_back(yuv_to_rgb(&yuv));
                    }
                }
                Err(e) => {
                    self.failures_in_a_row += 1;
                    tracing::warn!(
                        "{}: frame {k} did not decode ({e}); skipped",
                        self.path.display()
                    );
                    if self.failures_in_a_row >= Self::MAX_FAILURES_IN_A_ROW {
                        return Err(video_err(
                            &self.path,
                            format!(
                                "{} frames in a row failed to decode ({e}): the H.264 stream uses \
                                 features openh264 does not decode (e.g. interlacing), or is damaged. \
                                 {FFMPEG_HINT}",
                                Self::MAX_FAILURES_IN_A_ROW
                            ),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut v = vec!["f10.png", "f2.png", "f1.png", "a.png"];
        v.sort_by_cached_key(|n| natural_key(n));
        assert_eq!(v, ["a.png", "f1.png", "f2.png", "f10.png"]);
    }

    #[test]
    fn patterns_count_from_zero_or_one() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::new(4, 2);
        for k in 1..=3 {
            img.save(dir.path().join(format!("f_{k:03}.png"))).unwrap();
        }
        let pattern = format!("{}/f_%03d.png", dir.path().display());
        let src = open(Path::new(&pattern), 12.0).unwrap();
        assert_eq!(src.info().frames, Some(3));
        assert_eq!(src.info().rate.fps(), 12.0);
        assert_eq!(src.count(), 3);
        for bad in ["%s.png", "%d_%d.png", "%x.png"] {
            let p = format!("{}/{bad}", dir.path().display());
            assert!(open(Path::new(&p), 12.0).is_err(), "{bad}");
        }
    }

    #[test]
    fn not_a_video_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clip.mp4");
        std::fs::write(&p, b"this is not a video").unwrap();
        let e = open(&p, 24.0).err().expect("an error").to_string();
        assert!(
            e.contains("not a readable MP4") && e.contains("ffmpeg"),
            "{e}"
        );
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = open(&empty, 24.0).err().expect("an error").to_string();
        assert!(e.contains("no frames"), "{e}");
    }
}
