//! `atelier serve`: the studio, a local web page and JSON API for every task.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use clap::Args;

use crate::device::DeviceChoice;
use crate::studio::{ServeOptions, Server};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:7860")]
    pub addr: SocketAddr,
    /// Where uploads, jobs and results are kept (they survive a restart).
    #[arg(long, default_value = "atelier-studio")]
    pub data_dir: PathBuf,
    /// A secret every request must carry (open the page as /?token=...); at least 8 characters.
    #[arg(long, env = "ATELIER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Jobs that run at the same time (one suits a CPU: each already uses every core).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub workers: u32,
    /// Jobs that may wait; more are refused (HTTP 429) until one finishes.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub queue: u32,
    /// Largest upload in MB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_upload_mb: u32,
    /// Longest side of any result in pixels.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(64..=16384))]
    pub max_side: u32,
    /// Longest clip the Video tab takes, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub max_video_seconds: f64,
    /// Where translation models are listed from (default: the shipped models).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
}

pub fn run(a: ServeArgs, max_pixels: u64, device: DeviceChoice) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.max_video_seconds.is_finite() && a.max_video_seconds > 0.0,
        "--max-video-seconds must be positive"
    );
    let mut opts = ServeOptions::new(a.addr, a.data_dir);
    opts.token = a.token.filter(|t| !t.is_empty());
    opts.workers = a.workers as usize;
    opts.queue = a.queue as usize;
    opts.max_upload_bytes = (a.max_upload_mb as usize) << 20;
    opts.max_pixels = max_pixels;
    opts.max_side = a.max_side;
    opts.max_video_seconds = a.max_video_seconds;
    opts.device = device;
    if let Some(dir) = a.models_dir {
        opts.models_dir = dir;
    }
    let has_token = opts.token.is_some();
    let data_dir = opts.data_dir.clone();
    let server = Server::start(opts)?;
    let url = if has_token {
        format!("{}?token=YOUR_TOKEN", server.url())
    } else {
        server.url()
    };
    super::status(format_args!(
        "Atelier Studio is open at {url} (results in {}); Ctrl-C stops it",
        data_dir.display()
    ));
    let stop = super::stop_on_signals()?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    super::status(format_args!("stopping the studio"));
    server.stop();
    Ok(())
}
