//! ResNet-8 on CIFAR-10: torchvision's `BasicBlock`s (Conv2d + BatchNorm2d + ReLU, with
//! identity and projection shortcuts) in a CIFAR-sized ResNet (He et al. 2016, section 4.2,
//! with one block per stage: 1 + 3 x 2 + 1 = 8 layers with weights), written with
//! `#[network]`. SGD with momentum, weight decay and a cosine learning-rate schedule; the
//! test accuracy after each epoch, in eval mode (BatchNorm's running statistics).
//!
//! ```text
//! cargo run --release --example cifar10_resnet -- --data /path/to/cifar-10-batches-bin
//! ```
//! The folder is the extracted "CIFAR-10 binary version" from
//! <https://www.cs.toronto.edu/~kriz/cifar.html> (`data_batch_1.bin` .. `data_batch_5.bin`,
//! `test_batch.bin`). No data augmentation. The last line is machine-readable:
//! `test_accuracy=0.xxxx epochs=N train_samples_per_s=S kernels_per_step=K`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cubenet::prelude::*;
// ResNet-8 for 3 x 32 x 32 images: a 3x3 stem, three stages of one BasicBlock each (16, 32
// and 64 channels; stride 2 with a 1x1 projection between stages), global average pooling
// and a linear classifier; its `#[network]` definition is in `src/zoo.rs`.
use cubenet::zoo::ResNet8;

#[path = "shared/cifar.rs"]
mod cifar;
#[path = "shared/common.rs"]
mod common;

#[derive(Parser, Debug)]
#[command(about = "Train ResNet-8 (BasicBlocks with BatchNorm) on CIFAR-10 with cubenet")]
struct Args {
    /// The `cifar-10-batches-bin` folder (or its parent).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Samples per SGD step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Initial learning rate (annealed to 0 over the epochs with a cosine).
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Weight decay (L2, on every parameter as torch.optim.SGD).
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f32,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on the first N training images only (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Print the network's shapes and fusion plan first.
    #[arg(long)]
    plan: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn run(args: &Args, data: &std::path::Path) -> cubenet::Result<()> {
    if args.plan {
        println!("{}", ResNet8::SUMMARY);
    }
    // Per-channel mean and standard deviation of the CIFAR-10 training pixels (byte / 255).
    let normalize = Normalize {
        mean: vec![0.4914, 0.4822, 0.4465],
        std: vec![0.2470, 0.2435, 0.2616],
    };
    let (train, test) = cifar::loaders(data, args.limit, args.batch_size, normalize, args.seed)?;
    let device = cubenet::default_device();
    println!("device: {}", cubenet::describe(&device)?);
    let mut net = ResNet8::new(&device, args.batch_size, args.seed)?;
    let sgd = Sgd::new(args.lr)
        .with_momentum(args.momentum)
        .with_weight_decay(args.weight_decay);
    let cfg = TrainConfig {
        progress: !args.quiet,
        cosine: Some(CosineAnnealingLr {
            t_max: args.epochs,
            eta_min: 0.0,
            per_step: false,
        }),
        ..TrainConfig::new(args.epochs, sgd)
    };
    let reports = fit(&mut net, &train, Some(&test), &cfg)?;
    if let Some(p) = net.state().profile() {
        print!("{}", p.table());
    }
    common::print_last_line(&reports, None, ResNet8::KERNELS_PER_STEP);
    Ok(())
}

fn main() -> ExitCode {
    cifar::main(|args: &Args| args.data.as_deref(), run)
}
