//! The f64 reference's backward functions against central finite differences of
//! `sum(output * R)` for a fixed random `R` (the cross-entropy: of the mean loss), on
//! shapes with per-axis stride, padding and dilation, relu, and pools with overlapping and
//! padded windows. Runs on the CPU only.
mod common;

use common::blocks::PoolSpec;
use common::fd::{assert_fd, dot, numeric_grad, random};
use cubenet_kernels::reference::*;

/// conv (+ activation) (+ pool) with gradients checked by finite differences on x, weight,
/// bias.
fn conv_block_fd(
    what: &str,
    seed: u64,
    s: Conv2dShape,
    act: Option<Activation>,
    pool: Option<PoolSpec>,
) {
    conv_block_fd_mode(what, seed, s, act, pool, false);
}

/// [`conv_block_fd`] with the pool's `ceil_mode`.
fn conv_block_fd_mode(
    what: &str,
    seed: u64,
    s: Conv2dShape,
    act: Option<Activation>,
    pool: Option<PoolSpec>,
    ceil_mode: bool,
) {
    let p = pool.map(|(kernel, stride, padding)| MaxPool2dShape {
        n: s.n,
        c: s.c_out,
        h_in: s.h_out(),
        w_in: s.w_out(),
        kernel,
        stride,
        padding,
        ceil_mode,
    });
    let fwd = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut y = conv2d_forward(&s, x, w, Some(b));
        if let Some(a) = act {
            y = activation_forward(a, &y);
        }
        match &p {
            Some(p) => max_pool2d_forward(p, &y),
            None => MaxPool2dOutput {
                indices: (0..y.len()).collect(),
                output: y,
            },
        }
    };
    let (x, w, b) = (
        random(seed, s.input_len()),
        random(seed + 1, s.weight_len()),
        random(seed + 2, s.c_out),
    );
    let out = fwd(&x, &w, &b);
    let r = random(seed + 3, out.output.len());
    let conv = conv2d_forward(&s, &x, &w, Some(&b));
    let g = match &p {
        Some(p) => max_pool2d_backward(p, &out.indices, &r),
        None => r.clone(),
    };
    let g = match act {
        Some(a) => activation_backward(a, &conv, &g),
        None => g,
    };
    let grads = conv2d_backward(&s, &x, &w, &g);
    assert_fd(
        &format!("{what}: grad_x"),
        &grads.input,
        &numeric_grad(|v| dot(&fwd(v, &w, &b).output, &r), &x),
    );
    assert_fd(
        &format!("{what}: grad_w"),
        &grads.weight,
        &numeric_grad(|v| dot(&fwd(&x, v, &b).output, &r), &w),
    );
    assert_fd(
        &format!("{what}: grad_b"),
        &grads.bias,
        &numeric_grad(|v| dot(&fwd(&x, &w, v).output, &r), &b),
    );
}

#[test]
fn conv2d_backward_matches_finite_differences() {
    let s = Conv2dShape {
        n: 2,
        c_in: 2,
        h_in: 7,
        w_in: 6,
        c_out: 3,
        kernel: (3, 2),
        stride: (2, 1),
        padding: (1, 2),
        padding_extra: (0, 0),
        dilation: (1, 2),
        groups: 1,
    };
    conv_block_fd("conv per-axis stride/padding/dilation", 100, s, None, None);
}

/// Grouped (2 groups, 4 -> 6) and depthwise (3 groups, 3 -> 3) convolutions: the reference
/// against finite differences of itself.
#[test]
fn grouped_conv2d_backward_matches_finite_differences() {
    let grouped = Conv2dShape {
        n: 2,
        c_in: 4,
        h_in: 6,
        w_in: 5,
        c_out: 6,
        kernel: (3, 2),
        stride: (1, 2),
        padding: (1, 1),
        padding_extra: (0, 0),
        dilation: (1, 1),
        groups: 2,
    };
    conv_block_fd("grouped conv, groups 2", 150, grouped, None, None);
    let depthwise = Conv2dShape {
        c_in: 3,
        c_out: 3,
        kernel: (3, 3),
        stride: (1, 1),
        dilation: (2, 1),
        groups: 3,
        ..grouped
    };
    conv_block_fd(
        "depthwise conv + silu",
        151,
        depthwise,
        Some(Activation::Silu),
        None,
    );
}

