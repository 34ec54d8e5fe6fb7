//! What [`crate::trainer::fit`] measures per epoch ([`EpochReport`]), shared by the trainer,
//! resumable checkpoints ([`crate::resume`]) and training curves ([`crate::curves`]).

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean of the per-batch mean losses.
    pub train_loss: f64,
    /// Training samples per second (wall clock, data loading included).
    pub samples_per_s: f64,
    /// Seconds the epoch's training took.
    pub train_seconds: f64,
    /// Test accuracy in [0, 1], if a test loader was given.
    pub test_accuracy: Option<f64>,
    /// Mean test loss, if a test loader was given.
    pub test_loss: Option<f64>,
}
