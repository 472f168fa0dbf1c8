use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = atelier::cli::Cli::parse();
    atelier::cli::init_logging(cli.verbose);
    match atelier::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
