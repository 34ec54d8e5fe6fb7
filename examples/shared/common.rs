//! What every training example shares: its loaders (the training set shuffled, the test set in
//! file order, both normalised alike) and its machine-readable last line. An example includes
//! it as `mod common` next to `fashion.rs` or `cifar.rs`, which use it.
use std::sync::Arc;

use cubenet::prelude::*;

/// `train` shuffled with `seed` in batches of `batch_size`, and `test` in file order in
/// batches of `test_batch_size`, both normalised by `normalize`.
pub fn loaders(
    train: Dataset,
    test: Dataset,
    batch_size: usize,
    test_batch_size: usize,
    normalize: Normalize,
    seed: u64,
) -> cubenet::Result<(DataLoader, DataLoader)> {
    let train = DataLoader::new(
        Arc::new(train),
        batch_size,
        true,
        false,
        normalize.clone(),
        seed,
    )?;
    let test = DataLoader::new(
        Arc::new(test),
        test_batch_size,
        false,
        false,
        normalize,
        seed,
    )?;
    Ok((train, test))
}

/// Prints the last line, `test_accuracy=0.xxxx epochs=N train_samples_per_s=S
/// kernels_per_step=K`: `test_accuracy`, or else the last epoch's; the samples trained per
/// second of the epochs' training time.
pub fn print_last_line(
    reports: &[EpochReport],
    test_accuracy: Option<f64>,
    kernels_per_step: usize,
) {
    let last = reports.last().expect("at least one epoch");
    let test_accuracy = test_accuracy.or(last.test_accuracy).unwrap_or(0.0);
    let secs: f64 = reports.iter().map(|r| r.train_seconds).sum();
    let samples: f64 = reports
        .iter()
        .map(|r| r.samples_per_s * r.train_seconds)
        .sum();
    println!(
        "test_accuracy={test_accuracy:.4} epochs={} train_samples_per_s={:.0} kernels_per_step={kernels_per_step}",
        reports.len(),
        samples / secs.max(1e-9),
    );
}
