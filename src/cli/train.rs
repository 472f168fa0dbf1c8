//! `atelier train gan|translate|style|adain|inpaint`: flags into a training task's options, the command line
//! recorded with the model, and the report at the end.

use std::path::Path;

use clap::Subcommand;

use crate::device::DeviceChoice;
use crate::tasks::train_adain::{AdainTrainOptions, train_adain};
use crate::tasks::train_gan::{GanTrainOptions, train_gan};
use crate::tasks::train_inpaint::{InpaintTrainOptions, train_inpaint};
use crate::tasks::train_style::{StyleTrainOptions, train_style};
use crate::tasks::train_translate::{TranslateTrainOptions, train_translate};
use crate::tasks::training::{Launch, RunArgs, resolve};
use crate::train::TrainOutcome;

#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Train a GAN on a folder of images (sub-folders are classes with --conditional).
    Gan(GanTrainOptions),
    /// Train an image-to-image translator: pix2pix (paired), CycleGAN (unpaired) or the
    /// plain-mse preset.
    Translate(TranslateTrainOptions),
    /// Train a feed-forward style network on photos: one painting or many in one network
    /// (then `stylize --model RUN/style-network.safetensors --style NAME`).
    Style(StyleTrainOptions),
    /// Train an AdaIN decoder on photos and paintings: any painting as the style in one
    /// pass (then `stylize --method adain --model RUN/adain-decoder.safetensors`).
    Adain(AdainTrainOptions),
    /// Train an inpainting GAN on paintings with drawn holes (cracks, losses, strokes, ...)
    /// (then `atelier inpaint IMAGE --mask MASK --model RUN/inpainter.safetensors`).
    Inpaint(InpaintTrainOptions),
}

/// The command as typed, without the program's install path: recorded in model files.
fn command_line() -> String {
    std::iter::once("atelier".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resolve `--resume` (the run's saved settings), train, report.
fn launch<T: RunArgs + clap::Args + clap::FromArgMatches>(
    args: T,
    device: DeviceChoice,
    train: impl FnOnce(&T, &Launch) -> anyhow::Result<TrainOutcome>,
) -> anyhow::Result<()> {
    let (args, run_dir, resume) = resolve(args)?;
    let launch = Launch::new(&run_dir, resume, device).with_command(command_line());
    report(&train(&args, &launch)?, &run_dir);
    Ok(())
}

pub fn run(cmd: TrainCommand, device: DeviceChoice) -> anyhow::Result<()> {
    match cmd {
        TrainCommand::Gan(args) => launch(args, device, train_gan),
        TrainCommand::Translate(args) => launch(args, device, train_translate),
        TrainCommand::Style(args) => launch(args, device, train_style),
        TrainCommand::Adain(args) => launch(args, device, train_adain),
        TrainCommand::Inpaint(args) => launch(args, device, train_inpaint),
    }
}

fn report(outcome: &TrainOutcome, run_dir: &Path) {
    super::status(format_args!(
        "trained to step {}; model: {}; samples: {}",
        outcome.final_step,
        outcome.model_file.display(),
        run_dir.join("samples.png").display()
    ));
}
