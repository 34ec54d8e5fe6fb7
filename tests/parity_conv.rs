//! PyTorch parity of conv2d (issue case P1 and a second member of its kind) and max-pool2d
//! (P2, two more members, and relu ties at 0 under a pool) inside whole `#[network]`s, through
//! the public API: `load_state_dict`, `forward`, `compute_gradients`, `read_grads`.
//!
//! A network exposes only its logits, loss and parameter gradients, so the cases are built to
//! make an op's output and input gradient readable (`scripts/network_cases.py` explains both
//! tricks):
//! - a "probe" 1x1 conv first, whose weight gradient on one-hot input channels is the input
//!   gradient of the layer after it;
//! - a last `Linear<F, 2>` whose row 0 is an upstream tensor `u`, whose row 1 is 0 and whose
//!   bias makes the logits (0, 0): with label 1 the gradient reaching the op is exactly
//!   `0.5 * u`, and the gradient of `fc.weight` row 0 is `0.5 * output`.
//!
//! Expected values: the numbers (quoted at each test, hand-checked in the issue and
//! equal to PyTorch's), and `tests/fixtures/network_cases.safetensors`, written by
//! `scripts/network_cases.py` with PyTorch 2.15 on the CPU (float32 networks, float64 op-level
//! values `<case>.op.*`). Tolerance `1e-5 * max(1, |expected|)`.
mod common;

use common::*;
use cubenet::prelude::*;

const TOL: f32 = 1e-5;

fn fixture() -> Fixture {
    Fixture::load("network_cases.safetensors")
}

/// `x[h][w] = 7h + w`, 5 x 7 (the P1 input).
fn p1_x() -> Vec<f32> {
    (0..5)
        .flat_map(|h| (0..7).map(move |w| (7 * h + w) as f32))
        .collect()
}

/// P1's output (the issue, = `F.conv2d` in scripts/op_cases.py P1_conv2d).
const P1_OUT: [f32; 9] = [-1.75, -0.75, 0.25, 32.25, 35.25, 38.25, 74.25, 77.25, 80.25];
/// P1's input gradient for upstream [[1,2,3],[4,5,6],[7,8,9]] (the issue).
const P1_GRAD_X: [f32; 35] = [
    0., 0., 3., 6., 7., -4., -6., //
    4., 5., 2., -5., 2., 10., 12., //
    0., 0., 12., 15., 10., -10., -12., //
    7., 8., 2., -8., 5., 16., 18., //
    0., 0., 21., 24., 13., -16., -18.,
];
/// P1's weight and bias gradients for the same upstream (the issue).
const P1_GRAD_W: [f32; 6] = [652., 730., 808., 933., 1023., 1113.];
const P1_GRAD_B: f32 = 45.;

fn half(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| 0.5 * x).collect()
}
fn half64(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| (0.5 * x) as f32).collect()
}

/// Loads `<case>.init.*`, runs `forward` and `compute_gradients` on `<case>.x`/`.y` and checks
/// the logits, the loss and every gradient against PyTorch (see `common::parity`).
fn run_case<N: Network>(case: &str, fx: &Fixture, cap: usize) -> N {
    Parity::new(fx, case, TOL)
        .capacity(cap)
        .same_batch()
        .logits("logits")
        .gradients("loss")
        .run()
}

