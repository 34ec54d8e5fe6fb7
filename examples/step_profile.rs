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
//! runtime: the line then says `graph_replays=0`).
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
    let device = cubenet::default_device();
    let mut net = N::new(&device, args.batch_size, 0)?;
    net.state_mut().set_graph_capture(args.graph);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let len: usize = N::LAYOUT.input_shape.iter().product();
    let x: Vec<f32> = (0..args.batch_size * len)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y: Vec<u32> = (0..args.batch_size)
        .map(|_| rng.random_range(0..10))
        .collect();
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