#[test]
fn conv_relu_pool_backward_matches_finite_differences() {
    let s = Conv2dShape {
        n: 2,
        c_in: 2,
        h_in: 8,
        w_in: 7,
        c_out: 2,
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
        padding_extra: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    conv_block_fd(
        "conv + relu + pool 2/2",
        200,
        s,
        Some(Activation::Relu),
        Some(((2, 2), (2, 2), (0, 0))),
    );
    conv_block_fd(
        "conv + relu + pool 3/2 (overlapping)",
        300,
        s,
        Some(Activation::Relu),
        Some(((3, 3), (2, 2), (0, 0))),
    );
    conv_block_fd(
        "conv + pool (2,3)/(2,1) padding (1,1)",
        400,
        s,
        None,
        Some(((2, 3), (2, 1), (1, 1))),
    );
}

/// `ceil_mode` pools whose last windows run past the conv output's end (conv 8 x 7; pool
/// 2/2 gives 4 x 4, floor 4 x 3; pool (3, 2)/(2, 3) padding (1, 1) gives 5 x 3, floor 4 x 3).
#[test]
fn conv_relu_ceil_mode_pool_backward_matches_finite_differences() {
    let s = Conv2dShape {
        n: 2,
        c_in: 2,
        h_in: 8,
        w_in: 7,
        c_out: 2,
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
        padding_extra: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    let shape = |kernel, stride, padding| MaxPool2dShape {
        n: 1,
        c: 1,
        h_in: 8,
        w_in: 7,
        kernel,
        stride,
        padding,
        ceil_mode: true,
    };
    let p = shape((2, 2), (2, 2), (0, 0));
    assert_eq!((p.h_out(), p.w_out()), (4, 4));
    let p = shape((3, 2), (2, 3), (1, 1));
    assert_eq!((p.h_out(), p.w_out()), (5, 3));
    conv_block_fd_mode(
        "conv + relu + pool 2/2 ceil_mode",
        500,
        s,
        Some(Activation::Relu),
        Some(((2, 2), (2, 2), (0, 0))),
        true,
    );
    conv_block_fd_mode(
        "conv + pool (3,2)/(2,3) padding (1,1) ceil_mode",
        600,
        s,
        None,
        Some(((3, 2), (2, 3), (1, 1))),
        true,
    );
}

#[test]
fn linear_relu_backward_matches_finite_differences() {
    let s = LinearShape {
        n: 3,
        in_features: 5,
        out_features: 4,
    };
    let (x, w, b) = (random(500, 15), random(501, 20), random(502, 4));
    let fwd = |x: &[f64], w: &[f64], b: &[f64]| relu_forward(&linear_forward(&s, x, w, Some(b)));
    let r = random(503, 12);
    let pre = linear_forward(&s, &x, &w, Some(&b));
    assert!(
        pre.iter().any(|&v| v < 0.0),
        "the relu should clip something"
    );
    let g = linear_backward(&s, &x, &w, &relu_backward(&pre, &r));
    assert_fd(
        "linear + relu: grad_x",
        &g.input,
        &numeric_grad(|v| dot(&fwd(v, &w, &b), &r), &x),
    );
    assert_fd(
        "linear + relu: grad_w",
        &g.weight,
        &numeric_grad(|v| dot(&fwd(&x, v, &b), &r), &w),
    );
    assert_fd(
        "linear + relu: grad_b",
        &g.bias,
        &numeric_grad(|v| dot(&fwd(&x, &w, v), &r), &b),
    );
}

#[test]
fn cross_entropy_gradient_matches_finite_differences() {
    let logits: Vec<f64> = random(600, 12).iter().map(|v| 4.0 * v).collect();
    let targets = [2, 0, 3];
    let ce = softmax_cross_entropy(&logits, &targets, 4);
    let numeric = numeric_grad(|z| softmax_cross_entropy(z, &targets, 4).mean, &logits);
    assert_fd("cross-entropy d(mean)/d(logits)", &ce.grad_logits, &numeric);
}

/// Every activation, and GELU's two forms, away from the kinks of the piecewise ones.
const ACTIVATIONS: [Activation; 9] = [
    Activation::Relu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::LeakyRelu(0.2),
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Relu6,
    Activation::Hardswish,
];

#[test]
fn activation_backward_matches_finite_differences() {
    // x in [-8, 8] (both tails of GELU and sigmoid, both sides of ReLU6's kinks at 0 and 6
    // and Hardswish's at -3 and 3), none within 1e-3 of a kink.
    const KINKS: [f64; 4] = [-3.0, 0.0, 3.0, 6.0];
    let x: Vec<f64> = random(700, 80)
        .iter()
        .map(|v| 8.0 * v)
        .filter(|v| KINKS.iter().all(|k| (v - k).abs() > 1e-3))
        .collect();
    for (lo, hi) in [
        (-8.0, -3.0),
        (-3.0, 0.0),
        (0.0, 3.0),
        (3.0, 6.0),
        (6.0, 8.0),
    ] {
        assert!(x.iter().any(|&v| lo < v && v < hi), "no x in ({lo}, {hi})");
    }
    let r = random(701, x.len());
    for act in ACTIVATIONS {
        let analytic = activation_backward(act, &x, &r);
        let numeric = numeric_grad(|v| dot(&activation_forward(act, v), &r), &x);
        assert_fd(&format!("{act:?}: grad_x"), &analytic, &numeric);
    }
}

#[test]
fn linear_activation_backward_matches_finite_differences() {
    let s = LinearShape {
        n: 3,
        in_features: 5,
        out_features: 4,
    };
    let (x, w, b) = (random(710, 15), random(711, 20), random(712, 4));
    let r = random(713, 12);
    let pre = linear_forward(&s, &x, &w, Some(&b));
    assert!(pre.iter().any(|&v| v < 0.0) && pre.iter().any(|&v| v > 0.0));
    for act in ACTIVATIONS {
        let fwd = |x: &[f64], w: &[f64], b: &[f64]| {
            activation_forward(act, &linear_forward(&s, x, w, Some(b)))
        };
        let g = linear_backward(&s, &x, &w, &activation_backward(act, &pre, &r));
        assert_fd(
            &format!("linear + {act:?}: grad_x"),
            &g.input,
            &numeric_grad(|v| dot(&fwd(v, &w, &b), &r), &x),
        );
        assert_fd(
            &format!("linear + {act:?}: grad_w"),
            &g.weight,
            &numeric_grad(|v| dot(&fwd(&x, v, &b), &r), &w),
        );
        assert_fd(
            &format!("linear + {act:?}: grad_b"),
            &g.bias,
            &numeric_grad(|v| dot(&fwd(&x, &w, v), &r), &b),
        );
    }
}

#[test]
fn conv_activation_pool_backward_matches_finite_differences() {
    let s = Conv2dShape {
        n: 2,
        c_in: 2,
        h_in: 6,
        w_in: 5,
        c_out: 2,
        kernel: (3, 2),
        stride: (1, 1),
        padding: (1, 0),
        padding_extra: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        conv_block_fd(
            &format!("conv + {act:?} + pool 2/2"),
            800 + 10 * i as u64,
            s,
            Some(act),
            Some(((2, 2), (2, 2), (0, 0))),
        );
    }
}
