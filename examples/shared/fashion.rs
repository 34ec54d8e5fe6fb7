//! The Fashion-MNIST training program shared by the `fashion_mnist` (LeNet-5) and
//! `fashion_mnist_bn` (with BatchNorm) examples: command line, data, training loop,
//! checkpoints, curves and the machine-readable last line, generic over the network.
//!
//! Data: the IDX files of the Debian package `dataset-fashion-mnist`
//! (`/usr/share/datasets/fashion-mnist`), or `--data DIR`.
//! A resumable checkpoint is written every 500 steps, at each epoch's end and on Ctrl-C
//! (`--checkpoint`); `--resume <file>` continues the run bitwise as if never stopped.
//! The last line is machine-readable:
//! `test_accuracy=0.xxxx epochs=N train_samples_per_s=S kernels_per_step=K`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use cubenet::prelude::*;

use super::common;

#[derive(Parser, Debug)]
pub struct Args {
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
    /// Learning-rate schedule: `step` multiplies it by `--lr-decay` after every epoch
    /// (StepLR, step_size 1); `cosine` anneals it to 0 over the run, after every step
    /// (CosineAnnealingLR with T_max = all steps).
    #[arg(long, value_enum, default_value_t = Schedule::Step)]
    schedule: Schedule,
    /// Multiply the learning rate by this after every epoch (`--schedule step`).
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
pub enum Schedule {
    Step,
    Cosine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Opt {
    Sgd,
    Adam,
    Adamw,
}

fn run<N: Network>(args: &Args) -> cubenet::Result<()> {
    if args.plan {
        println!("{}", N::SUMMARY);
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
    let (train, test) = common::loaders(
        train,
        test,
        args.batch_size,
        args.batch_size.max(100),
        normalize,
        args.seed,
    )?;

    let device = cubenet::default_device();
    println!("device: {}", cubenet::describe(&device)?);
    let mut net = N::new(&device, args.batch_size.max(100), args.seed)?;
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
    let (lr_schedule, cosine) = match args.schedule {
        Schedule::Step => (
            Some(StepLr {
                step_size: 1,
                gamma: args.lr_decay,
            }),
            None,
        ),
        Schedule::Cosine => (
            None,
            Some(CosineAnnealingLr {
                t_max: args.epochs * train.num_batches(),
                eta_min: 0.0,
                per_step: true,
            }),
        ),
    };
    let cfg = TrainConfig {
        progress: !args.quiet,
        lr_schedule,
        cosine,
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
        print!("{}", p.table());
    }
    if let Some(prefix) = &args.curves {
        let (csv, png) = (prefix.with_extension("csv"), prefix.with_extension("png"));
        cubenet::curves::write_csv(&csv, &reports)?;
        cubenet::curves::write_png(&png, &reports)?;
        println!("curves: {} {}", csv.display(), png.display());
    }
    common::print_last_line(
        &reports,
        None,
        // Adam, or SGD with clipping, adds one update pass over the parameters.
        N::KERNELS_PER_STEP
            + usize::from(args.optimizer != Opt::Sgd || args.clip_grad_norm.is_some()),
    );
    Ok(())
}

/// What differs between the Fashion-MNIST examples: the program's name and description and
/// the defaults of its options (as they would be typed on the command line).
pub struct Defaults {
    /// The example's name (`cargo run --example <name>`).
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// `--epochs`.
    pub epochs: &'static str,
    /// `--batch-size`.
    pub batch_size: &'static str,
    /// `--lr`.
    pub lr: &'static str,
    /// `--schedule` (`step` or `cosine`).
    pub schedule: &'static str,
    /// `--lr-decay`.
    pub lr_decay: &'static str,
    /// `--weight-decay`.
    pub weight_decay: &'static str,
}

/// Parses the command line (with `d`'s defaults), trains `N` and prints the results.
pub fn main<N: Network>(d: &Defaults) -> ExitCode {
    cubenet::quiet_vulkan_loader();
    // clap keeps `&'static str` defaults; this runs once per process.
    let checkpoint: &'static str = format!("{}.ckpt.safetensors", d.name).leak();
    let command = Args::command()
        .name(d.name)
        .about(d.about)
        .mut_arg("epochs", |a| a.default_value(d.epochs))
        .mut_arg("batch_size", |a| a.default_value(d.batch_size))
        .mut_arg("lr", |a| a.default_value(d.lr))
        .mut_arg("schedule", |a| a.default_value(d.schedule))
        .mut_arg("lr_decay", |a| a.default_value(d.lr_decay))
        .mut_arg("weight_decay", |a| a.default_value(d.weight_decay))
        .mut_arg("checkpoint", |a| a.default_value(checkpoint));
    let args = match Args::from_arg_matches(&command.get_matches()) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    match run::<N>(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ cubenet::Error::Interrupted { .. }) => {
            eprintln!("{e}");
            if let cubenet::Error::Interrupted {
                checkpoint: Some(path),
                ..
            } = &e
            {
                eprintln!("{}", resume_command(d.name, path));
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
fn resume_command(name: &str, path: &std::path::Path) -> String {
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
        "to resume: cargo run --release --example {name} -- {} --resume {}",
        args.join(" "),
        path.display()
    )
}
