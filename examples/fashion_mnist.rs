//! LeNet-5 on Fashion-MNIST, trained with the kernels `#[network]` generates.
//!
//! ```text
//! cargo run --release --example fashion_mnist -- --epochs 4
//! ```
//! Data: the IDX files of the Debian package `dataset-fashion-mnist`
//! (`/usr/share/datasets/fashion-mnist`), or `--data DIR`.
//! A resumable checkpoint is written every 500 steps, at each epoch's end and on Ctrl-C
//! (`--checkpoint`); `--resume <file>` continues the run bitwise as if never stopped.
//! The last line is machine-readable:
//! `test_accuracy=0.xxxx epochs=N train_samples_per_s=S kernels_per_step=K`.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use cubenet::prelude::*;

/// LeNet-5 (LeCun et al. 1998, with ReLU and max-pooling) for 1 x 28 x 28 images.
#[network(input = [1, 28, 28])]
pub struct LeNet5 {
    #[layer(padding = 2)]
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<400, 120>,
    relu3: Relu,
    fc2: Linear<120, 84>,
    relu4: Relu,
    fc3: Linear<84, 10>,
}

#[derive(Parser, Debug)]
#[command(about = "Train LeNet-5 on Fashion-MNIST with cubenet")]
struct Args {
    /// Folder with the Fashion-MNIST IDX files (raw or .gz).
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    data: PathBuf,
    /// Passes over the 60000 training images.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Samples per SGD step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    lr: f32,
    /// Multiply the learning rate by this after every epoch (StepLR, step_size 1).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    lr_decay: f32,
    /// Optimizer (`adam` / `adamw`: torch's betas (0.9, 0.999) and eps 1e-8; `--momentum` is
    /// SGD's only).
    #[arg(long, value_enum, default_value_t = Opt::Sgd)]
    optimizer: Opt,
    /// Clip the gradients to this global L2 norm before each update (clip_grad_norm_).
    #[arg(long, allow_negative_numbers = true)]
    clip_grad_norm: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    momentum: f32,
    /// Weight decay (L2 for SGD and Adam, decoupled for AdamW).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    weight_decay: f32,
    /// Seed for the initial weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train on the first N training images only (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Resumable checkpoint, written every `--checkpoint-every` steps, at each epoch's end
    /// and on Ctrl-C.
    #[arg(long, default_value = "fashion_mnist.ckpt.safetensors")]
    checkpoint: PathBuf,
    /// Steps between checkpoints (0: only at epoch ends and on Ctrl-C).
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Continue the run saved in this checkpoint (same data and options).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Stop (saving the checkpoint, as Ctrl-C does) after this many steps in total.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Write the per-epoch curves to PREFIX.csv and PREFIX.png at the end.
    #[arg(long, value_name = "PREFIX")]
    curves: Option<PathBuf>,
    /// Print the network's shapes and fusion plan first.
    #[arg(long)]
    plan: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Opt {
    Sgd,
    Adam,
    Adamw,
}

fn run(args: &Args) -> cubenet::Result<()> {
    if args.plan {
        println!("{}", LeNet5::SUMMARY);
    }
    let mut train = Dataset::mnist(&args.data, Split::Train)?;
    if args.limit > 0 {
        train = train.head(args.limit);
    }
    let test = Dataset::mnist(&args.data, Split::Test)?;
    // Mean and standard deviation of the Fashion-MNIST training pixels (byte / 255).
    let normalize = Normalize {
        mean: vec![0.2860],
        std: vec![0.3530],
    };
    let train = DataLoader::new(
        Arc::new(train),
        args.batch_size,
        true,
        false,
        normalize.clone(),
        args.seed,
    )?;
    let test = DataLoader::new(
        Arc::new(test),
        args.batch_size.max(100),
        false,
        false,
        normalize,
        args.seed,
    )?;

    let device = cubenet::default_device();
    println!("device: {}", cubenet::describe(&device)?);
    let mut net = LeNet5::new(&device, args.batch_size.max(100), args.seed)?;
    let optimizer: Optimizer = match args.optimizer {
        Opt::Sgd => Sgd::new(args.lr)
            .with_momentum(args.momentum)
            .with_weight_decay(args.weight_decay)
            .into(),
        Opt::Adam => Adam::new(args.lr as f64)
            .with_weight_decay(args.weight_decay as f64)
            .into(),
        Opt::Adamw => Adam::adamw(args.lr as f64)
            .with_weight_decay(args.weight_decay as f64)
            .into(),
    };
    let lr_schedule = Some(StepLr {
        step_size: 1,
        gamma: args.lr_decay,
    });
    let cfg = TrainConfig {
        progress: !args.quiet,
        lr_schedule,
        clip_grad_norm: args.clip_grad_norm,
        checkpoint: Some(args.checkpoint.clone()),
        checkpoint_every: args.checkpoint_every,
        resume: args.resume.clone(),
        stop: StopFlag::on_ctrl_c()?,
        max_steps: args.max_steps,
        ..TrainConfig::new(args.epochs, optimizer)
    };
    let reports = fit(&mut net, &train, Some(&test), &cfg)?;
    if let Some(p) = net.state().profile() {
        let total: f64 = p.kernels.iter().map(|k| k.1).sum();
        println!("kernel profile (CUBENET_PROFILE=1; each launch synced):");
        for (name, secs, launches) in &p.kernels {
            println!(
                "  {name:<18} {:>9.3} ms/launch {:>5.1}%",
                1e3 * secs / *launches as f64,
                100.0 * secs / total
            );
        }
    }
    if let Some(prefix) = &args.curves {
        let (csv, png) = (prefix.with_extension("csv"), prefix.with_extension("png"));
        cubenet::curves::write_csv(&csv, &reports)?;
        cubenet::curves::write_png(&png, &reports)?;
        println!("curves: {} {}", csv.display(), png.display());
    }
    let last = reports.last().expect("at least one epoch");
    let secs: f64 = reports.iter().map(|r| r.train_seconds).sum();
    let samples: f64 = reports
        .iter()
        .map(|r| r.samples_per_s * r.train_seconds)
        .sum();
    println!(
        "test_accuracy={:.4} epochs={} train_samples_per_s={:.0} kernels_per_step={}",
        last.test_accuracy.unwrap_or(0.0),
        reports.len(),
        samples / secs.max(1e-9),
        // Adam, or SGD with clipping, adds one update pass over the parameters.
        LeNet5::KERNELS_PER_STEP
            + usize::from(args.optimizer != Opt::Sgd || args.clip_grad_norm.is_some())
    );
    Ok(())
}

fn main() -> ExitCode {
    cubenet::quiet_vulkan_loader();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ cubenet::Error::Interrupted { .. }) => {
            eprintln!("{e}");
            if let cubenet::Error::Interrupted {
                checkpoint: Some(path),
                ..
            } = &e
            {
                eprintln!("{}", resume_command(path));
            }
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command that continues this run: the same arguments plus `--resume <path>`.
fn resume_command(path: &std::path::Path) -> String {
    let mut args: Vec<String> = Vec::new();
    let mut skip = false;
    for a in std::env::args().skip(1) {
        if skip {
            skip = false;
        } else if a == "--resume" || a == "--max-steps" {
            skip = true;
        } else if !a.starts_with("--resume=") && !a.starts_with("--max-steps=") {
            args.push(a);
        }
    }
    format!(
        "to resume: cargo run --release --example fashion_mnist -- {} --resume {}",
        args.join(" "),
        path.display()
    )
}
