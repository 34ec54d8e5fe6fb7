//! A convolutional network with batch normalisation after each convolution (and after the
//! hidden linear layer) on Fashion-MNIST, trained with the kernels `#[network]` generates:
//! test accuracy above 0.92 with the defaults.
//!
//! ```text
//! cargo run --release --features cpu,cuda --example fashion_mnist_bn
//! ```
//! SGD (lr 0.05, momentum 0.9, weight decay 5e-4), batch 100, a cosine learning-rate schedule
//! stepped after every batch, 10 epochs. The test set is evaluated after each epoch in eval
//! mode (BatchNorm's running statistics). Options, data, checkpoints and output:
//! `examples/shared/fashion.rs` (`--help`); `--curves PREFIX` writes the per-epoch loss and
//! accuracy as CSV and PNG.
use std::process::ExitCode;

// Two conv + BatchNorm2d + ReLU + max-pool stages (16 and 32 channels, 5x5 kernels) and a
// hidden linear layer with BatchNorm1d, for 1 x 28 x 28 images; its `#[network]` definition
// is in `src/zoo.rs`.
use cubenet::zoo::FashionBn;

#[path = "shared/common.rs"]
mod common;
#[path = "shared/fashion.rs"]
mod fashion;

fn main() -> ExitCode {
    fashion::main::<FashionBn>(&fashion::Defaults {
        name: "fashion_mnist_bn",
        about: "Train a conv net with BatchNorm on Fashion-MNIST with cubenet",
        epochs: "10",
        batch_size: "100",
        lr: "0.05",
        schedule: "cosine",
        lr_decay: "0.5",
        weight_decay: "5e-4",
    })
}
