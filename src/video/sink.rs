//! Frames out: an MP4 (H.264, by openh264) or a folder of PNG frames.
//!
//! An MP4 is written to a temporary file beside the output and renamed into place at each
//! [`Sink::checkpoint`] and at the end, so the output path always holds a playable clip
//! (the frames up to the last checkpoint) and never a half-written one. A resumed run
//! copies the finished clip's samples into a new file and goes on from there; its encoder
//! starts with a key frame. Frame folders need none of this: each frame is its own atomic
//! file.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use image::RgbImage;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate as EncoderRate};
use openh264::formats::{RgbSliceU8, YUVBuffer};

use super::h264::{NAL_IDR, NAL_PPS, NAL_SPS, annexb_units, nal_type, to_avcc};
use super::{FrameRate, video_err};
use crate::error::Result;
use crate::imaging::save_image;

/// What an output path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Mp4,
    Folder,
}

/// `.mp4`/`.m4v` is an MP4; no extension a frame folder; anything else is refused, saying
/// what would work.
pub fn output_kind(path: &Path) -> Result<OutputKind> {
    match path.extension().map(|e| e.to_ascii_lowercase()) {
        None => Ok(OutputKind::Folder),
        Some(e) if e == "mp4" || e == "m4v" => Ok(OutputKind::Mp4),
        Some(e) => Err(video_err(
            path,
            format!(
                "Atelier writes MP4 (H.264: give a name ending in .mp4) or a folder of frames \
                 (a name without extension), not .{}; ffmpeg converts an MP4 to other formats",
                e.to_string_lossy()
            ),
        )),
    }
}

/// Where frames go.
pub enum Sink {
    Mp4(Box<Mp4Sink>),
    Folder { dir: PathBuf, frames: usize },
}

/// The file name of frame `k` (from 0) in a frame folder.
pub fn frame_name(k: usize) -> String {
    format!("frame_{:06}.png", k + 1)
}

/// Open the output. `keep`: resume after this many frames already there (any later ones
/// are replaced). Frames are `width`x`height` (even, for H.264's colour subsampling);
/// `bitrate` in bits/s.
pub fn create(
    path: &Path,
    width: u32,
    height: u32,
    rate: FrameRate,
    bitrate: u32,
    keep: Option<usize>,
) -> Result<Sink> {
    match output_kind(path)? {
        OutputKind::Folder => {
            std::fs::create_dir_all(path).map_err(|e| video_err(path, e))?;
            let frames = keep.unwrap_or(0);
            let there = (0..)
                .take_while(|&k| path.join(frame_name(k)).is_file())
                .count();
            if there < frames {
                return Err(video_err(
                    path,
                    format!("cannot resume after frame {frames}: only {there} frames are there"),
                ));
            }
            // Probe that frames can be written here before any work.
            crate::util::atomic::check_writable(&path.join(frame_name(frames)))?;
            Ok(Sink::Folder {
                dir: path.to_path_buf(),
                frames,
            })
        }
        OutputKind::Mp4 => {
            crate::util::atomic::check_writable(path)?;
            Ok(Sink::Mp4(Box::new(Mp4Sink::open(
                path, width, height, rate, bitrate, keep,
            )?)))
        }
    }
}

impl Sink {
    /// Frames written so far (those of a resumed output included).
    pub fn frames(&self) -> usize {
        match self {
            Sink::Mp4(m) => m.frames,
            Sink::Folder { frames, .. } => *frames,
        }
    }

    pub fn write(&mut self, frame: &RgbImage) -> Result<()> {
        match self {
            Sink::Mp4(m) => m.write(frame),
            Sink::Folder { dir, frames } => {
                save_image(frame, &dir.join(frame_name(*frames)))?;
                *frames += 1;
                Ok(())
            }
        }
    }

    /// Make everything written so far durable and playable at the output path.
    pub fn checkpoint(&mut self) -> Result<()> {
        match self {
            Sink::Mp4(m) => {
                if m.commit()? {
                    m.reopen(m.frames)?;
                }
                Ok(())
            }
            Sink::Folder { .. } => Ok(()),
        }
    }

    /// Finish the output; returns the number of frames in it.
    pub fn finish(mut self) -> Result<usize> {
        if let Sink::Mp4(m) = &mut self {
            m.commit()?;
        }
        Ok(self.frames())
    }
}

