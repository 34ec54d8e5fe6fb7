//! LeNet-5 on Fashion-MNIST, trained with the kernels `#[network]` generates.
//!
//! ```text
//! cargo run --release --example fashion_mnist -- --epochs 4
//! ```
//! Options, data, checkpoints and output: `examples/shared/fashion.rs` (`--help`).
use std::process::ExitCode;

// LeNet-5 (LeCun et al. 1998, with ReLU and max-pooling) for 1 x 28 x 28 images; its
// `#[network]` definition is in `src/zoo.rs`.
use cubenet::zoo::LeNet5;

#[path = "shared/common.rs"]
mod common;
#[path = "shared/fashion.rs"]
mod fashion;

fn main() -> ExitCode {
    fashion::main::<LeNet5>(&fashion::Defaults {
        name: "fashion_mnist",
        about: "Train LeNet-5 on Fashion-MNIST with cubenet",
        epochs: "4",
        batch_size: "64",
        lr: "0.05",
        schedule: "step",
        lr_decay: "0.5",
        weight_decay: "0",
    })
}
