//! f64 CPU references of every op the building blocks compute: the test oracle.
//!
//! Plain loops in f64, written from PyTorch's documented definitions (cited on each function)
//! rather than from the kernels, so that a test comparing the two checks the kernels against
//! PyTorch's semantics. Conventions:
//! - tensors are flat, row-major `&[f64]` slices: activations NCHW, conv weights OIHW
//!   (`out_channels x in_channels x kh x kw`), linear weights `out_features x in_features`;
//! - sizes come in small `Copy` structs ([`Conv2dShape`], [`MaxPool2dShape`], [`LinearShape`]);
//!   per-axis values are `(h, w)` pairs, like PyTorch's `stride=(sh, sw)`;
//! - a backward function takes the gradient of a scalar loss with respect to the op's output
//!   (`grad_out`, same shape as the output) and returns the gradients with respect to the op's
//!   inputs (vector-Jacobian products, as `torch.autograd` computes them);
//! - a slice of the wrong length, or a shape PyTorch rejects, panics: these are test oracles,
//!   not runtime code.

// Each op's reference lives in its folder (`<op>/reference.rs`); this is the one place
// tests import them from.
pub use crate::act::reference::{
    activation_backward, activation_forward, erf, std_normal_cdf, Activation,
};
pub use crate::adam::reference::{clip_grad_norm, Adam, AdamOptions};
pub use crate::avg_pool::reference::{
    avg_pool2d_backward, avg_pool2d_forward, AvgPool2dShape, AvgPoolKind,
};
pub use crate::conv::reference::{conv2d_backward, conv2d_forward, Conv2dGrads, Conv2dShape};
pub use crate::dropout::reference::{dropout_backward, dropout_eval_forward, dropout_forward};
pub use crate::head::reference::{
    argmax, bce_with_logits, cross_entropy_smoothed, mse, softmax_cross_entropy, CrossEntropy,
    LossOutput,
};
pub use crate::linear::reference::{linear_backward, linear_forward, LinearGrads, LinearShape};
pub use crate::max_pool::reference::{
    max_pool2d_backward, max_pool2d_forward, MaxPool2dOutput, MaxPool2dShape,
};
pub use crate::norm::reference::{
    batch_norm_eval_backward, batch_norm_eval_forward, batch_norm_stats, batch_norm_train_backward,
    batch_norm_train_forward, BatchNormGrads, BatchNormShape, BatchNormTrain,
};
pub use crate::sgd::reference::{Sgd, SgdOptions};

/// Output size of a conv or pool along one axis (torch.nn.Conv2d / torch.nn.MaxPool2d docs,
/// `ceil_mode=False`): `floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`.
///
/// # Panics
/// If `kernel`, `stride` or `dilation` is 0, or the dilated kernel is larger than the padded
/// input (PyTorch raises an error for both).
pub fn out_size(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> usize {
    assert!(
        kernel > 0 && stride > 0 && dilation > 0,
        "kernel, stride and dilation must be >= 1"
    );
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * padding;
    assert!(
        span <= padded,
        "dilated kernel ({span}) is larger than the padded input ({padded})"
    );
    (padded - span) / stride + 1
}

/// Output size of a max-pool along one axis with `ceil_mode=True` (torch's
/// `pooling_output_shape`, aten/src/ATen/native/Pool.h, dilation 1):
/// `ceil((input + 2 * padding - kernel) / stride) + 1`, less one when that last window would
/// start at or past `input + padding`, so every window starts inside the input or the left
/// padding. A last window may run past the input's end; it then covers fewer elements.
///
/// # Panics
/// As [`out_size`].
pub fn pool_out_size_ceil(input: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    // Validates the arguments.
    out_size(input, kernel, stride, padding, 1);
    let mut out = (input + 2 * padding - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= input + padding {
        out -= 1;
    }
    out
}

/// `relu(x) = max(x, 0)`, elementwise (torch.nn.functional.relu).
pub fn relu_forward(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect()
}

/// Backward of [`relu_forward`]: `grad_in = grad_out` where `x > 0`, else 0 (so relu'(0) = 0,
/// as PyTorch's `threshold_backward(grad, x, 0)`). `x` may be the relu input or its output:
/// both are positive at the same places.
///
/// # Panics
/// If the slices differ in length.
pub fn relu_backward(x: &[f64], grad_out: &[f64]) -> Vec<f64> {
    assert_eq!(
        x.len(),
        grad_out.len(),
        "relu_backward: x and grad_out differ in length"
    );
    x.iter()
        .zip(grad_out)
        .map(|(&v, &g)| if v > 0.0 { g } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_size_matches_the_formula() {
        assert_eq!(out_size(32, 5, 1, 0, 1), 28);
        assert_eq!(out_size(5, 2, 2, 1, 1), 3);
        assert_eq!(out_size(7, 3, 1, 0, 2), 3);
        assert_eq!(out_size(8, 3, 2, 0, 1), 3);
    }

    #[test]
    #[should_panic(expected = "larger than the padded input")]
    fn out_size_rejects_a_kernel_larger_than_the_input() {
        out_size(3, 3, 1, 0, 2);
    }

    #[test]
    fn relu_gradient_is_zero_at_zero() {
        let x = [-1.0, 0.0, 2.0];
        assert_eq!(relu_forward(&x), vec![0.0, 0.0, 2.0]);
        assert_eq!(relu_backward(&x, &[5.0, 6.0, 7.0]), vec![0.0, 0.0, 7.0]);
    }
}
