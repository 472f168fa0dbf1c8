//! `atelier translate`: run a trained translator over images of any size.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::data::pair_makers::PairMaker;
use crate::device::{DeviceChoice, select};
use crate::imaging::grid::rows_sheet;
use crate::imaging::save_image;
use crate::models::translator::LoadedTranslator;
use crate::tasks::translate::{FileOptions, Tiling, plan_outputs, translate_files};

#[derive(Args, Debug)]
pub struct TranslateArgs {
    /// Translator model file (generator.safetensors of a `train translate` run; a CycleGAN
    /// run's generator-b2a.safetensors goes the other way).
    #[arg(long)]
    pub model: PathBuf,
    /// Images, or folders of images.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder: one PNG per input, same name, sub-folders of input folders mirrored.
    /// Must not be (or be inside) an input folder.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Tile side for large images (smaller images go through whole).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(32..=8192))]
    pub tile: u32,
    /// Overlap between tiles.
    #[arg(long, default_value_t = 64)]
    pub overlap: u32,
    /// Also write a before/after sheet (each pair side by side, 256 px squares) here.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    /// First turn each input into what the model was trained to restore (the same makers
    /// as `train translate --pairs`); the sheet then shows made input | output | original.
    /// For trying a model on paintings you have whole.
    #[arg(long, value_enum)]
    pub degrade: Option<PairMaker>,
    /// Seed of --degrade damage.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: TranslateArgs, device: DeviceChoice) -> anyhow::Result<()> {
    let device = select(device)?;
    let model = LoadedTranslator::load(&args.model, &device).context("loading the translator")?;
    let files = plan_outputs(&args.inputs, &args.output)?;
    if let Some(sheet) = &args.sheet {
        crate::imaging::check_image_output(sheet)?;
    }
    let tiling = Tiling {
        tile: args.tile as usize,
        overlap: args.overlap as usize,
        align: 4,
    };
    anyhow::ensure!(
        tiling.overlap * 2 < tiling.tile,
        "--overlap must be less than half of --tile"
    );
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let bar = crate::util::progress::bar(files.len() as u64);
    let opts = FileOptions {
        tiling,
        degrade: args.degrade,
        seed: args.seed,
        sheet: args.sheet.is_some(),
    };
    let rows = translate_files(&model.net, &files, &opts, &device, || bar.inc(1))?;
    bar.finish_and_clear();
    if let Some(sheet) = &args.sheet {
        save_image(&rows_sheet(&rows), sheet)?;
    }
    super::status(format_args!(
        "translated {} image(s) with {} ({}) into {}",
        files.len(),
        args.model.display(),
        model.meta.task,
        args.output.display()
    ));
    Ok(())
}
