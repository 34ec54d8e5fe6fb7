//! LeNet-5 on Fashion-MNIST, trained with the kernels `#[network]` generates.
//!
//! ```text
//! cargo run --release --example fashion_mnist -- --epochs 4
//! ```
//! Options, data, checkpoints and output: `examples/shared/fashion.rs` (`--help`).
use std::process::ExitCode;

use cubenet::prelude::*;

#[path = "shared/fashion.rs"]
mod fashion;

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
