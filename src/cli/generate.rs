//! `atelier generate` and `atelier interpolate`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::device::{DeviceChoice, select};
use crate::imaging::grid::{make_grid, square_cols};
use crate::imaging::{check_image_output, save_image};
use crate::tasks::generate::{LoadedGenerator, default_model_path};

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Generator model file (default: $ATELIER_MODEL, else the shipped KaoKore model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// How many images.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub n: u32,
    /// Write all images as one grid PNG/JPEG here.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Also (or instead) write each image to this folder.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Class name for a conditional model (default: cycle through the classes).
    #[arg(long)]
    pub class: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Truncation trick (less variety, higher fidelity), e.g. 0.7. DCGAN and FastGAN:
    /// redraw latent components beyond ±T; StyleGAN2: w pulled towards its class mean, ψ = T.
    #[arg(long)]
    pub truncation: Option<f32>,
}

#[derive(Args, Debug)]
pub struct InterpolateArgs {
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..=256))]
    pub frames: u32,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    #[arg(long)]
    pub class: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Style mixing instead (StyleGAN2 models): a grid whose first row and first column
    /// are `--frames` images each, and whose cells take the column image's layers up to
    /// this one (coarse: pose, layout) and the row image's layers from it on (fine: colour,
    /// texture). Layer 0 is the 4x4 one; a 64 px model has 14.
    #[arg(long)]
    pub mix_from: Option<usize>,
    /// Truncation ψ for style mixing (e.g. 0.7).
    #[arg(long)]
    pub truncation: Option<f32>,
}

/// Load the generator and resolve `--class` against its class names.
fn load(
    model: Option<PathBuf>,
    class: Option<&str>,
    device: DeviceChoice,
) -> anyhow::Result<(LoadedGenerator, Option<usize>)> {
    let path = model.unwrap_or_else(default_model_path);
    let device = select(device)?;
    let generator = LoadedGenerator::load(&path, &device).context("loading the generator")?;
    let class = class.map(|c| generator.class_index(c)).transpose()?;
    Ok((generator, class))
}

pub fn run_generate(a: GenerateArgs, device: DeviceChoice) -> anyhow::Result<()> {
    if a.grid.is_none() && a.out_dir.is_none() {
        anyhow::bail!("say where to write the images: --grid FILE and/or --out-dir DIR");
    }
    if let Some(t) = a.truncation
        && !(t > 0.0 && t.is_finite())
    {
        anyhow::bail!("--truncation must be a positive number, got {t}");
    }
    if let Some(grid) = &a.grid {
        check_image_output(grid)?;
    }
    if let Some(dir) = &a.out_dir {
        check_image_output(&dir.join("00000.png"))?;
    }
    let (generator, class) = load(a.model, a.class.as_deref(), device)?;
    let images = generator.generate(a.n as usize, class, a.seed, a.truncation);
    if let Some(grid) = &a.grid {
        let cols = if generator.n_classes > 0 && class.is_none() {
            generator.n_classes.min(images.len())
        } else {
            square_cols(images.len())
        };
        save_image(&make_grid(&images, cols, 2), grid)?;
        super::status(format_args!(
            "wrote {} images to {}",
            images.len(),
            grid.display()
        ));
    }
    if let Some(dir) = &a.out_dir {
        for (i, img) in images.iter().enumerate() {
            save_image(img, &dir.join(format!("{i:05}.png")))?;
        }
        super::status(format_args!(
            "wrote {} images to {}",
            images.len(),
            dir.display()
        ));
    }
    Ok(())
}

pub fn run_interpolate(a: InterpolateArgs, device: DeviceChoice) -> anyhow::Result<()> {
    check_image_output(&a.output)?;
    let (generator, class) = load(a.model, a.class.as_deref(), device)?;
    if let Some(from) = a.mix_from {
        let n = a.frames as usize;
        let grid = generator
            .style_mixing_grid(n, class, a.seed, from, a.truncation)
            .context("style mixing needs a StyleGAN2 model (train gan --arch stylegan2)")?;
        save_image(&make_grid(&grid, n + 1, 2), &a.output)?;
        super::status(format_args!(
            "wrote a {n}x{n} style-mixing grid to {}",
            a.output.display()
        ));
        return Ok(());
    }
    let frames = generator.interpolate(a.frames as usize, class, a.seed);
    save_image(&make_grid(&frames, frames.len(), 2), &a.output)?;
    super::status(format_args!(
        "wrote {} frames to {}",
        frames.len(),
        a.output.display()
    ));
    Ok(())
}
