//! `torch.nn.functional.batch_norm` forward (training and eval) and backward, and the running
//! statistics update of torch.nn.BatchNorm2d / BatchNorm1d.
//!
//! From the torch.nn.BatchNorm2d docs: `y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`,
//! the mean and variance taken per channel over the batch and the spatial dimensions; in
//! training the variance is the biased one (divided by `M`, the number of values per channel)
//! and the running statistics are updated as
//! `running = (1 - momentum) * running + momentum * observed`, the observed variance being the
//! unbiased one (divided by `M - 1`); in eval mode the running statistics replace the batch
//! ones. `BatchNorm1d` on `N x C` features is the same op with a 1x1 plane.
//!
//! The backward in training differentiates through the batch statistics (the textbook
//! `x̂ = (x - mean) invstd`, `dx = invstd / M * (M dx̂ - Σ dx̂ - x̂ Σ dx̂ x̂)` with
//! `dx̂ = dy * gamma`); in eval mode the statistics are constants.

/// Sizes of a batch norm input `n x c x h x w` (`h = w = 1` for `BatchNorm1d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchNormShape {
    /// Batch size.
    pub n: usize,
    /// `num_features` (channels).
    pub c: usize,
    /// Plane height.
    pub h: usize,
    /// Plane width.
    pub w: usize,
}

impl BatchNormShape {
    /// Length of the input (and the output), `n x c x h x w`.
    pub fn len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }
    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per channel, `M = n * h * w`.
    pub fn per_channel(&self) -> usize {
        self.n * self.h * self.w
    }
    /// The flat indices of channel `ch`'s values, in NCHW order.
    fn channel(&self, ch: usize) -> impl Iterator<Item = usize> + '_ {
        let hw = self.h * self.w;
        (0..self.n).flat_map(move |s| {
            let base = (s * self.c + ch) * hw;
            base..base + hw
        })
    }
    fn check(&self, what: &str, x: &[f64], per_channel: &[(&str, &[f64])]) {
        assert_eq!(x.len(), self.len(), "{what}: input length");
        for (name, v) in per_channel {
            assert_eq!(v.len(), self.c, "{what}: {name} length");
        }
    }
}

/// Per-channel batch statistics: the mean and the biased variance `Σ (x - mean)² / M`.
///
/// # Panics
/// If `x` has the wrong length or a channel is empty.
pub fn batch_norm_stats(s: &BatchNormShape, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    s.check("batch_norm_stats", x, &[]);
    let m = s.per_channel();
    assert!(m > 0, "batch_norm_stats: empty channel");
    let mut mean = Vec::with_capacity(s.c);
    let mut var = Vec::with_capacity(s.c);
    for ch in 0..s.c {
        let mu = s.channel(ch).map(|i| x[i]).sum::<f64>() / m as f64;
        let v = s.channel(ch).map(|i| (x[i] - mu).powi(2)).sum::<f64>() / m as f64;
        mean.push(mu);
        var.push(v);
    }
    (mean, var)
}

/// `y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]` for given statistics.
fn normalize(
    s: &BatchNormShape,
    x: &[f64],
    mean: &[f64],
    var: &[f64],
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> Vec<f64> {
    let hw = s.h * s.w;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / hw) % s.c;
            (v - mean[ch]) / (var[ch] + eps).sqrt() * gamma[ch] + beta[ch]
        })
        .collect()
}

/// Result of [`batch_norm_train_forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormTrain {
    /// The normalised output, `n x c x h x w`.
    pub output: Vec<f64>,
    /// The batch mean per channel.
    pub mean: Vec<f64>,
    /// The biased batch variance per channel (the one the output is normalised with).
    pub var: Vec<f64>,
    /// The updated `running_mean`.
    pub running_mean: Vec<f64>,
    /// The updated `running_var` (from the unbiased batch variance).
    pub running_var: Vec<f64>,
}

