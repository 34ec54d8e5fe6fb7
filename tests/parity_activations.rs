//! PyTorch parity of the fused activations (Tanh, Sigmoid, LeakyRelu with the default and a
//! non-default `negative_slope`, Gelu exact and `approximate = "tanh"`, SiLU, Relu6,
//! Hardswish) inside whole `#[network]`s: each on a conv block and on a linear block, after
//! and before a max-pool; and of grouped and depthwise convolution (`groups`) in
//! MobileNet-style blocks (one with BatchNorm -> Hardswish and a pool before ReLU6).
//!
//! For every case: the logits of a batch at PyTorch's initial weights, the loss and every
//! parameter gradient, then two SGD steps (lr 0.1, momentum 0.9) with the loss before each and
//! every parameter after it. Expected values: `tests/fixtures/activation_cases.safetensors`,
//! written by `scripts/activation_cases.py`, and (ReLU6, Hardswish; inputs 8 * randn so that
//! every piece of both is reached; the training-mode pass sequence of `common::parity`, for
//! the BatchNorm's running statistics) `tests/fixtures/activation_cases_mobile.safetensors`,
//! written by `scripts/activation_cases_mobile.py`, with PyTorch 2.15 on the CPU (float32).
//! Tolerance `1e-4 * max(1, |expected|)`.
mod common;

use common::*;
use cubenet::prelude::*;

const TOL: f32 = 1e-4;

/// The logits, loss and gradients of batch 1, then two SGD steps (lr 0.1, momentum 0.9),
/// against PyTorch (see `common::parity`).
fn check_case<N: Network>(case: &str) {
    Parity::<N>::new(&Fixture::load("activation_cases.safetensors"), case, TOL)
        .logits("logits")
        .gradients("loss1")
        .steps([Sgd::new(0.1).with_momentum(0.9); 2])
        .run();
}

/// [`check_case`] on `activation_cases_mobile.safetensors`, whose loss and gradients come from
/// a pass of their own after the logits' (so that running statistics see every pass).
fn check_mobile_case<N: Network>(case: &str) {
    Parity::<N>::new(
        &Fixture::load("activation_cases_mobile.safetensors"),
        case,
        TOL,
    )
    .logits("logits")
    .gradients("grad_loss")
    .steps([Sgd::new(0.1).with_momentum(0.9); 2])
    .run();
}

#[network(input = [1, 6, 6])]
pub struct TanhSigmoid {
    #[layer(padding = 1)]
    conv: Conv2d<1, 3, 3>,
    act1: Tanh,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<27, 8>,
    act2: Sigmoid,
    fc2: Linear<8, 3>,
}

/// conv -> Tanh -> max-pool, linear -> Sigmoid.
#[test]
fn tanh_and_sigmoid_match_pytorch() {
    check_case::<TanhSigmoid>("tanh_sigmoid");
}

#[network(input = [2, 7, 7])]
pub struct GeluNet {
    conv: Conv2d<2, 4, 3>,
    act1: Gelu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<16, 6>,
    #[layer(approximate = "tanh")]
    act2: Gelu,
    fc2: Linear<6, 3>,
}

/// conv -> GELU (exact, erf) -> max-pool (GELU is not monotonic: the pool takes the maximum of
/// the activated values), linear -> GELU(approximate='tanh').
#[test]
fn gelu_exact_and_tanh_match_pytorch() {
    check_case::<GeluNet>("gelu");
}

#[network(input = [1, 7, 7])]
pub struct Leaky {
    conv: Conv2d<1, 3, 3>,
    pool: MaxPool2d<2>,
    #[layer(negative_slope = 0.2)]
    act1: LeakyRelu,
    flatten: Flatten,
    fc1: Linear<12, 5>,
    act2: LeakyRelu,
    fc2: Linear<5, 3>,
}

/// conv -> max-pool -> LeakyReLU(0.2) (a pool before a monotonic activation), linear ->
/// LeakyReLU() (default slope 0.01).
#[test]
fn leaky_relu_default_and_non_default_slope_match_pytorch() {
    check_case::<Leaky>("leaky");
}

