//! The generated launch plans fill a GPU (issue 14): for the four zoo networks at batch 128
//! on the `gpu` target row, every training kernel doing at least 10^7 multiply-adds launches
//! at least 32,768 units (an H200 runs ~270k threads at once), and no unit runs a loop of
//! more than 4,096 iterations (one serial chain per unit would leave the GPU idle). Only the
//! plan is inspected; nothing runs on a device.
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, FashionBn, LeNet5, ResNet8};
use cubenet::{KernelPlan, Target};

const BATCH: usize = 128;
const HEAVY_MACS: usize = 10_000_000;
const MIN_UNITS: usize = 32_768;
const MAX_LOOP: usize = 4_096;

fn violations<N: Network>(net: &str) -> Vec<String> {
    let plan: Vec<KernelPlan> = N::kernel_plan(BATCH, true, Target::Gpu as usize);
    assert_eq!(plan.len(), N::KERNELS_PER_STEP, "{net}");
    let mut bad = Vec::new();
    for k in &plan {
        if k.macs >= HEAVY_MACS && k.units < MIN_UNITS {
            bad.push(format!(
                "{net}: {} does {} multiply-adds in only {} units",
                k.name, k.macs, k.units
            ));
        }
        if k.longest_loop > MAX_LOOP {
            bad.push(format!(
                "{net}: {} runs {} loop iterations per unit ({})",
                k.name, k.longest_loop, k.longest_job
            ));
        }
    }
    bad
}

#[test]
fn zoo_gpu_plans_fill_a_gpu_at_batch_128() {
    let mut bad = violations::<LeNet5>("LeNet5");
    bad.extend(violations::<CifarLeNet>("CifarLeNet"));
    bad.extend(violations::<FashionBn>("FashionBn"));
    bad.extend(violations::<ResNet8>("ResNet8"));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The check above can fail: the heaviest kernel of each network is heavy, and the plan's
/// units and loops grow with the batch as they must.
#[test]
fn plans_report_real_work() {
    fn heaviest<N: Network>() -> KernelPlan {
        N::kernel_plan(BATCH, true, Target::Gpu as usize)
            .into_iter()
            .max_by_key(|k| k.macs)
            .unwrap()
    }
    for k in [
        heaviest::<LeNet5>(),
        heaviest::<CifarLeNet>(),
        heaviest::<FashionBn>(),
        heaviest::<ResNet8>(),
    ] {
        assert!(k.macs >= HEAVY_MACS && k.units > 0, "{k:?}");
    }
    // ResNet-8's stem at batch 128: 16 x 32 x 32 outputs x 27 multiply-adds x 128 samples.
    let stem = &ResNet8::kernel_plan(BATCH, true, Target::Gpu as usize)[0];
    assert_eq!(stem.name, "forward_conv1");
    assert_eq!(stem.macs, 16 * 32 * 32 * 27 * BATCH);
    let at = |n| LeNet5::kernel_plan(n, true, Target::Gpu as usize)[0].units;
    assert_eq!(at(2 * BATCH), 2 * at(BATCH));
}
