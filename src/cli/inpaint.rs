//! `atelier inpaint`: fill damage in a painting (or detect cracks to make a mask), and
//! `atelier masks`: look at the hole masks inpainting trains on.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use image::{GrayImage, RgbImage};

use crate::data::masks::MaskKind;
use crate::device::{DeviceChoice, select};
use crate::imaging::cracks::CrackDetector;
use crate::imaging::{LoadOptions, check_image_output, load_rgb, make_grid, save_image};
use crate::models::inpaint::LoadedInpainter;
use crate::tasks::inpaint::{
    FillMethod, InpaintOptions, inpaint, mask_from_colour, prepare_mask, shipped_inpainter,
};
use crate::util::rng::SeededRng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Detect {
    /// Thin dark and bright lines and small spots (see `imaging::cracks` for its limits).
    Cracks,
}

fn parse_colour(s: &str) -> Result<[u8; 3], String> {
    let hex = s.trim_start_matches('#');
    let bad = || format!("expected a colour like ff00ff or #ff00ff, got '{s}'");
    if hex.len() != 6 {
        return Err(bad());
    }
    let mut c = [0u8; 3];
    for (i, v) in c.iter_mut().enumerate() {
        *v = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(c)
}

#[derive(Args, Debug)]
pub struct InpaintArgs {
    /// The painting (any size).
    pub image: PathBuf,
    /// The mask: white where to fill, black where to keep (any other size is resized, grey
    /// is thresholded at 128). With --mask-color: a copy of the image with the damage
    /// painted over in that colour.
    #[arg(long, required_unless_present = "detect")]
    pub mask: Option<PathBuf>,
    /// The colour the damage was painted with in --mask (e.g. ff00ff).
    #[arg(long, value_parser = parse_colour, requires = "mask")]
    pub mask_color: Option<[u8; 3]>,
    /// How far (largest channel difference) a pixel may be from --mask-color.
    #[arg(long, default_value_t = 24)]
    pub tolerance: u8,
    /// Detect damage instead of filling: write a mask of it to -o (edit it, then fill with
    /// --mask).
    #[arg(long, value_enum, conflicts_with = "mask")]
    pub detect: Option<Detect>,
    /// --detect: the contrast (0..1 of luminance) a line needs to count as a crack.
    #[arg(long, default_value_t = 0.12)]
    pub threshold: f32,
    /// --detect: widest lines found, about twice this many pixels.
    #[arg(long, default_value_t = 2)]
    pub line_width: usize,
    #[arg(long, value_enum, default_value_t = FillMethod::Gan)]
    pub method: FillMethod,
    /// Inpainting model (default: the shipped one, trained on KaoKore and ukiyo-e).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Reach of the seam correction in pixels (0: off).
    #[arg(long, default_value_t = 6)]
    pub feather: u32,
    /// Largest window the network runs at (default 3 x its training size); larger damaged
    /// areas are filled at a reduced scale.
    #[arg(long, value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub max_window: Option<u32>,
    /// Output image (the filled painting, or with --detect the mask).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

fn grey_to_rgb(mask: &GrayImage) -> RgbImage {
    RgbImage::from_fn(mask.width(), mask.height(), |x, y| {
        let v = mask.get_pixel(x, y).0[0];
        image::Rgb([v, v, v])
    })
}

fn load_mask(path: &Path, colour: Option<[u8; 3]>, tolerance: u8) -> anyhow::Result<GrayImage> {
    let img = load_rgb(path, &LoadOptions::default()).context("reading the mask")?;
    Ok(match colour {
        Some(c) => mask_from_colour(&img, c, tolerance),
        None => image::DynamicImage::ImageRgb8(img).to_luma8(),
    })
}

pub fn run(args: InpaintArgs, device: DeviceChoice) -> anyhow::Result<()> {
    check_image_output(&args.output)?;
    let image = load_rgb(&args.image, &LoadOptions::default()).context("reading the image")?;
    if args.detect.is_some() {
        let detector = CrackDetector {
            width: args.line_width.max(1),
            threshold: args.threshold,
            ..CrackDetector::default()
        };
        let mask = detector.detect(&image);
        save_image(&grey_to_rgb(&mask), &args.output)?;
        let share = crate::data::masks::hole_fraction(&mask);
        super::status(format_args!(
            "marked {:.1} % of the image as cracks or losses in {} (white = fill); check \
             and edit it (outlines and hatching are marked too), then run atelier inpaint {} \
             --mask {} -o OUT",
            100.0 * share,
            args.output.display(),
            args.image.display(),
            args.output.display()
        ));
        return Ok(());
    }
    let mask_path = args.mask.as_ref().context("--mask is required")?;
    let raw = load_mask(mask_path, args.mask_color, args.tolerance)?;
    let prepared = prepare_mask(raw, image.width(), image.height())?;
    for note in &prepared.notes {
        super::status(format_args!("note: {note}"));
    }
    let device = select(device)?;
    let model = match args.method {
        FillMethod::Classic => None,
        FillMethod::Gan => {
            let path = args.model.clone().unwrap_or_else(shipped_inpainter);
            Some(LoadedInpainter::load(&path, &device).context("loading the inpainting model")?)
        }
    };
    let opts = InpaintOptions {
        feather: args.feather,
        max_window: args.max_window,
    };
    let out = inpaint(&image, &prepared.mask, model.as_ref(), &opts, &device)?;
    save_image(&out, &args.output)?;
    super::status(format_args!(
        "filled {:.1} % of the image ({}) into {}",
        100.0 * crate::data::masks::hole_fraction(&prepared.mask),
        match args.method {
            FillMethod::Gan => "the inpainting network",
            FillMethod::Classic => "the diffusion fill",
        },
        args.output.display()
    ));
    Ok(())
}

#[derive(Args, Debug)]
pub struct MasksArgs {
    /// Which masks.
    #[arg(long, value_enum, default_value_t = MaskKind::Cracks)]
    pub kind: MaskKind,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub n: u32,
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub size: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder: KIND-000.png, ... and sheet.png (all of them in a grid).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run_masks(args: MasksArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut all = Vec::new();
    let (lo, hi) = args.kind.hole_range();
    for i in 0..args.n {
        let mut rng = SeededRng::derived(args.seed, &[i as u64]);
        let mask = grey_to_rgb(&args.kind.generate(args.size, args.size, &mut rng));
        save_image(
            &mask,
            &args.output.join(format!("{}-{i:03}.png", args.kind.name())),
        )?;
        all.push(mask);
    }
    let cols = crate::imaging::grid::square_cols(all.len());
    save_image(&make_grid(&all, cols, 4), &args.output.join("sheet.png"))?;
    super::status(format_args!(
        "wrote {} {} masks ({:.0}-{:.0} % holes by design) and sheet.png to {}",
        args.n,
        args.kind.name(),
        100.0 * lo,
        100.0 * hi,
        args.output.display()
    ));
    Ok(())
}
