//! Command-line interface: one file per subcommand, each turning flags into a task.

pub mod eval;
pub mod generate;
pub mod inpaint;
pub mod serve;
pub mod stylize;
pub mod texture;
pub mod train;
pub mod translate;
pub mod video;

use clap::{Parser, Subcommand};

use crate::device::DeviceChoice;

#[derive(Parser, Debug)]
#[command(
    name = "atelier",
    version,
    about = "GAN artwork simulation and style transfer"
)]
pub struct Cli {
    /// Compute device.
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Refuse images with more pixels than this before decoding them (a guard against
    /// decompression bombs; raise it for trusted, very large scans).
    #[arg(long, global = true, default_value_t = crate::imaging::DEFAULT_MAX_PIXELS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: u64,
    /// CPU threads for the tensor work (default: all cores). RAYON_NUM_THREADS also works.
    #[arg(long, global = true, env = "ATELIER_THREADS",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model.
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// Generate new works with a trained generator (the shipped KaoKore model by default).
    Generate(generate::GenerateArgs),
    /// A strip of images along a spherical path between two latents.
    Interpolate(generate::InterpolateArgs),
    /// Style transfer: make CONTENT look painted in the style of --style.
    Stylize(stylize::StylizeArgs),
    /// List the built-in styles of `stylize --method fast` (or those of --model).
    Styles(stylize::StylesArgs),
    /// Texture synthesis from an exemplar image, optionally tileable.
    Texture(texture::TextureArgs),
    /// Translate images with a model from `train translate`, at their own resolution.
    Translate(translate::TranslateArgs),
    /// Fill damage (cracks, losses, tears) in a painting where a mask says, or detect
    /// cracks to make that mask (--detect cracks).
    Inpaint(inpaint::InpaintArgs),
    /// Draw the hole masks inpainting trains on (cracks, losses, strokes, ...).
    Masks(inpaint::MasksArgs),
    /// Stylise a video (MP4, frame folder or pattern) with any stylizer or translation
    /// model, steady from frame to frame.
    Video(video::VideoArgs),
    /// Atelier Studio: a web page and JSON API for every task (open the address it prints).
    Serve(serve::ServeArgs),
    /// Evaluate: FID and KID (InceptionV3), SSIM/PSNR/L1 of pairs, style-transfer scores.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
}

/// A status line ("wrote ...") for the person at the terminal. It goes to stderr, so that a
/// result written to `/dev/stdout` stays exactly the file; a closed stream is not an error.
pub(crate) fn status(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A line of results (eval's table or JSON) on stdout; a reader that closed the pipe
/// (`| head`) ends the output, not the program with a panic.
pub(crate) fn output(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

pub fn init_logging(verbose: u8) {
    // Other crates (the GPU runtime especially) are only heard from on errors unless -vv.
    let (level, others) = match verbose {
        0 => ("warn", "error"),
        1 => ("info", "error"),
        _ => ("debug", "warn"),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ATELIER_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("atelier={level},{others}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A flag that Ctrl-C (or SIGTERM) raises, for commands that stop cleanly (`video` finishes
/// its file, `serve` its jobs). A second signal while the first is handled ends the
/// process at once.
pub(crate) fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

/// Sizes the global thread pool that burn's CPU backend (and our own parallel loops) use.
/// Must run before any tensor work; rayon otherwise starts one thread per core.
pub fn set_threads(n: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot set --threads {n}: {e}"))
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::imaging::io::set_default_max_pixels(cli.max_pixels);
    if let Some(n) = cli.threads {
        set_threads(n as usize)?;
    }
    match cli.command {
        Command::Train(t) => train::run(t, cli.device),
        Command::Generate(a) => generate::run_generate(a, cli.device),
        Command::Interpolate(a) => generate::run_interpolate(a, cli.device),
        Command::Stylize(a) => stylize::run(a, cli.device),
        Command::Styles(a) => stylize::run_styles(a, cli.device),
        Command::Texture(a) => texture::run(a, cli.device),
        Command::Translate(a) => translate::run(a, cli.device),
        Command::Video(a) => video::run(a, cli.device),
        Command::Inpaint(a) => inpaint::run(a, cli.device),
        Command::Masks(a) => inpaint::run_masks(a),
        Command::Serve(a) => serve::run(a, cli.max_pixels, cli.device),
        Command::Eval(e) => eval::run(e, cli.device),
    }
}
