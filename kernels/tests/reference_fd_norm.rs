//! The f64 references of BatchNorm, AvgPool2d / AdaptiveAvgPool2d and Dropout: their
//! backward functions against central finite differences of `sum(output * R)` for a fixed
//! random `R` (as `reference_fd.rs` does for conv, pool and linear). Runs on the CPU only.
mod common;

use common::fd::{assert_fd, dot, numeric_grad, random};
use common::rng;
use cubenet_kernels::reference::*;
use rand::Rng;

/// BatchNorm in training: d/d(x, gamma, beta) of `sum(bn(x) * R)` through the batch
/// statistics.
fn batch_norm_train_fd(what: &str, seed: u64, s: BatchNormShape, eps: f64) {
    let x: Vec<f64> = random(seed, s.len())
        .iter()
        .map(|v| 2.0 * v + 0.3)
        .collect();
    let gamma: Vec<f64> = random(seed + 1, s.c).iter().map(|v| 1.0 + v).collect();
    let beta = random(seed + 2, s.c);
    let (rm, rv) = (random(seed + 3, s.c), vec![1.5; s.c]);
    let r = random(seed + 4, s.len());
    let fwd = |x: &[f64], g: &[f64], b: &[f64]| {
        batch_norm_train_forward(&s, x, g, b, &rm, &rv, 0.1, eps).output
    };
    let grads = batch_norm_train_backward(&s, &x, &gamma, eps, &r);
    assert!(
        grads.input.iter().any(|v| v.abs() > 1e-3),
        "{what}: a trivial input gradient"
    );
    assert_fd(
        &format!("{what}: grad_x"),
        &grads.input,
        &numeric_grad(|v| dot(&fwd(v, &gamma, &beta), &r), &x),
    );
    assert_fd(
        &format!("{what}: grad_gamma"),
        &grads.weight,
        &numeric_grad(|v| dot(&fwd(&x, v, &beta), &r), &gamma),
    );
    assert_fd(
        &format!("{what}: grad_beta"),
        &grads.bias,
        &numeric_grad(|v| dot(&fwd(&x, &gamma, v), &r), &beta),
    );
}

#[test]
fn batch_norm2d_train_backward_matches_finite_differences() {
    let s = BatchNormShape {
        n: 3,
        c: 2,
        h: 3,
        w: 4,
    };
    batch_norm_train_fd("BatchNorm2d 3x2x3x4 eps 1e-5", 1000, s, 1e-5);
    batch_norm_train_fd("BatchNorm2d 3x2x3x4 eps 0.5", 1010, s, 0.5);
}

#[test]
fn batch_norm1d_train_backward_matches_finite_differences() {
    let s = BatchNormShape {
        n: 5,
        c: 3,
        h: 1,
        w: 1,
    };
    batch_norm_train_fd("BatchNorm1d 5x3", 1100, s, 1e-5);
    // Two values per channel: the smallest batch PyTorch accepts in training.
    let s = BatchNormShape { n: 2, ..s };
    batch_norm_train_fd("BatchNorm1d 2x3", 1110, s, 1e-3);
}

/// Training BatchNorm followed by an activation and an overlapping max-pool: the composition
/// the norm block computes, backward through the pool's argmax, the activation and the batch
/// statistics.
#[test]
fn batch_norm_activation_pool_backward_matches_finite_differences() {
    let s = BatchNormShape {
        n: 2,
        c: 2,
        h: 5,
        w: 4,
    };
    let p = MaxPool2dShape {
        n: 2,
        c: 2,
        h_in: 5,
        w_in: 4,
        kernel: (3, 2),
        stride: (2, 1),
        padding: (1, 0),
        ceil_mode: false,
    };
    let (rm, rv) = (vec![0.0; 2], vec![1.0; 2]);
    for (i, act) in [Activation::Relu, Activation::Gelu].into_iter().enumerate() {
        let seed = 1200 + 10 * i as u64;
        let x = random(seed, s.len());
        let gamma = vec![1.3, -0.7];
        let beta = vec![0.2, -0.1];
        let fwd = |x: &[f64], g: &[f64], b: &[f64]| {
            let y = batch_norm_train_forward(&s, x, g, b, &rm, &rv, 0.1, 1e-5).output;
            max_pool2d_forward(&p, &activation_forward(act, &y))
        };
        let out = fwd(&x, &gamma, &beta);
        let r = random(seed + 1, out.output.len());
        let y = batch_norm_train_forward(&s, &x, &gamma, &beta, &rm, &rv, 0.1, 1e-5).output;
        let dy = activation_backward(act, &y, &max_pool2d_backward(&p, &out.indices, &r));
        let grads = batch_norm_train_backward(&s, &x, &gamma, 1e-5, &dy);
        let what = format!("BatchNorm2d + {act:?} + pool (3,2)/(2,1) p (1,0)");
        assert_fd(
            &format!("{what}: grad_x"),
            &grads.input,
            &numeric_grad(|v| dot(&fwd(v, &gamma, &beta).output, &r), &x),
        );
        assert_fd(
            &format!("{what}: grad_gamma"),
            &grads.weight,
            &numeric_grad(|v| dot(&fwd(&x, v, &beta).output, &r), &gamma),
        );
        assert_fd(
            &format!("{what}: grad_beta"),
            &grads.bias,
            &numeric_grad(|v| dot(&fwd(&x, &gamma, v).output, &r), &beta),
        );
    }
}

