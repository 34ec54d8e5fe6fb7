//! Criterion benchmarks of the generated code: the whole training step of LeNet-5
//! (1 x 28 x 28) and of the CIFAR tutorial LeNet (3 x 32 x 32), and each of their training
//! kernels alone, at batch 100 on random data, on `cubenet::default_device()` (the runtimes
//! this build links; see the README's backends section).
//!
//! ```text
//! cargo bench --bench steps                      # wgpu (lavapipe without a GPU)
//! cargo bench --features cpu --bench steps       # cubecl's CPU runtime
//! ```
//! Every measured iteration ends with `NetState::sync`, so the clock stops only when the
//! device has finished. A kernel alone is timed after one whole step has filled its inputs;
//! parameter updates then use lr = 1e-6 so repeated launches leave the network finite.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, LeNet5};
use rand::{Rng, SeedableRng};

const BATCH: usize = 100;

/// A network of type `N` on the default device, and one random batch for it.
fn setup<N: Network>() -> (N, Vec<f32>, Vec<u32>) {
    cubenet::quiet_vulkan_loader();
    let device = cubenet::default_device();
    let net = N::new(&device, BATCH, 0).expect("allocating the network");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let len: usize = N::LAYOUT.input_shape.iter().product();
    let x = (0..BATCH * len)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
    (net, x, y)
}

fn bench_net<N: Network>(c: &mut Criterion, name: &str) {
    let (mut net, x, y) = setup::<N>();
    let sgd = Sgd::new(0.01).with_momentum(0.9);
    for _ in 0..3 {
        net.train_step(&x, &y, &sgd).expect("warm-up step");
    }

    let mut group = c.benchmark_group(format!("train_step/{name}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("batch_100", |b| {
        b.iter(|| net.train_step(&x, &y, &sgd).expect("training step"))
    });
    group.finish();

    // One whole step (upload included) leaves every kernel's inputs in place.
    net.train_step(&x, &y, &sgd).expect("training step");
    let args = net.state().step_args(&Sgd::new(1e-6).with_momentum(0.9));
    let mut group = c.benchmark_group(format!("kernel/{name}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    for (k, kernel) in N::TRAIN_KERNELS.iter().enumerate() {
        group.bench_function(BenchmarkId::from_parameter(kernel), |b| {
            b.iter(|| {
                N::launch_train_kernel(net.state(), BATCH, args, k);
                net.state().sync().expect("kernel")
            })
        });
    }
    group.finish();
}

fn lenet5(c: &mut Criterion) {
    bench_net::<LeNet5>(c, "lenet5");
}

fn cifar_lenet(c: &mut Criterion) {
    bench_net::<CifarLeNet>(c, "cifar_lenet");
}

criterion_group! {
    name = steps;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = lenet5, cifar_lenet
}
criterion_main!(steps);
