//! The run directory's log: `metrics.jsonl` (one JSON object per logged step) and
//! `loss.png`, a plot of the losses drawn with `plotters`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AtelierError, Result};
use crate::util::atomic::write_atomic;

/// One logged step: the step strategy's losses, scores and learning rates by name (for a
/// GAN: `d_loss`, `g_loss`, `d_real` (mean D(x), a probability for BCE losses), `d_fake`,
/// `lr_g`, `lr_d`), flattened into the JSON object beside `step` and `images_per_sec`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricRow {
    pub step: u64,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
    pub images_per_sec: f64,
}

pub struct RunLog {
    path: PathBuf,
    pub rows: Vec<MetricRow>,
}

impl RunLog {
    /// Open the log of `run`, keeping only rows up to `upto` (the resumed step): rows a
    /// killed run wrote after its last checkpoint are replayed, not duplicated.
    pub fn open(run: &Path, upto: u64) -> Result<Self> {
        let path = run.join("metrics.jsonl");
        let rows: Vec<MetricRow> = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|r: &MetricRow| r.step <= upto)
            .collect();
        let log = Self { path, rows };
        let text: String = log
            .rows
            .iter()
            .map(|r| serde_json::to_string(r).expect("row serialises") + "\n")
            .collect();
        write_atomic(&log.path, text.as_bytes())?;
        Ok(log)
    }

    pub fn push(&mut self, row: MetricRow) -> Result<()> {
        let line = serde_json::to_string(&row).expect("row serialises") + "\n";
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| AtelierError::Write {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        self.rows.push(row);
        Ok(())
    }

    /// Draw every loss (the values named `*loss`) against the step into `out` (PNG,
    /// written atomically); a GAN's D loss is red and G loss blue.
    pub fn plot(&self, out: &Path) -> Result<()> {
        const COLOURS: [RGBColor; 4] = [RED, BLUE, GREEN, MAGENTA];
        let mut names: Vec<&String> = self
            .rows
            .iter()
            .flat_map(|r| r.values.keys())
            .filter(|k| k.ends_with("loss"))
            .collect();
        names.sort();
        names.dedup();
        let labels: Vec<String> = names
            .iter()
            .map(|k| match k.strip_suffix("_loss") {
                Some(who) => format!("{} loss", who.to_uppercase()),
                None => k.to_string(),
            })
            .collect();
        let series: Vec<Series> = names
            .iter()
            .zip(&labels)
            .enumerate()
            .map(|(i, (k, label))| {
                let points = self
                    .rows
                    .iter()
                    .filter_map(|r| r.values.get(*k).map(|v| (r.step, *v)))
                    .collect();
                (label.as_str(), points, COLOURS[i % COLOURS.len()])
            })
            .collect();
        plot_series(out, "losses", "loss", &series)
    }
}

/// Line plot of named (step, value) series as a PNG; nothing is drawn with fewer than two
/// points.
pub fn plot_series(out: &Path, title: &str, y_desc: &str, series: &[Series]) -> Result<()> {
    plot_series_over(out, title, "step", y_desc, series)
}

/// [`plot_series`] with another x axis (e.g. training seconds).
pub fn plot_series_over(
    out: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<()> {
    if series.iter().all(|s| s.1.len() < 2) {
        return Ok(());
    }
    let (w, h) = (800u32, 450u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    draw(series, title, (x_desc, y_desc), &mut buf, (w, h)).map_err(|e| AtelierError::Write {
        path: out.to_path_buf(),
        reason: format!("plotting failed: {e}"),
    })?;
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer size matches");
    crate::imaging::save_image(&img, out)
}

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // plotters draws text with fonts we register: embedding DejaVu avoids depending on
        // the system's font libraries.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// A named line: (label, (step, value) points, colour).
pub type Series<'a> = (&'a str, Vec<(u64, f64)>, RGBColor);

fn draw(
    series: &[Series],
    title: &str,
    (x_desc, y_desc): (&str, &str),
    buf: &mut [u8],
    size: (u32, u32),
) -> std::result::Result<(), String> {
    ensure_font();
    let root = BitMapBackend::with_buffer(buf, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_max = series
        .iter()
        .filter_map(|s| s.1.last().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, points, _) in series {
        for &(_, v) in points {
            lo = lo.min(finite(v));
            hi = hi.max(finite(v));
        }
    }
    if hi - lo < 1e-6 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0u64..x_max, (lo - pad)..(hi + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, points, colour) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(x, y)| (x, finite(y))),
                &colour,
            ))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64) -> MetricRow {
        let values = [
            ("d_loss", 1.0 / (step as f64 + 1.0)),
            ("g_loss", 0.5),
            ("d_real", 0.6),
            ("d_fake", 0.4),
            ("lr_g", 1e-4),
            ("lr_d", 1e-4),
        ];
        MetricRow {
            step,
            values: values.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            images_per_sec: 10.0,
        }
    }

    #[test]
    fn reopen_truncates_after_resume_point_and_plots() {
        let d = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(d.path(), 0).unwrap();
        for s in 1..=5 {
            log.push(row(s)).unwrap();
        }
        let log = RunLog::open(d.path(), 3).unwrap();
        assert_eq!(
            log.rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        let text = fs::read_to_string(d.path().join("metrics.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 3);
        let png = d.path().join("loss.png");
        log.plot(&png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (800, 450));
        // Something other than the white background was drawn.
        assert!(img.pixels().any(|p| p.0 == [255, 0, 0]));
    }
}