#[test]
fn batch_norm_eval_backward_matches_finite_differences() {
    let s = BatchNormShape {
        n: 2,
        c: 3,
        h: 2,
        w: 3,
    };
    let x = random(1300, s.len());
    let gamma = random(1301, 3);
    let beta = random(1302, 3);
    let rm = random(1303, 3);
    let rv: Vec<f64> = random(1304, 3).iter().map(|v| 1.2 + v).collect();
    let r = random(1305, s.len());
    let fwd =
        |x: &[f64], g: &[f64], b: &[f64]| batch_norm_eval_forward(&s, x, g, b, &rm, &rv, 1e-5);
    let grads = batch_norm_eval_backward(&s, &x, &gamma, &rm, &rv, 1e-5, &r);
    assert_fd(
        "eval BatchNorm2d: grad_x",
        &grads.input,
        &numeric_grad(|v| dot(&fwd(v, &gamma, &beta), &r), &x),
    );
    assert_fd(
        "eval BatchNorm2d: grad_gamma",
        &grads.weight,
        &numeric_grad(|v| dot(&fwd(&x, v, &beta), &r), &gamma),
    );
    assert_fd(
        "eval BatchNorm2d: grad_beta",
        &grads.bias,
        &numeric_grad(|v| dot(&fwd(&x, &gamma, v), &r), &beta),
    );
}

/// The average pools the kernel tests use (and a `ceil_mode` one), backward against finite
/// differences.
#[test]
fn avg_pool_backward_matches_finite_differences() {
    let fixed = |kernel, stride, padding, ceil_mode, count_include_pad| AvgPoolKind::Fixed {
        kernel,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
    };
    let cases = [
        (7, 6, fixed((2, 2), (2, 2), (0, 0), false, true)),
        (7, 6, fixed((3, 2), (2, 1), (1, 1), false, true)),
        (7, 6, fixed((3, 3), (2, 3), (1, 1), false, false)),
        (7, 6, fixed((3, 2), (2, 2), (1, 1), true, true)),
        (7, 6, fixed((3, 2), (2, 2), (1, 1), true, false)),
        (7, 5, AvgPoolKind::Adaptive { output: (3, 2) }),
        (5, 7, AvgPoolKind::Adaptive { output: (4, 5) }),
        (5, 6, AvgPoolKind::Adaptive { output: (1, 1) }),
    ];
    for (i, (h_in, w_in, kind)) in cases.into_iter().enumerate() {
        let s = AvgPool2dShape {
            n: 2,
            c: 2,
            h_in,
            w_in,
            kind,
        };
        let x = random(1400 + 10 * i as u64, s.input_len());
        let r = random(1401 + 10 * i as u64, s.output_len());
        assert_fd(
            &format!("{kind:?} on {h_in}x{w_in}: grad_x"),
            &avg_pool2d_backward(&s, &r),
            &numeric_grad(|v| dot(&avg_pool2d_forward(&s, v), &r), &x),
        );
    }
}

#[test]
fn dropout_backward_matches_finite_differences() {
    let mut g = rng(1500);
    let keep: Vec<bool> = (0..40).map(|_| g.random_bool(0.6)).collect();
    assert!(keep.iter().any(|&k| k) && keep.iter().any(|&k| !k));
    let x = random(1501, 40);
    let r = random(1502, 40);
    for p in [0.0, 0.3, 0.9] {
        assert_fd(
            &format!("dropout p {p}: grad_x"),
            &dropout_backward(&keep, p, &r),
            &numeric_grad(|v| dot(&dropout_forward(v, &keep, p), &r), &x),
        );
    }
    assert_fd(
        "eval dropout: grad_x",
        &r,
        &numeric_grad(|v| dot(&dropout_eval_forward(v), &r), &x),
    );
}
