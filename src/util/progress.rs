//! The one progress-bar look for every long job (training, image optimisation).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` steps with elapsed time, ETA, position and a message.
pub fn bar(total: u64) -> ProgressBar {
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise} < {eta_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .expect("valid template"),
    );
    b
}

/// A bar counting video frames, with the rate and the time left.
pub fn frames_bar() -> ProgressBar {
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise} < {eta_precise}] {bar:30} {pos}/{len} frames, {per_sec}",
        )
        .expect("valid template"),
    );
    b
}