/// Forward of `torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta,
/// training=True, momentum, eps)`: normalises with the batch statistics and returns the
/// running statistics it would leave behind (`momentum * observed + (1 - momentum) *
/// running`, the observed variance unbiased: `M / (M - 1)` times the biased one).
///
/// # Panics
/// If a slice has the wrong length, or a channel holds fewer than 2 values (PyTorch raises
/// "Expected more than 1 value per channel when training").
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train_forward(
    s: &BatchNormShape,
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    momentum: f64,
    eps: f64,
) -> BatchNormTrain {
    s.check(
        "batch_norm_train_forward",
        x,
        &[
            ("gamma", gamma),
            ("beta", beta),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ],
    );
    let m = s.per_channel();
    assert!(
        m > 1,
        "batch_norm_train_forward: expected more than 1 value per channel"
    );
    let (mean, var) = batch_norm_stats(s, x);
    let output = normalize(s, x, &mean, &var, gamma, beta, eps);
    let unbiased = m as f64 / (m - 1) as f64;
    let running_mean = (0..s.c)
        .map(|c| momentum * mean[c] + (1.0 - momentum) * running_mean[c])
        .collect();
    let running_var = (0..s.c)
        .map(|c| momentum * var[c] * unbiased + (1.0 - momentum) * running_var[c])
        .collect();
    BatchNormTrain {
        output,
        mean,
        var,
        running_mean,
        running_var,
    }
}

/// Forward of `torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta,
/// training=False, eps=eps)`: normalises with the running statistics.
///
/// # Panics
/// If a slice has the wrong length.
pub fn batch_norm_eval_forward(
    s: &BatchNormShape,
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
) -> Vec<f64> {
    s.check(
        "batch_norm_eval_forward",
        x,
        &[
            ("gamma", gamma),
            ("beta", beta),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ],
    );
    normalize(s, x, running_mean, running_var, gamma, beta, eps)
}

/// Gradients of a batch norm: with respect to the input, `weight` (gamma) and `bias` (beta).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormGrads {
    /// d(loss)/d(x), `n x c x h x w`.
    pub input: Vec<f64>,
    /// d(loss)/d(gamma), `c`.
    pub weight: Vec<f64>,
    /// d(loss)/d(beta), `c`.
    pub bias: Vec<f64>,
}

/// Backward of [`batch_norm_train_forward`]'s output (the batch statistics depend on `x`):
/// with `x̂ = (x - mean) / sqrt(var + eps)` and `dx̂ = dy * gamma`,
/// `dx = invstd / M * (M dx̂ - Σ_c dx̂ - x̂ Σ_c dx̂ x̂)`, `dgamma = Σ_c dy x̂`,
/// `dbeta = Σ_c dy` (sums over the channel's `M` values).
///
/// # Panics
/// If a slice has the wrong length.
pub fn batch_norm_train_backward(
    s: &BatchNormShape,
    x: &[f64],
    gamma: &[f64],
    eps: f64,
    grad_out: &[f64],
) -> BatchNormGrads {
    s.check("batch_norm_train_backward", x, &[("gamma", gamma)]);
    assert_eq!(
        grad_out.len(),
        s.len(),
        "batch_norm_train_backward: grad_out length"
    );
    let (mean, var) = batch_norm_stats(s, x);
    let m = s.per_channel() as f64;
    let mut g = BatchNormGrads {
        input: vec![0.0; s.len()],
        weight: vec![0.0; s.c],
        bias: vec![0.0; s.c],
    };
    for ch in 0..s.c {
        let invstd = 1.0 / (var[ch] + eps).sqrt();
        let xhat = |i: usize| (x[i] - mean[ch]) * invstd;
        let dxhat = |i: usize| grad_out[i] * gamma[ch];
        let sum_dxhat: f64 = s.channel(ch).map(dxhat).sum();
        let sum_dxhat_xhat: f64 = s.channel(ch).map(|i| dxhat(i) * xhat(i)).sum();
        for i in s.channel(ch) {
            g.input[i] = invstd / m * (m * dxhat(i) - sum_dxhat - xhat(i) * sum_dxhat_xhat);
        }
        g.weight[ch] = s.channel(ch).map(|i| grad_out[i] * xhat(i)).sum();
        g.bias[ch] = s.channel(ch).map(|i| grad_out[i]).sum();
    }
    g
}

