//! The runtime's error type.
use std::path::PathBuf;

use crate::data::DataError;

/// Everything that can go wrong while building, training or evaluating a network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable compute device, or the device failed.
    #[error("device error: {0}")]
    Device(String),
    /// A kernel failed to compile or run; the message is the backend's.
    #[error("kernel error ({context}): {message}. Set CUBECL_DEBUG_LOG=stderr to see the generated shader.")]
    Kernel {
        /// What the runtime was doing.
        context: String,
        /// The backend's message.
        message: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A batch does not match the network's shapes.
    #[error("shape error: {0}")]
    Shape(String),
    /// A label is not a valid class index.
    #[error("label {label} of sample {sample} in the batch is not a class index: the network has {classes} classes (0..={max})", max = classes - 1)]
    Label {
        /// Row of the batch.
        sample: usize,
        /// The label found.
        label: u32,
        /// Number of classes of the network.
        classes: usize,
    },
    /// A dataset's targets do not fit the network's loss (e.g. f32 value targets given to a
    /// classifier trained with cross-entropy).
    #[error("the {set} set has {found}, but the network's loss {loss} needs {needs}")]
    Targets {
        /// Which data: "training" or "evaluation".
        set: &'static str,
        /// What the dataset holds, e.g. "f32 value targets (784 per sample)".
        found: String,
        /// The loss, e.g. "cross_entropy".
        loss: &'static str,
        /// What the loss needs, e.g. "class labels (a dataset of Targets::Classes)".
        needs: String,
    },
    /// A loss or parameter became NaN or infinite.
    #[error("non-finite loss {loss} at epoch {epoch}, step {step} (batch {batch}); lower the learning rate or check the data")]
    NonFinite {
        /// The loss value.
        loss: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Global step (1-based).
        step: u64,
        /// Batch index within the epoch (0-based).
        batch: usize,
    },
    /// A gradient became NaN or infinite.
    #[error("non-finite gradient of `{param}` at epoch {epoch}, step {step} (batch {batch}); the last checkpoint holds the weights from before it. Lower the learning rate or check the data")]
    NonFiniteGradient {
        /// `state_dict` key of the first parameter whose gradient is not finite.
        param: String,
        /// Epoch (1-based).
        epoch: usize,
        /// Global step (1-based).
        step: u64,
        /// Batch index within the epoch (0-based).
        batch: usize,
    },
    /// A checkpoint was not written because the state to save is not finite.
    #[error("not saving a checkpoint to {path}: a {what} is NaN or infinite (the file keeps the last good state)")]
    NonFiniteState {
        /// Which tensor, e.g. "parameter of `fc1.weight`".
        what: String,
        /// The checkpoint file left untouched.
        path: PathBuf,
    },
    /// Training was stopped (Ctrl-C or a step limit) after a whole step.
    #[error("training stopped after step {step} (epoch {epoch}, {batches_done} of {batches} batches done); {}", match checkpoint { Some(p) => format!("the run was saved to {}: resume it from there (TrainConfig::resume; the examples take `--resume {}`)", p.display(), p.display()), None => "no checkpoint path was set, so this progress is not saved".to_string() })]
    Interrupted {
        /// Epoch in progress (1-based).
        epoch: usize,
        /// Batches of that epoch done.
        batches_done: usize,
        /// Batches per epoch.
        batches: usize,
        /// Optimiser steps taken in the run.
        step: u64,
        /// The checkpoint written, if a path was configured.
        checkpoint: Option<PathBuf>,
    },
    /// A dataset file is missing or malformed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A state dict does not match the network.
    #[error("state dict does not match the network:\n{0}")]
    StateDict(String),
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