/// An H.264 encoder feeding an MP4 being written at a temporary path.
pub struct Mp4Sink {
    path: PathBuf,
    tmp: PathBuf,
    width: u32,
    height: u32,
    rate: FrameRate,
    bitrate: u32,
    encoder: Option<Encoder>,
    yuv: YUVBuffer,
    writer: Option<mp4::Mp4Writer<BufWriter<File>>>,
    /// The samples in `writer` (finished ones first, when resuming).
    frames: usize,
    /// Whether `writer` has frames not yet at `path`.
    dirty: bool,
}

fn mp4_config() -> mp4::Mp4Config {
    let brand = |s: &str| s.parse().expect("a four-letter code");
    mp4::Mp4Config {
        major_brand: brand("isom"),
        minor_version: 512,
        compatible_brands: ["isom", "iso2", "avc1", "mp41"].map(brand).to_vec(),
        timescale: 1000,
    }
}

impl Mp4Sink {
    fn open(
        path: &Path,
        width: u32,
        height: u32,
        rate: FrameRate,
        bitrate: u32,
        keep: Option<usize>,
    ) -> Result<Self> {
        if width % 2 == 1 || height % 2 == 1 || width == 0 || height == 0 {
            return Err(video_err(
                path,
                format!("H.264 frames need even sides, got {width}x{height}"),
            ));
        }
        let mut sink = Self {
            path: path.to_path_buf(),
            tmp: crate::util::atomic::temp_path(path),
            width,
            height,
            rate,
            bitrate,
            encoder: None,
            yuv: YUVBuffer::new(width as usize, height as usize),
            writer: None,
            frames: 0,
            dirty: false,
        };
        if let Some(n) = keep {
            sink.reopen(n)?;
        }
        Ok(sink)
    }

    fn err(&self, e: impl std::fmt::Display) -> crate::error::AtelierError {
        video_err(&self.path, e)
    }