#[network(input = [1, 6, 6])]
pub struct Mixed {
    #[layer(padding = 1)]
    conv1: Conv2d<1, 2, 3>,
    act1: Sigmoid,
    #[layer(stride = 2)]
    pool: MaxPool2d<3>,
    conv2: Conv2d<2, 3, 1>,
    #[layer(approximate = "tanh")]
    act2: Gelu,
    flatten: Flatten,
    fc1: Linear<12, 4>,
    act3: Gelu,
    fc2: Linear<4, 4>,
    act4: Tanh,
    fc3: Linear<4, 3>,
}

/// conv -> Sigmoid -> overlapping max-pool, conv -> GELU(tanh) (its input gradient flows
/// through the stored pre-activation), linear -> GELU (exact), linear -> Tanh.
#[test]
fn mixed_activations_match_pytorch() {
    check_case::<Mixed>("mixed");
}

#[network(input = [2, 6, 6])]
pub struct SiluNet {
    #[layer(padding = 1)]
    conv: Conv2d<2, 4, 3>,
    act1: SiLU,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<36, 6>,
    act2: SiLU,
    fc2: Linear<6, 3>,
}

/// conv -> SiLU -> max-pool (SiLU is not monotonic: the pool takes the maximum of the
/// activated values, and the backward pass reads the stored pre-activation), linear -> SiLU.
#[test]
fn silu_matches_pytorch() {
    check_case::<SiluNet>("silu");
}

#[network(input = [4, 8, 8])]
pub struct Grouped {
    #[layer(groups = 2)]
    conv1: Conv2d<4, 6, 3>,
    act1: Relu,
    #[layer(padding = 1, groups = 6)]
    dw: Conv2d<6, 6, 3>,
    act2: SiLU,
    pool: MaxPool2d<2>,
    #[layer(groups = 2)]
    pw: Conv2d<6, 4, 1>,
    flatten: Flatten,
    fc: Linear<36, 3>,
}

/// A MobileNet-style block: a grouped conv (2 groups), a depthwise conv (`groups =
/// in_channels`) with SiLU and a max-pool, a grouped pointwise conv. Weights
/// `out x in / groups x kh x kw`, as torch.nn.Conv2d's.
#[test]
fn grouped_and_depthwise_conv_match_pytorch() {
    check_case::<Grouped>("grouped");
}

#[network(input = [2, 6, 6])]
pub struct Relu6Net {
    #[layer(padding = 1)]
    conv: Conv2d<2, 4, 3>,
    act1: Relu6,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<36, 6>,
    act2: Relu6,
    fc2: Linear<6, 3>,
}

/// conv -> ReLU6 -> max-pool, linear -> ReLU6, on inputs whose pre-activations lie on both
/// sides of 0 and of 6 (gradient 0 outside `(0, 6)`, as torch's `hardtanh_backward`).
#[test]
fn relu6_matches_pytorch() {
    check_mobile_case::<Relu6Net>("relu6");
}

#[network(input = [2, 6, 6])]
pub struct HardswishNet {
    #[layer(padding = 1)]
    conv: Conv2d<2, 4, 3>,
    act1: Hardswish,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<36, 6>,
    act2: Hardswish,
    fc2: Linear<6, 3>,
}

/// conv -> Hardswish -> max-pool (Hardswish is not monotonic: the pool takes the maximum of
/// the activated values, the backward pass reads the stored pre-activation), linear ->
/// Hardswish; pre-activations below -3, in (-3, 3) and above 3.
#[test]
fn hardswish_matches_pytorch() {
    check_mobile_case::<HardswishNet>("hardswish");
}

#[network(input = [3, 6, 6])]
pub struct Mobile {
    #[layer(padding = 1, bias = false)]
    stem: Conv2d<3, 8, 3>,
    bn: BatchNorm2d<8>,
    act1: Hardswish,
    #[layer(padding = 1, groups = 8)]
    dw: Conv2d<8, 8, 3>,
    pool: MaxPool2d<2>,
    act2: Relu6,
    pw: Conv2d<8, 4, 1>,
    flatten: Flatten,
    fc: Linear<36, 3>,
}

/// A MobileNetV3-style block: conv -> BatchNorm2d -> Hardswish, a depthwise conv -> max-pool
/// -> ReLU6 (a monotonic activation after the pool), a pointwise conv; the BatchNorm's
/// running statistics are compared after every step.
#[test]
fn mobile_block_with_batchnorm_hardswish_and_relu6_matches_pytorch() {
    check_mobile_case::<Mobile>("mobile");
}
