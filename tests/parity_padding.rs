//! PyTorch parity of `Conv2d`'s string paddings inside whole `#[network]`s: `padding = "same"`
//! with odd kernels (3 and 5, one after the other), with an even kernel whose dilation makes
//! `d (k - 1)` even (a 3 x 4 kernel, dilation 2: total padding 4 x 6) before a max-pool, with
//! even kernels whose odd total pads one more row or column after than before (2 x 2 before
//! an overlapping pool, 4 x 4; a 2 x 3 kernel with dilation 3 x 1), and `padding = "valid"`.
//!
//! For every case: the logits of batch 1 at PyTorch's initial weights, the loss and every
//! parameter gradient of batch 1, then two SGD steps (lr 0.1, momentum 0.9) with the loss before
//! each and every parameter after it (`common::parity`). Expected values:
//! `tests/fixtures/padding_same_cases.safetensors`, written by `scripts/padding_same_cases.py`
//! with PyTorch 2.15 on the CPU (float32, `torch.nn.Conv2d(padding='same' | 'valid')`).
//! Tolerance `1e-4 * max(1, |expected|)`.
mod common;

use common::*;
use cubenet::prelude::*;

const TOL: f32 = 1e-4;

fn check_case<N: Network>(case: &str) {
    Parity::<N>::new(&Fixture::load("padding_same_cases.safetensors"), case, TOL)
        .logits("logits")
        .gradients("grad_loss")
        .steps([Sgd::new(0.1).with_momentum(0.9); 2])
        .run();
}

#[network(input = [2, 6, 6])]
pub struct SameOdd {
    #[layer(padding = "same")]
    conv1: Conv2d<2, 4, 3>,
    act: Relu,
    #[layer(padding = "same")]
    conv2: Conv2d<4, 3, 5>,
    flatten: Flatten,
    fc: Linear<108, 3>,
}

/// 3 x 3 then 5 x 5 kernels with `padding = "same"`: 6 x 6 stays 6 x 6 (padding 1, then 2).
#[test]
fn padding_same_with_odd_kernels_matches_pytorch() {
    check_case::<SameOdd>("same_odd");
}

#[network(input = [2, 6, 8])]
pub struct SameDilated {
    #[layer(padding = "same", dilation = 2)]
    conv: Conv2d<2, 4, { (3, 4) }>,
    act: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<48, 3>,
}

/// A 3 x 4 kernel with dilation 2 (spanning 5 x 7) and `padding = "same"`: padding 2 x 3.
#[test]
fn padding_same_with_dilation_matches_pytorch() {
    check_case::<SameDilated>("same_dilated");
}

#[network(input = [2, 6, 6])]
pub struct Valid {
    #[layer(padding = "valid")]
    conv: Conv2d<2, 4, 3>,
    act: Tanh,
    flatten: Flatten,
    fc: Linear<64, 3>,
}

/// `padding = "valid"` is no padding: 6 x 6 -> 4 x 4.
#[test]
fn padding_valid_matches_pytorch() {
    check_case::<Valid>("valid");
}

#[network(input = [2, 7, 7])]
pub struct SameEven {
    #[layer(padding = "same")]
    conv1: Conv2d<2, 4, 2>,
    act: Relu,
    #[layer(stride = 2)]
    pool: MaxPool2d<3>,
    #[layer(padding = "same")]
    conv2: Conv2d<4, 3, 4>,
    flatten: Flatten,
    fc: Linear<27, 3>,
}

/// Even kernels: a 2 x 2 kernel pads nothing before and one row and column after (7 x 7 stays
/// 7 x 7, and the overlapping pool's last window reads that last row and column); a 4 x 4
/// kernel pads 1 before and 2 after (3 x 3 stays 3 x 3).
#[test]
fn padding_same_with_even_kernels_matches_pytorch() {
    check_case::<SameEven>("same_even");
}

#[network(input = [2, 6, 8])]
pub struct SameEvenDilated {
    #[layer(padding = "same", dilation = (3, 1))]
    conv: Conv2d<2, 4, { (2, 3) }>,
    act: Tanh,
    flatten: Flatten,
    fc: Linear<192, 3>,
}

/// A 2 x 3 kernel with dilation 3 x 1: totals 3 x 2, so 1 x 1 before and 2 x 1 after.
#[test]
fn padding_same_with_even_dilated_kernel_matches_pytorch() {
    check_case::<SameEvenDilated>("same_even_dilated");
}