/// A probe case (see the module docs): logits (0, 0), loss ln 2, and half the op-level PyTorch
/// values: `fc.weight` row 0 = 0.5 * output, row 1 = -0.5 * output, the probe's one-hot
/// gradients = 0.5 * grad_x and, with a conv, its gradients = 0.5 * PyTorch's.
fn check_probe_case<N: Network>(
    case: &str,
    fx: &Fixture,
    net: &N,
    chw: (usize, usize, usize),
    conv: bool,
) {
    let (c, h, w) = chw;
    let g = grads(net);
    let out = fx.f64(&format!("{case}.op.output"));
    let fc = &g["fc.weight"];
    assert_close(
        &format!("{case}: fc.weight grad row 0 = output / 2"),
        &fc[..out.len()],
        &half64(&out),
        TOL,
    );
    let minus: Vec<f32> = half64(&out).iter().map(|v| -v).collect();
    assert_close(
        &format!("{case}: fc.weight grad row 1 = -output / 2"),
        &fc[out.len()..],
        &minus,
        TOL,
    );
    let gx = probed_input_grad(&g["probe.weight"], c, h, w);
    assert_close(
        &format!("{case}: input gradient / 2"),
        &gx,
        &half64(&fx.f64(&format!("{case}.op.grad_x"))),
        TOL,
    );
    if conv {
        assert_close(
            &format!("{case}: conv.weight grad / 2"),
            &g["conv.weight"],
            &half64(&fx.f64(&format!("{case}.op.grad_weight"))),
            TOL,
        );
        assert_close(
            &format!("{case}: conv.bias grad / 2"),
            &g["conv.bias"],
            &half64(&fx.f64(&format!("{case}.op.grad_bias"))),
            TOL,
        );
    }
}

#[network(input = [1, 5, 7])]
pub struct P1Forward {
    #[layer(kernel_size = (2, 3), stride = (2, 1), padding = (1, 0), dilation = (1, 2))]
    conv: Conv2d<1, 1>,
    flatten: Flatten,
    fc: Linear<9, 9>,
}

/// P1 forward: conv2d with kernel 2x3, stride (2,1), padding (1,0), dilation (1,2) on
/// x[h][w] = 7h + w (1x1x5x7), weight [[1,-1,2],[0,3,-2]], bias 0.25, then an identity
/// Linear: the logits are the conv output [[-1.75,-0.75,0.25],[32.25,35.25,38.25],
/// [74.25,77.25,80.25]] (the issue). Capacity 2, batch 1.
#[test]
fn p1_conv2d_forward_per_axis_options() {
    let fx = fixture();
    assert_eq!(fx.f32("p1_forward.x"), p1_x(), "fixture input");
    assert_eq!(
        fx.f32("p1_forward.init.conv.weight"),
        [1., -1., 2., 0., 3., -2.]
    );
    assert_eq!(fx.f32("p1_forward.init.conv.bias"), [0.25]);
    let mut net: P1Forward = run_case("p1_forward", &fx, 2);
    let logits = net.forward(&p1_x()).unwrap();
    assert_close("P1 output", &logits, &P1_OUT, TOL);
    // Row loss of label 8 = logsumexp(out) - out[8] (hand computation in f64), and the row
    // counts as correct (80.25 is the largest logit).
    let lse = P1_OUT
        .iter()
        .map(|&v| (v as f64 - 80.25).exp())
        .sum::<f64>()
        .ln();
    let (correct, loss_sum) = net.evaluate(&p1_x(), &[8]).unwrap();
    assert_eq!(correct, 1);
    assert_close_f64("P1 row loss", &[loss_sum as f32], &[lse], 1e-5);
}

#[network(input = [36, 5, 7])]
pub struct P1Grad {
    probe: Conv2d<36, 1, 1>,
    #[layer(kernel_size = (2, 3), stride = (2, 1), padding = (1, 0), dilation = (1, 2))]
    conv: Conv2d<1, 1>,
    flatten: Flatten,
    fc: Linear<9, 2>,
}

