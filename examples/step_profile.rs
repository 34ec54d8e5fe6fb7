//! Times the training step of LeNet-5 (1 x 28 x 28) or the CIFAR tutorial LeNet (3 x 32 x 32)
//! on random data; used by `bench/side_by_side.sh`.
//!
//! ```text
//! CUBENET_PROFILE=1 cargo run --release --example step_profile -- --net lenet5 --steps 20
//! ```
//! With `CUBENET_PROFILE=1` every launch is synchronised and timed (per-kernel table);
//! without it only the whole-step throughput is printed, on one machine-readable line.
//! `--plan` prints every training kernel's units and longest loop per unit on each target
//! row instead. `--graph` replays the repeated steps as recorded device graphs
//! (`NetState::set_graph_capture`; a CUDA graph on CUDA, wgpu's own on wgpu, none on the cpu
//! runtime: the line then says `graph_replays=0`). `--check-graph` trains two copies of the
//! network for `--steps` steps on the same batches, one launching its kernels and one
//! replaying graphs, and fails unless every loss and every `state_dict` value agree bit for
//! bit (`bench/gpu/run.sh` runs it on CUDA).
use std::time::Instant;

use clap::Parser;
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, FashionBn, LeNet5, ResNet8};
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    /// `lenet5` (Fashion-MNIST shape), `cifar` (the CIFAR tutorial LeNet), `bn` (FashionBn) or
    /// `resnet8` (`cubenet::zoo`).
    #[arg(long, default_value = "lenet5")]
    net: String,
    /// Samples per step.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Timed steps (after 3 warm-up steps).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Print the launch plan (units and longest loop per unit of every kernel, on each
    /// target row, at `--batch-size`) and exit.
    #[arg(long)]
    plan: bool,
    /// Record the step as a device graph and replay it (see the module docs).
    #[arg(long)]
    graph: bool,
    /// Check that replayed graphs give bitwise the losses and weights of launched kernels
    /// (see the module docs) and exit.
    #[arg(long)]
    check_graph: bool,
}

fn main() -> cubenet::Result<()> {
    cubenet::quiet_vulkan_loader();
    let args = Args::parse();
    match args.net.as_str() {
        "lenet5" => bench::<LeNet5>(&args, "lenet5"),
        "cifar" => bench::<CifarLeNet>(&args, "cifar_lenet"),
        "bn" => bench::<FashionBn>(&args, "fashion_bn"),
        "resnet8" => bench::<ResNet8>(&args, "resnet8"),
        other => Err(cubenet::Error::Config(format!(
            "unknown --net `{other}`; expected `lenet5`, `cifar`, `bn` or `resnet8`"
        ))),
    }
}

fn bench<N: Network>(args: &Args, name: &str) -> cubenet::Result<()> {
    if args.plan {
        print!("net={name}\n{}", N::plan_table(args.batch_size));
        return Ok(());
    }
    if args.check_graph {
        return check_graph::<N>(args, name);
    }
    let device = cubenet::default_device();
    let mut net = N::new(&device, args.batch_size, 0)?;
    net.state_mut().set_graph_capture(args.graph);
    let (x, y) = batch::<N>(args.batch_size, 1);
    let sgd = Sgd::new(0.01).with_momentum(0.9);
    for _ in 0..3 {
        net.train_step(&x, &y, &sgd)?;
    }
    let warm: Vec<(&str, f64, usize)> = net
        .state()
        .profile()
        .map(|p| p.kernels.clone())
        .unwrap_or_default();
    let start = Instant::now();
    for _ in 0..args.steps {
        net.train_step(&x, &y, &sgd)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let sps = (args.steps * args.batch_size) as f64 / secs;
    let gflops = sps * 2.0 * N::MACS_PER_SAMPLE as f64 / 1e9;
    if let Some(p) = net.state().profile() {
        let rows: Vec<(&str, f64)> = p
            .kernels
            .iter()
            .map(|(n, s, _)| {
                (
                    *n,
                    s - warm.iter().find(|w| w.0 == *n).map(|w| w.1).unwrap_or(0.0),
                )
            })
            .collect();
        let total: f64 = rows.iter().map(|r| r.1).sum();
        for (n, s) in rows {
            println!(
                "{n:<36} {:>8.2} ms/step {:>5.1}%",
                1e3 * s / args.steps as f64,
                100.0 * s / total
            );
        }
    }
    println!(
        "net={name} device={} batch={} samples_per_s={sps:.1} ms_per_step={:.1} gflops={gflops:.3} kernels_per_step={} graph_replays={}",
        net.state().client().name(),
        args.batch_size,
        1e3 * secs / args.steps as f64,
        N::KERNELS_PER_STEP,
        net.state().graph_replays()
    );
    Ok(())
}

/// A batch of `n` random images in [-1, 1) and labels 0..10, drawn from `seed`.
fn batch<N: Network>(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let len: usize = N::LAYOUT.input_shape.iter().product();
    let x = (0..n * len).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y = (0..n).map(|_| rng.random_range(0..10)).collect();
    (x, y)
}

/// `--check-graph`: the losses and `state_dict` (as bits) of `--steps` (at least 6) SGD steps
/// on batches that change every step (the last three of half the size, so that both sizes
/// replay), launched and replayed.
fn check_graph<N: Network>(args: &Args, name: &str) -> cubenet::Result<()> {
    let device = cubenet::default_device();
    let sgd = Sgd::new(0.01).with_momentum(0.9);
    let run = |graph: bool| -> cubenet::Result<(Vec<u32>, Vec<u32>, u64)> {
        let mut net = N::new(&device, args.batch_size, 0)?;
        net.state_mut().set_graph_capture(graph);
        let mut losses = Vec::new();
        let steps = args.steps.max(6);
        for step in 0..steps {
            let n = if step + 3 >= steps {
                (args.batch_size / 2).max(1)
            } else {
                args.batch_size
            };
            let (x, y) = batch::<N>(n, 100 + step as u64);
            losses.push(net.train_step(&x, &y, &sgd)?.to_bits());
        }
        let state = net
            .state_dict()?
            .iter()
            .flat_map(|t| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect();
        Ok((losses, state, net.state().graph_replays()))
    };
    let (launched, replayed) = (run(false)?, run(true)?);
    let same = launched.0 == replayed.0 && launched.1 == replayed.1;
    println!(
        "net={name} device={} batch={} graph_check={} graph_replays={}",
        cubenet::describe(&device)?
            .split(' ')
            .next()
            .unwrap_or_default(),
        args.batch_size,
        if same { "identical" } else { "DIFFERENT" },
        replayed.2
    );
    if same {
        Ok(())
    } else {
        Err(cubenet::Error::Device(format!(
            "{name}: replayed graphs gave other losses or weights than launched kernels"
        )))
    }
}
