//! `atelier eval fid|kid|pair|style|video|inpaint|fid-curve`: flags into an evaluation's options; its report
//! printed as a two-column table or as JSON.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::device::{DeviceChoice, select};
use crate::tasks::evaluate::{
    DistanceOptions, PairOptions, StyleOptions, fid, kernel_distance, pair_scores, style_scores,
};
use crate::tasks::evaluate_inpaint::{InpaintEvalOptions, InpaintReport, inpaint_scores};
use crate::tasks::evaluate_video::{VideoEvalOptions, video_scores};

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Fréchet Inception Distance (lower is better).
    Fid(Printed<DistanceOptions>),
    /// Kernel Inception Distance, mean ± std over subsets (lower is better).
    Kid(Printed<DistanceOptions>),
    /// SSIM, PSNR, L1 and LPIPS between images matched by name (restoration, translation).
    Pair(Printed<PairOptions>),
    /// Style transfer: content kept, style matched, and an ArtFID-like score.
    Style(Printed<StyleOptions>),
    /// Video: flicker of a stylised clip against the original's own motion, and what
    /// consistency cost against a frame-by-frame version.
    Video(Printed<VideoEvalOptions>),
    /// Inpainting: PSNR, SSIM, LPIPS, L1 on the holes and FID per mask kind, for the
    /// damaged input, the classical fill and the GAN.
    Inpaint(Printed<InpaintEvalOptions>),
    /// FID against training time of runs made with `train gan --fid-every`, as one plot
    /// (runs compared at equal compute).
    FidCurve(FidCurveOptions),
}

#[derive(Args, Debug)]
pub struct FidCurveOptions {
    /// Run directories (each with the fid.jsonl that --fid-every writes).
    #[arg(long = "run", required = true)]
    pub runs: Vec<std::path::PathBuf>,
    /// The plot (PNG).
    #[arg(short = 'o', long = "output")]
    pub output: std::path::PathBuf,
}

/// Plot each run's FID against its seconds of training steps.
fn fid_curve(a: &FidCurveOptions) -> anyhow::Result<()> {
    use crate::train::fid_monitor::FidPoint;
    use anyhow::Context;
    use plotters::style::RGBColor;
    const COLOURS: [RGBColor; 4] = [
        RGBColor(200, 60, 40),
        RGBColor(40, 90, 200),
        RGBColor(30, 150, 60),
        RGBColor(120, 40, 160),
    ];
    crate::imaging::check_image_output(&a.output)?;
    let mut names = Vec::new();
    let mut points = Vec::new();
    for run in &a.runs {
        let path = run.join("fid.jsonl");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {} (train with --fid-every)", path.display()))?;
        let fid: Vec<(u64, f64)> = text
            .lines()
            .map(serde_json::from_str::<FidPoint>)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not an FID log", path.display()))?
            .iter()
            .map(|p| (p.train_seconds.round() as u64, p.fid))
            .collect();
        names.push(run.file_name().map_or_else(
            || run.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ));
        points.push(fid);
    }
    let series: Vec<_> = names
        .iter()
        .zip(points)
        .enumerate()
        .map(|(i, (n, p))| (n.as_str(), p, COLOURS[i % COLOURS.len()]))
        .collect();
    crate::train::run_log::plot_series_over(
        &a.output,
        "FID against training time",
        "seconds of training steps",
        "FID",
        &series,
    )?;
    super::status(format_args!("wrote {}", a.output.display()));
    Ok(())
}

/// An evaluation's options and how to print its report.
#[derive(Args, Debug)]
pub struct Printed<T: Args> {
    #[command(flatten)]
    pub options: T,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Print one report as JSON or as a two-column table (keys in alphabetical order).
fn report(result: &impl Serialize, json: bool) -> anyhow::Result<()> {
    let result = serde_json::to_value(result)?;
    if json {
        super::output(format_args!("{result}"));
        return Ok(());
    }
    if let Some(obj) = result.as_object() {
        for (k, v) in obj {
            let shown = match v.as_f64() {
                Some(f) if v.is_f64() => format!("{f:.4}"),
                _ => v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            };
            super::output(format_args!("{k:<18} {shown}"));
        }
    }
    Ok(())
}

pub fn run(cmd: EvalCommand, device: DeviceChoice) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Fid(a) => report(&fid(&a.options, &select(device)?)?, a.json),
        EvalCommand::Kid(a) => report(&kernel_distance(&a.options, &select(device)?)?, a.json),
        EvalCommand::Pair(a) => report(&pair_scores(&a.options, &select(device)?)?, a.json),
        EvalCommand::Style(a) => {
            let r = style_scores(&a.options, &select(device)?)?;
            if r.fid_to_style.is_none() && !a.json {
                super::status(format_args!(
                    "(FID and ArtFID need at least two stylised and two style images)"
                ));
            }
            report(&r, a.json)
        }
        EvalCommand::Video(a) => report(&video_scores(&a.options, &select(device)?)?, a.json),
        EvalCommand::Inpaint(a) => {
            let r = inpaint_scores(&a.options, &select(device)?)?;
            if a.json {
                return report(&r, true);
            }
            inpaint_table(&r);
            Ok(())
        }
        EvalCommand::FidCurve(a) => fid_curve(&a),
    }
}

/// One row per mask kind and method, as a Markdown table.
fn inpaint_table(r: &InpaintReport) {
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    super::output(format_args!(
        "{} paintings at {} px, model {}\n",
        r.n, r.size, r.model
    ));
    super::output(format_args!(
        "| mask | method | PSNR dB | SSIM | LPIPS | L1 holes | FID |\n|---|---|---|---|---|---|---|"
    ));
    for s in &r.scores {
        super::output(format_args!(
            "| {} | {} | {:.2} | {:.4} | {} | {:.4} | {} |",
            s.kind.name(),
            s.method,
            s.psnr_db,
            s.ssim,
            opt(s.lpips, 4),
            s.l1_holes,
            opt(s.fid, 1)
        ));
    }
}