/// P1 backward: the P1 conv behind a probe, upstream 0.5 * [[1,2,3],[4,5,6],[7,8,9]], so the
/// gradients are half the issue's: grad_x [[0,0,3,6,7,-4,-6],[4,5,2,-5,2,10,12],
/// [0,0,12,15,10,-10,-12],[7,8,2,-8,5,16,18],[0,0,21,24,13,-16,-18]], grad_w
/// [[652,730,808],[933,1023,1113]], grad_b [45]. The fc bias -2392.25 = -(u . output) makes
/// the logits exactly (0, 0) (hand computation).
#[test]
fn p1_conv2d_gradients_per_axis_options() {
    let fx = fixture();
    assert_eq!(
        fx.f32("p1_grad.x"),
        with_probe(&p1_x(), 1, 5, 7),
        "fixture input"
    );
    assert_eq!(fx.f32("p1_grad.init.fc.bias"), [-2392.25, 0.0]);
    // The fixture's op-level values are the issue's.
    assert_close_f64("op grad_x", &P1_GRAD_X, &fx.f64("p1_grad.op.grad_x"), 0.0);
    assert_close_f64(
        "op grad_w",
        &P1_GRAD_W,
        &fx.f64("p1_grad.op.grad_weight"),
        0.0,
    );
    assert_close_f64("op output", &P1_OUT, &fx.f64("p1_grad.op.output"), 0.0);

    let net: P1Grad = run_case("p1_grad", &fx, 3);
    assert_close("logits", &fx.f32("p1_grad.logits"), &[0.0, 0.0], 0.0);
    assert_close(
        "loss = ln 2",
        &fx.f32("p1_grad.loss"),
        &[std::f32::consts::LN_2],
        TOL,
    );
    let g = grads(&net);
    assert_close(
        "P1 grad_x / 2",
        &probed_input_grad(&g["probe.weight"], 1, 5, 7),
        &half(&P1_GRAD_X),
        TOL,
    );
    assert_close("P1 grad_w / 2", &g["conv.weight"], &half(&P1_GRAD_W), TOL);
    assert_close("P1 grad_b / 2", &g["conv.bias"], &[0.5 * P1_GRAD_B], TOL);
    assert_close("P1 output / 2", &g["fc.weight"][..9], &half(&P1_OUT), TOL);
    // The probe's own gradients: sum(grad_x * x) and sum(grad_x) (hand computation).
    let x = p1_x();
    let dot: f32 = P1_GRAD_X.iter().zip(&x).map(|(g, x)| g * x).sum();
    let sum: f32 = P1_GRAD_X.iter().sum();
    assert_close(
        "probe weight on x",
        &g["probe.weight"][..1],
        &[0.5 * dot],
        TOL,
    );
    assert_close("probe bias", &g["probe.bias"], &[0.5 * sum], TOL);
    check_probe_case("p1_grad", &fx, &net, (1, 5, 7), true);
}

#[network(input = [32, 6, 5])]
pub struct P1b {
    probe: Conv2d<32, 2, 1>,
    #[layer(kernel_size = (3, 2), stride = (1, 2), padding = (0, 1), dilation = (2, 1))]
    conv: Conv2d<2, 3>,
    flatten: Flatten,
    fc: Linear<18, 2>,
}

/// P1b (second member): 2 -> 3 channels, kernel 3x2, stride (1,2), padding (0,1), dilation
/// (2,1) on 2x6x5 (the axes' roles swapped from P1), seeded integer inputs as P1b of
/// scripts/op_cases.py. Output, input, weight and bias gradients against PyTorch.
#[test]
fn p1b_conv2d_other_axis_mix() {
    let fx = fixture();
    let net: P1b = run_case("p1b", &fx, 3);
    check_probe_case("p1b", &fx, &net, (2, 6, 5), true);
}

#[network(input = [1, 4, 4])]
pub struct P2Forward {
    conv: Conv2d<1, 1, 1>,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<4, 4>,
}

/// P2 forward: max-pool 2x2 stride 2 of [[1,3,2,2],[3,0,2,2],[0,0,5,1],[0,0,1,5]] (behind an
/// identity 1x1 conv, then an identity Linear) -> logits [3, 2, 0, 5] (the issue).
#[test]
fn p2_max_pool_ties_forward() {
    let fx = fixture();
    let x = [
        1., 3., 2., 2., 3., 0., 2., 2., 0., 0., 5., 1., 0., 0., 1., 5.,
    ];
    assert_eq!(fx.f32("p2_forward.x"), x, "fixture input");
    let mut net: P2Forward = run_case("p2_forward", &fx, 1);
    assert_close(
        "P2 output",
        &net.forward(&x).unwrap(),
        &[3., 2., 0., 5.],
        TOL,
    );
}

