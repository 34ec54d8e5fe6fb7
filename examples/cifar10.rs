//! The program this project started from: the PyTorch CIFAR-10 tutorial's LeNet
//! (<https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html>), written with
//! `#[network]`: inputs normalised with mean 0.5 / std 0.5 per channel, SGD lr 0.001
//! momentum 0.9, batch 100, 10 epochs, the running loss printed every 100 steps, the test
//! accuracy at the end.
//!
//! ```text
//! cargo run --release --example cifar10 -- --data /path/to/cifar-10-batches-bin
//! ```
//! The folder is the extracted "CIFAR-10 binary version" from
//! <https://www.cs.toronto.edu/~kriz/cifar.html> (`data_batch_1.bin` .. `data_batch_5.bin`,
//! `test_batch.bin`).
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cubenet::prelude::*;
// The PyTorch CIFAR-10 tutorial's network, for 3 x 32 x 32 images; its `#[network]`
// definition is in `src/zoo.rs`.
use cubenet::zoo::CifarLeNet;

#[path = "shared/cifar.rs"]
mod cifar;
#[path = "shared/common.rs"]
mod common;

#[derive(Parser, Debug)]
#[command(about = "Train the PyTorch tutorial's LeNet on CIFAR-10 with cubenet")]
struct Args {
    /// The `cifar-10-batches-bin` folder (or its parent).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Samples per SGD step.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.001)]
    lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the running loss every this many steps.
    #[arg(long, default_value_t = 100)]
    log_every: usize,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn run(args: &Args, data: &std::path::Path) -> cubenet::Result<()> {
    let normalize = Normalize {
        mean: vec![0.5; 3],
        std: vec![0.5; 3],
    };
    let (train, test) = cifar::loaders(data, 0, args.batch_size, normalize, args.seed)?;
    let device = cubenet::default_device();
    println!("device: {}", cubenet::describe(&device)?);
    let mut net = CifarLeNet::new(&device, args.batch_size, args.seed)?;
    let sgd = Sgd::new(args.lr).with_momentum(args.momentum);
    let cfg = TrainConfig {
        progress: !args.quiet,
        log_every: args.log_every,
        ..TrainConfig::new(args.epochs, sgd)
    };
    let reports = fit(&mut net, &train, None, &cfg)?;
    println!("Finished Training");
    let (accuracy, _) = evaluate(&mut net, &test)?;
    println!(
        "Accuracy of the network on the {} test images: {:.0} %",
        test.dataset().len(),
        100.0 * accuracy
    );
    common::print_last_line(&reports, Some(accuracy), CifarLeNet::KERNELS_PER_STEP);
    Ok(())
}

fn main() -> ExitCode {
    cifar::main(|args: &Args| args.data.as_deref(), run)
}
