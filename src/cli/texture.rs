//! `atelier texture`: texture synthesis from an exemplar, optionally tileable.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::device::{DeviceChoice, select};
use crate::imaging::{LoadOptions, check_image_output, load_rgb, save_image};
use crate::models::vgg::Border;
use crate::tasks::texture::{TextureOptions, synthesize, tile_multiple, tileable_size};

use super::stylize::observer;
use crate::tasks::image_optim::VggOptimOptions;

#[derive(Args, Debug)]
pub struct TextureArgs {
    /// The exemplar texture (any image).
    #[arg(long)]
    pub exemplar: PathBuf,
    /// Output size WxH, e.g. 512x512.
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Make the result wrap seamlessly (circular padding); the size is rounded up to the
    /// multiple the network's poolings need (4 with the shared VGG file, 16 with the full).
    #[arg(long)]
    pub tileable: bool,
    #[command(flatten)]
    pub optim: VggOptimOptions,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WxH (e.g. 512x512)"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=16384).contains(n))
            .ok_or_else(|| format!("'{v}' in '{s}' is not a size between 16 and 16384"))
    };
    Ok((p(w)?, p(h)?))
}

pub fn run(a: TextureArgs, device: DeviceChoice) -> anyhow::Result<()> {
    check_image_output(&a.output)?;
    let exemplar = load_rgb(&a.exemplar, &LoadOptions::default()).context("exemplar")?;
    let device = select(device)?;
    let border = if a.tileable {
        Border::Circular
    } else {
        Border::Zero
    };
    let vgg = a.optim.load_vgg(border, &device)?;
    let layers = a.optim.layers(&vgg)?;
    let (w, h) = if a.tileable {
        tileable_size(&layers, a.size)
    } else {
        a.size
    };
    if (w, h) != a.size {
        super::status(format_args!(
            "tileable: size rounded up to {w}x{h} (a multiple of {})",
            tile_multiple(&layers)
        ));
    }
    let opts = TextureOptions {
        width: w,
        height: h,
        seed: a.optim.seed,
        optimize: a.optim.optimize_options()?,
        memory_limit: a.optim.memory_limit()?,
    };
    let (bar, mut observe) = observer(a.optim.save_every, &a.output, opts.optimize.iters as u64);
    let out = synthesize(&vgg, &layers, &exemplar, &opts, &mut observe)?;
    bar.finish();
    save_image(&out, &a.output)?;
    super::status(format_args!("wrote {}", a.output.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_size("512x256"), Ok((512, 256)));
        assert!(parse_size("512").is_err());
        assert!(parse_size("8x8").is_err());
    }
}