#[network(input = [17, 4, 4])]
pub struct P2Grad {
    probe: Conv2d<17, 1, 1>,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<4, 2>,
}

/// P2 backward: the same pool behind a probe, upstream 0.5 * [[10,20],[30,40]]: the whole
/// gradient of each window goes to its first maximum in row-major order, grad_x
/// = 0.5 * [[0,10,20,0],[0,0,0,0],[30,0,40,0],[0,0,0,0]] (the issue).
#[test]
fn p2_max_pool_ties_route_to_first_maximum() {
    let fx = fixture();
    let net: P2Grad = run_case("p2_grad", &fx, 2);
    let g = grads(&net);
    let want = [
        0., 10., 20., 0., 0., 0., 0., 0., 30., 0., 40., 0., 0., 0., 0., 0.,
    ];
    assert_close(
        "P2 grad_x / 2",
        &probed_input_grad(&g["probe.weight"], 1, 4, 4),
        &half(&want),
        TOL,
    );
    assert_close(
        "P2 output / 2",
        &g["fc.weight"][..4],
        &half(&[3., 2., 0., 5.]),
        TOL,
    );
    check_probe_case("p2_grad", &fx, &net, (1, 4, 4), false);
}

#[network(input = [66, 8, 8])]
pub struct P2Overlap {
    probe: Conv2d<66, 2, 1>,
    #[layer(stride = 2)]
    pool: MaxPool2d<3>,
    flatten: Flatten,
    fc: Linear<18, 2>,
}

/// P2b (second member): overlapping 3x3 stride-2 windows on 2x8x8 integers 0..3 with ties;
/// channel 1's x[2][2] = 9 is the maximum of four windows, so its gradient sums four upstream
/// values (P2b of scripts/op_cases.py; row/column 7 is never read: floor mode).
#[test]
fn p2b_max_pool_overlapping_windows_accumulate() {
    let fx = fixture();
    let net: P2Overlap = run_case("p2b", &fx, 1);
    check_probe_case("p2b", &fx, &net, (2, 8, 8), false);
    let gx = probed_input_grad(&grads(&net)["probe.weight"], 2, 8, 8);
    let u = fx.f64("p2b.op.upstream");
    // Channel 1, pixel (2, 2): the windows (0,0), (0,1), (1,0), (1,1) of channel 1.
    let four = 0.5 * (u[9] + u[10] + u[12] + u[13]);
    assert_close_f64(
        "x[1][2][2] gets four windows",
        &[gx[64 + 2 * 8 + 2]],
        &[four],
        1e-5,
    );
}

#[network(input = [26, 5, 5])]
pub struct P2Padding {
    probe: Conv2d<26, 1, 1>,
    #[layer(stride = 2, padding = 1)]
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<9, 2>,
}

/// P2c (second member): 2x2 stride 2 padding 1 on all-negative integers: the padding is -inf
/// and never wins (P2c of scripts/op_cases.py).
#[test]
fn p2c_max_pool_padding_is_minus_infinity() {
    let fx = fixture();
    let net: P2Padding = run_case("p2c", &fx, 2);
    check_probe_case("p2c", &fx, &net, (1, 5, 5), false);
    let out = fx.f64("p2c.op.output");
    assert!(
        out.iter().all(|&v| v < 0.0),
        "a padded 0 would have won somewhere: {out:?}"
    );
}

#[network(input = [37, 6, 6])]
pub struct ReluPool {
    probe: Conv2d<37, 1, 1>,
    #[layer(padding = 1)]
    conv: Conv2d<1, 2, 3>,
    relu: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<18, 2>,
}

