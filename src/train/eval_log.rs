//! Validation numbers a recipe reports at each sample sheet (e.g. pix2pix's L1 on held-out
//! pairs): `eval.jsonl`, one `{"step": N, "name": value, ...}` per line, and `eval.png`.
//! A resumed run drops the lines after its checkpoint, as the loss log does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::style::RGBColor;

use crate::error::Result;
use crate::train::run_log::plot_series;
use crate::util::atomic::write_atomic;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EvalRow {
    pub step: u64,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

pub struct EvalLog {
    run: PathBuf,
    rows: Vec<EvalRow>,
}

const PALETTE: [RGBColor; 4] = [
    RGBColor(200, 60, 40),
    RGBColor(40, 90, 200),
    RGBColor(40, 150, 70),
    RGBColor(150, 60, 160),
];

impl EvalLog {
    pub fn open(run: &Path, upto: u64) -> Result<Self> {
        let rows = std::fs::read_to_string(run.join("eval.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<EvalRow>(l).ok())
            .filter(|r| r.step <= upto)
            .collect();
        Ok(Self {
            run: run.to_path_buf(),
            rows,
        })
    }

    pub fn rows(&self) -> &[EvalRow] {
        &self.rows
    }

    pub fn push(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        self.rows.push(EvalRow {
            step,
            values: values.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        });
        let text: String = self
            .rows
            .iter()
            .map(|r| serde_json::to_string(r).expect("numbers serialise") + "\n")
            .collect();
        write_atomic(&self.run.join("eval.jsonl"), text.as_bytes())?;
        let series: Vec<_> = values
            .iter()
            .zip(PALETTE.iter().cycle())
            .map(|((name, _), colour)| {
                let points = self
                    .rows
                    .iter()
                    .filter_map(|r| Some((r.step, *r.values.get(*name)?)))
                    .collect();
                (*name, points, *colour)
            })
            .collect();
        plot_series(&self.run.join("eval.png"), "validation", "value", &series)
    }
}
