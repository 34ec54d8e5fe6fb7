//! What the CIFAR-10 examples share: the command line's `--data` folder (or what to pass
//! without one) and its loaders. Included as `mod cifar` next to `mod common`.
use std::path::Path;
use std::process::ExitCode;

use cubenet::prelude::*;

use super::common;

/// The CIFAR-10 training set in `data` (its first `limit` images when `limit > 0`) shuffled
/// with `seed`, and the test set in file order, in batches of `batch_size`, normalised by
/// `normalize`.
pub fn loaders(
    data: &Path,
    limit: usize,
    batch_size: usize,
    normalize: Normalize,
    seed: u64,
) -> cubenet::Result<(DataLoader, DataLoader)> {
    let mut train = Dataset::cifar10(data, Split::Train)?;
    if limit > 0 {
        train = train.head(limit);
    }
    let test = Dataset::cifar10(data, Split::Test)?;
    common::loaders(train, test, batch_size, batch_size, normalize, seed)
}

/// Parses the command line into `A` and runs `run` on it and its `--data` folder (`data`):
/// exit code 0 when it succeeds, 1 (with the error) when it fails, 2 (saying where to get the
/// files) without a folder.
pub fn main<A: clap::Parser>(
    data: impl Fn(&A) -> Option<&Path>,
    run: impl FnOnce(&A, &Path) -> cubenet::Result<()>,
) -> ExitCode {
    cubenet::quiet_vulkan_loader();
    let args = A::parse();
    let Some(data) = data(&args) else {
        eprintln!(
            "error: no data folder given. Pass --data DIR, where DIR is the extracted `cifar-10-batches-bin` \
             folder of the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html, \
             file cifar-10-binary.tar.gz), holding data_batch_1.bin .. data_batch_5.bin and test_batch.bin."
        );
        return ExitCode::from(2);
    };
    match run(&args, data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
