//! Trains a `cubenet::zoo` network on your own images, laid out as torchvision's
//! `ImageFolder`: `DATA/<class>/<image>.png|jpg`, class names sorted -> 0, 1, ... Every image
//! must have the network's input size and channels (`cifar` and `resnet8`: RGB 32 x 32;
//! `lenet5` and `bn`: grayscale 28 x 28); a file that does not is an error naming it.
//!
//! ```text
//! cargo run --release --features cpu --example train_folder -- --data photos/train --test photos/val
//! ```
//! Normalisation: per-channel mean and std of the training images (as one computes them for
//! torchvision's `Normalize`). `--augment` adds `RandomCrop(size, padding=4)` and
//! `RandomHorizontalFlip()` to the training loader (the CIFAR-10 recipe). Prints one line per
//! epoch and `test_accuracy=... epochs=... train_samples_per_s=... kernels_per_step=...` last.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cubenet::data::{ImageFolder, RandomCrop, RandomHorizontalFlip};
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, FashionBn, LeNet5, ResNet8};

#[path = "shared/common.rs"]
#[allow(dead_code)]
mod common;

#[derive(Parser)]
#[command(about = "Train a cubenet::zoo network on an ImageFolder-style directory")]
struct Args {
    /// Training images: one sub-folder per class.
    #[arg(long)]
    data: PathBuf,
    /// Test images, with the same class folders (optional).
    #[arg(long)]
    test: Option<PathBuf>,
    /// `cifar` (CifarLeNet, 3x32x32), `resnet8` (3x32x32), `lenet5` (1x28x28) or `bn`
    /// (FashionBn, 1x28x28).
    #[arg(long, default_value = "cifar")]
    net: String,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// SGD learning rate (momentum 0.9).
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Random crop (padding 4) and horizontal flip on the training images.
    #[arg(long)]
    augment: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hide the progress bar (shown when stderr is a terminal).
    #[arg(long)]
    quiet: bool,
}

fn open<N: Network>(dir: &Path, classes: Option<&[String]>) -> cubenet::Result<ImageFolder> {
    let folder = ImageFolder::open(dir, N::LAYOUT.input_shape)?;
    if folder.classes().len() > N::LAYOUT.classes {
        return Err(cubenet::Error::Config(format!(
            "{} has {} class folders, but the network has {} outputs",
            dir.display(),
            folder.classes().len(),
            N::LAYOUT.classes
        )));
    }
    if let Some(want) = classes {
        if folder.classes() != want {
            return Err(cubenet::Error::Config(format!(
                "{} has the class folders {:?}, but the training set has {:?}: they must be the same",
                dir.display(),
                folder.classes(),
                want
            )));
        }
    }
    Ok(folder)
}

fn run<N: Network>(args: &Args) -> cubenet::Result<()> {
    let device = default_device();
    eprintln!("device: {}", cubenet::describe(&device)?);
    let train = open::<N>(&args.data, None)?;
    eprintln!(
        "{}: {} images of {} classes {:?}",
        args.data.display(),
        train.files().len(),
        train.classes().len(),
        train.classes()
    );
    let test = match &args.test {
        Some(dir) => Some(open::<N>(dir, Some(train.classes()))?.into_dataset()),
        None => None,
    };
    let train = train.into_dataset();
    let norm = Normalize::from_dataset(&train)?;
    let [_, h, _] = N::LAYOUT.input_shape;
    let mut train_loader = DataLoader::new(
        Arc::new(train),
        args.batch_size,
        true,
        false,
        norm.clone(),
        args.seed,
    )?;
    if args.augment {
        train_loader = train_loader.with_transforms(vec![
            RandomCrop::new(h, 4).into(),
            RandomHorizontalFlip::default().into(),
        ])?;
    }
    let test_loader = match test {
        Some(t) => Some(DataLoader::new(
            Arc::new(t),
            256,
            false,
            false,
            norm,
            args.seed,
        )?),
        None => None,
    };
    let mut net = N::new(&device, args.batch_size.max(256), args.seed)?;
    let mut cfg = TrainConfig::new(args.epochs, Sgd::new(args.lr).with_momentum(0.9));
    cfg.progress &= !args.quiet;
    let reports = fit(&mut net, &train_loader, test_loader.as_ref(), &cfg)?;
    common::print_last_line(&reports, None, N::KERNELS_PER_STEP);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.net.as_str() {
        "cifar" => run::<CifarLeNet>(&args),
        "resnet8" => run::<ResNet8>(&args),
        "lenet5" => run::<LeNet5>(&args),
        "bn" => run::<FashionBn>(&args),
        other => Err(cubenet::Error::Config(format!(
            "unknown --net `{other}`: cifar, resnet8, lenet5 or bn"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