/// conv (padding 1) -> relu -> max-pool 2 on seeded integers (P6_conv_relu_pool of
/// scripts/op_cases.py): relu outputs tie at 0 inside pooled windows; the pool routes the
/// gradient to the first of them and relu'(0) = 0 stops it.
#[test]
fn relu_ties_at_zero_under_a_pool() {
    let fx = fixture();
    let net: ReluPool = run_case("relu_pool", &fx, 2);
    check_probe_case("relu_pool", &fx, &net, (1, 6, 6), true);
    let out = fx.f64("relu_pool.op.output");
    assert!(
        out.contains(&0.0),
        "the case must have a window whose maximum is a relu 0"
    );
}

#[network(input = [38, 6, 6])]
pub struct P2dCeil {
    probe: Conv2d<38, 2, 1>,
    #[layer(stride = 2, padding = 1, ceil_mode = true)]
    pool: MaxPool2d<3>,
    flatten: Flatten,
    fc: Linear<32, 2>,
}

/// P2d (`ceil_mode`): 3x3 stride 2 padding 1 `ceil_mode=True` on 2x6x6 gives 2x4x4 (floor
/// 2x3x3); the last row and column of windows start at 5 and cover only input row / column 5
/// (`p2d_ceil` in scripts/network_cases.py). Channel 0's x[5][5] = 9 is the maximum of the
/// full window (2, 2) and of the three partial windows (2, 3), (3, 2), (3, 3), so its gradient
/// sums four upstream values; channel 1 is all negative, so a partial window that took a 0
/// for a missing element would show (its window (3, 3) covers x[5][5] = -8 alone).
#[test]
fn p2d_max_pool_ceil_mode_partial_windows() {
    let fx = fixture();
    let net: P2dCeil = run_case("p2d_ceil", &fx, 2);
    check_probe_case("p2d_ceil", &fx, &net, (2, 6, 6), false);
    let out = fx.f64("p2d_ceil.op.output");
    assert_eq!(
        out.len(),
        2 * 4 * 4,
        "torch's ceil_mode output is 2 x 4 x 4"
    );
    assert_eq!([out[10], out[11], out[14], out[15]], [9.0; 4]);
    assert_eq!(out[16 + 15], -8.0, "channel 1, window (3, 3) = x[1][5][5]");
    let gx = probed_input_grad(&grads(&net)["probe.weight"], 2, 6, 6);
    let u = fx.f64("p2d_ceil.op.upstream");
    assert_close_f64(
        "x[0][5][5] gets four windows",
        &[gx[5 * 6 + 5]],
        &[0.5 * (u[10] + u[11] + u[14] + u[15])],
        1e-5,
    );
}

#[network(input = [1, 6, 7])]
pub struct CeilNet {
    #[layer(padding = 1)]
    conv: Conv2d<1, 2, 3>,
    relu: Relu,
    #[layer(kernel_size = (3, 2), stride = 2, padding = (1, 0), ceil_mode = true)]
    pool: MaxPool2d,
    flatten: Flatten,
    fc: Linear<32, 3>,
}

/// A conv network with a fused `ceil_mode` pool: conv (padding 1) -> relu -> MaxPool2d((3, 2),
/// stride 2, padding (1, 0), ceil_mode=True): conv 2x6x7 -> 2x4x4 (floor 2x3x3; the last row
/// of windows covers conv row 5 only, the last column conv column 6 only) -> Linear(32, 3),
/// PyTorch's default init (`ceil_net` in scripts/network_cases.py). Logits, loss and every
/// gradient on a batch of 4, then two SGD steps (lr 0.1, momentum 0.9): the loss of each step
/// and every parameter after it against `torch.optim.SGD`.
#[test]
fn ceil_mode_pool_network_gradients_and_sgd_steps() {
    let fx = fixture();
    let _: CeilNet = run_case("ceil_net", &fx, 4);
    Parity::<CeilNet>::new(&fx, "ceil_net.momentum", TOL)
        .batches("ceil_net")
        .steps([Sgd::new(0.1).with_momentum(0.9); 2])
        .run();
}
