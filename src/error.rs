//! The library's error type: every failure a user can cause has a variant with a message
//! that says what was wrong and what to do, so the CLI never has to panic.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AtelierError {
    #[error("cannot read image {path}: {reason}")]
    ImageRead { path: PathBuf, reason: String },

    #[error(
        "image {path} is {width}x{height} ({pixels} pixels), over the limit of {limit} pixels; \
         refusing to decode it (raise --max-pixels if the file is trusted)"
    )]
    ImageTooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },

    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },

    #[error("{0}")]
    Dataset(String),

    #[error("model file {path}: {reason}")]
    BadModel { path: PathBuf, reason: String },

    #[error("unknown class '{name}'; this model knows: {known}")]
    UnknownClass { name: String, known: String },

    #[error(
        "training diverged at step {step}: {what} is {value}. The run was stopped; \
         the last good checkpoint ({checkpoint}) was left untouched. Lower the learning \
         rates or change the loss, then resume with --resume"
    )]
    Diverged {
        step: u64,
        what: String,
        value: f64,
        checkpoint: String,
    },

    /// An image optimisation (stylize, texture) produced a non-finite loss or gradient.
    /// `hint` says what the calling command can change.
    #[error("the optimisation diverged (loss {loss}, gradient finite: {grad_finite}); {hint}")]
    OptimisationDiverged {
        loss: f64,
        grad_finite: bool,
        hint: String,
    },

    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error("invalid setting: {0}")]
    Config(String),

    /// A video could not be read or written (container, codec, frames).
    #[error("video {path}: {reason}")]
    Video { path: PathBuf, reason: String },

    #[error("device: {0}")]
    Device(String),

    /// The person who started the work stopped it (the studio's cancel button).
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = AtelierError> = std::result::Result<T, E>;
