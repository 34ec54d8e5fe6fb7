//! PyTorch parity of whole LeNet training steps through `#[network]`.
//!
//! Fixture: tests/fixtures/lenet5_sgd.safetensors, written by
//! `venv/bin/python scripts/lenet5_sgd_fixture.py` (PyTorch 2.15, CPU, float32): initial
//! weights (`init.*`), the first 100 Fashion-MNIST training images normalised with mean
//! 0.2860 / std 0.3530 (`x`, `y`), the loss, gradients and parameters after one and two SGD
//! steps with lr 0.01, momentum 0.9 on that batch. `CUBENET_FIXTURES` overrides the folder,
//! for this test's binary copied to another machine (bench/gpu/run.sh).
mod common;

use common::*;
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, LeNet5};

/// Loads `init.*`, checks the logits, then two SGD steps on the one batch: the loss (1e-5),
/// every gradient step 1 leaves, every parameter after each step (1e-4; see `common::parity`).
fn two_steps_match<N: Network>(fixture: &str, cap: usize, sgd: Sgd) {
    Parity::<N>::new(&Fixture::load(fixture), "", 1e-4)
        .loss_tol(1e-5)
        .capacity(cap)
        .same_batch()
        .logits("logits0")
        .steps([sgd; 2])
        .after_step(|want, k, net| {
            if k == 1 {
                want.grads("step 1", net, "grad1.");
            }
        })
        .run();
}

#[test]
fn lenet5_two_sgd_steps_match_pytorch() {
    two_steps_match::<LeNet5>(
        "lenet5_sgd.safetensors",
        100,
        Sgd::new(0.01).with_momentum(0.9),
    );
}

/// The PyTorch CIFAR-10 tutorial's LeNet (`cubenet::zoo::CifarLeNet`;
/// tests/fixtures/cifar_lenet_sgd.safetensors, from
/// `venv/bin/python scripts/cifar_lenet_sgd_fixture.py`: 8 random images already normalised,
/// SGD lr 0.001 momentum 0.9 as in the tutorial).
#[test]
fn cifar_lenet_two_sgd_steps_match_pytorch() {
    two_steps_match::<CifarLeNet>(
        "cifar_lenet_sgd.safetensors",
        8,
        Sgd::new(0.001).with_momentum(0.9),
    );
}