/// Backward of [`batch_norm_eval_forward`] (the running statistics are constants):
/// `dx = dy * gamma / sqrt(running_var + eps)`, `dgamma = Σ_c dy x̂`, `dbeta = Σ_c dy` with
/// `x̂ = (x - running_mean) / sqrt(running_var + eps)`.
///
/// # Panics
/// If a slice has the wrong length.
pub fn batch_norm_eval_backward(
    s: &BatchNormShape,
    x: &[f64],
    gamma: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
    grad_out: &[f64],
) -> BatchNormGrads {
    s.check(
        "batch_norm_eval_backward",
        x,
        &[
            ("gamma", gamma),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ],
    );
    assert_eq!(
        grad_out.len(),
        s.len(),
        "batch_norm_eval_backward: grad_out length"
    );
    let mut g = BatchNormGrads {
        input: vec![0.0; s.len()],
        weight: vec![0.0; s.c],
        bias: vec![0.0; s.c],
    };
    for ch in 0..s.c {
        let invstd = 1.0 / (running_var[ch] + eps).sqrt();
        for i in s.channel(ch) {
            g.input[i] = grad_out[i] * gamma[ch] * invstd;
            g.weight[ch] += grad_out[i] * (x[i] - running_mean[ch]) * invstd;
            g.bias[ch] += grad_out[i];
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One channel holding 1, 2, 3, 6 (two samples of a 1x2 plane): mean 3, biased variance
    /// (4 + 1 + 0 + 9) / 4 = 3.5, unbiased 14 / 3.
    #[test]
    fn batch_norm_train_forward_by_hand() {
        let s = BatchNormShape {
            n: 2,
            c: 1,
            h: 1,
            w: 2,
        };
        let r = batch_norm_train_forward(
            &s,
            &[1.0, 2.0, 3.0, 6.0],
            &[2.0],
            &[0.5],
            &[1.0],
            &[2.0],
            0.1,
            0.5,
        );
        assert_eq!((r.mean[0], r.var[0]), (3.0, 3.5));
        // invstd = 1 / sqrt(4) = 0.5: y = (x - 3) * 0.5 * 2 + 0.5.
        assert_eq!(r.output, vec![-1.5, -0.5, 0.5, 3.5]);
        assert!((r.running_mean[0] - (0.1 * 3.0 + 0.9 * 1.0)).abs() < 1e-15);
        assert!((r.running_var[0] - (0.1 * 14.0 / 3.0 + 0.9 * 2.0)).abs() < 1e-15);
        let e = batch_norm_eval_forward(
            &s,
            &[1.0, 5.0, 0.0, 0.0],
            &[2.0],
            &[0.5],
            &[1.0],
            &[3.5],
            0.5,
        );
        assert_eq!(e, vec![0.5, 4.5, -0.5, -0.5]);
    }

    /// A constant upstream gradient through the batch statistics gives no input gradient
    /// (the output's channel sum is fixed at `M * beta`).
    #[test]
    fn constant_grad_out_has_no_input_gradient() {
        let s = BatchNormShape {
            n: 2,
            c: 2,
            h: 1,
            w: 3,
        };
        let x: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 - 1.5).collect();
        let g = batch_norm_train_backward(&s, &x, &[1.5, -0.5], 1e-5, &[0.25; 12]);
        assert!(g.input.iter().all(|v| v.abs() < 1e-12), "{:?}", g.input);
        assert_eq!(g.bias, vec![1.5, 1.5]);
        assert!(g.weight.iter().all(|v| v.abs() < 1e-12));
    }
}