    fn new_writer(&self, sps: &[u8], pps: &[u8]) -> Result<mp4::Mp4Writer<BufWriter<File>>> {
        let file = File::create(&self.tmp).map_err(|e| self.err(e))?;
        let mut w = mp4::Mp4Writer::write_start(BufWriter::new(file), &mp4_config())
            .map_err(|e| self.err(e))?;
        w.add_track(&mp4::TrackConfig {
            track_type: mp4::TrackType::Video,
            timescale: self.rate.timescale,
            language: "und".into(),
            media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                width: self.width as u16,
                height: self.height as u16,
                seq_param_set: sps.to_vec(),
                pic_param_set: pps.to_vec(),
            }),
        })
        .map_err(|e| self.err(e))?;
        Ok(w)
    }

    /// Start a new temporary file holding the first `keep` samples of the clip at `path`.
    fn reopen(&mut self, keep: usize) -> Result<()> {
        if keep == 0 {
            return Ok(());
        }
        let file = File::open(&self.path).map_err(|e| self.err(e))?;
        let size = file.metadata().map_err(|e| self.err(e))?.len();
        let mut reader = mp4::Mp4Reader::read_header(BufReader::new(file), size)
            .map_err(|e| self.err(format!("cannot resume: not a readable MP4 ({e})")))?;
        let t = reader
            .tracks()
            .values()
            .find(|t| matches!(t.media_type(), Ok(mp4::MediaType::H264)))
            .ok_or_else(|| self.err("cannot resume: no H.264 track"))?;
        if (t.width() as u32, t.height() as u32) != (self.width, self.height)
            || t.timescale() != self.rate.timescale
        {
            return Err(self.err(format!(
                "cannot resume: the clip there is {}x{} at timescale {}, this run makes \
                 {}x{} at {} (same --size and input as the first run?)",
                t.width(),
                t.height(),
                t.timescale(),
                self.width,
                self.height,
                self.rate.timescale
            )));
        }
        let (id, n) = (t.track_id(), t.sample_count());
        if (n as usize) < keep {
            return Err(self.err(format!(
                "cannot resume after frame {keep}: the clip there has {n} frames"
            )));
        }
        let n = keep as u32;
        let sps = t
            .sequence_parameter_set()
            .map_err(|e| self.err(e))?
            .to_vec();
        let pps = t.picture_parameter_set().map_err(|e| self.err(e))?.to_vec();
        let mut w = self.new_writer(&sps, &pps)?;
        for k in 1..=n {
            if let Some(s) = reader.read_sample(id, k).map_err(|e| self.err(e))? {
                w.write_sample(1, &s).map_err(|e| self.err(e))?;
            }
        }
        self.writer = Some(w);
        self.frames = n as usize;
        Ok(())
    }

    fn encoder(&mut self) -> Result<&mut Encoder> {
        if self.encoder.is_none() {
            let cfg = EncoderConfig::new()
                .bitrate(BitRate::from_bps(self.bitrate))
                .max_frame_rate(EncoderRate::from_hz(self.rate.fps() as f32))
                // Every frame is kept: a stylised clip must have all its frames.
                .skip_frames(false)
                .rate_control_mode(openh264::encoder::RateControlMode::Bitrate);
            let enc = Encoder::with_api_config(openh264::OpenH264API::from_source(), cfg)
                .map_err(|e| self.err(format!("H.264 encoder: {e}")))?;
            self.encoder = Some(enc);
        }
        Ok(self.encoder.as_mut().expect("just made"))
    }

    fn write(&mut self, frame: &RgbImage) -> Result<()> {
        if frame.dimensions() != (self.width, self.height) {
            return Err(self.err(format!(
                "a {}x{} frame in a {}x{} clip",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
        let (w, h) = (self.width as usize, self.height as usize);
        self.yuv.read_rgb8(RgbSliceU8::new(frame.as_raw(), (w, h)));
        let yuv = std::mem::replace(&mut self.yuv, YUVBuffer::new(0, 0));
        let encoded = self
            .encoder()?
            .encode(&yuv)
            .map(|b| b.to_vec())
            .map_err(|e| video_err(&self.path, format!("H.264 encoder: {e}")));
        self.yuv = yuv;
        let stream = encoded?;
        let units = annexb_units(&stream);
        if self.writer.is_none() {
            let find = |t: u8| units.iter().find(|u| nal_type(u) == t).copied();
            let (Some(sps), Some(pps)) = (find(NAL_SPS), find(NAL_PPS)) else {
                return Err(self.err("the encoder's first frame has no SPS/PPS"));
            };
            self.writer = Some(self.new_writer(sps, pps)?);
        }
        // Parameter sets stay in key frames too: a resumed clip's new encoder may differ.
        let is_sync = units.iter().any(|u| nal_type(u) == NAL_IDR);
        let sample = mp4::Mp4Sample {
            start_time: self.frames as u64 * self.rate.frame_ticks as u64,
            duration: self.rate.frame_ticks,
            rendering_offset: 0,
            is_sync,
            bytes: to_avcc(units).into(),
        };
        let writer = self.writer.as_mut().expect("made above");
        writer
            .write_sample(1, &sample)
            .map_err(|e| video_err(&self.path, e))?;
        self.frames += 1;
        self.dirty = true;
        Ok(())
    }

    /// Finish the temporary file and move it to the output path; false when there was
    /// nothing new to commit.
    fn commit(&mut self) -> Result<bool> {
        if !self.dirty {
            return Ok(false);
        }
        let mut w = self.writer.take().expect("dirty means a writer");
        w.write_end().map_err(|e| self.err(e))?;
        let file = w
            .into_writer()
            .into_inner()
            .map_err(|e| self.err(e.error()))?;
        file.sync_all().map_err(|e| self.err(e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.err(e))?;
        self.dirty = false;
        Ok(true)
    }
}

impl Drop for Mp4Sink {
    fn drop(&mut self) {
        // The temporary file only ever holds a copy plus unfinished frames.
        self.writer = None;
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_kinds() {
        assert_eq!(output_kind(Path::new("a/b.mp4")).unwrap(), OutputKind::Mp4);
        assert_eq!(
            output_kind(Path::new("a/frames")).unwrap(),
            OutputKind::Folder
        );
        let e = output_kind(Path::new("a.gif")).unwrap_err().to_string();
        assert!(e.contains(".mp4") && e.contains("not .gif"), "{e}");
    }

    #[test]
    fn odd_sides_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = create(
            &dir.path().join("o.mp4"),
            33,
            20,
            FrameRate::from_fps(24.0),
            1,
            None,
        );
        assert!(e.err().unwrap().to_string().contains("even"));
    }
}
