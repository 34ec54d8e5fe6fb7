//! `torch.nn.functional.linear` forward and backward.

/// Sizes of a linear layer over a batch (torch.nn.Linear).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinearShape {
    /// Batch size (rows of `x`).
    pub n: usize,
    /// `in_features`.
    pub in_features: usize,
    /// `out_features`.
    pub out_features: usize,
}

impl LinearShape {
    fn check(&self, x: &[f64], weight: &[f64]) {
        assert_eq!(x.len(), self.n * self.in_features, "linear: input length");
        assert_eq!(
            weight.len(),
            self.out_features * self.in_features,
            "linear: weight length"
        );
    }
}

/// Forward of `torch.nn.functional.linear(x, weight, bias)`: `y = x W^T + b` (torch.nn.Linear
/// docs), `x`: `n x in`, `W`: `out x in`, `b`: `out`. Returns `n x out`.
///
/// # Panics
/// If a slice length does not match `s`.
pub fn linear_forward(
    s: &LinearShape,
    x: &[f64],
    weight: &[f64],
    bias: Option<&[f64]>,
) -> Vec<f64> {
    s.check(x, weight);
    let (fi, fo) = (s.in_features, s.out_features);
    if let Some(b) = bias {
        assert_eq!(b.len(), fo, "linear: bias length");
    }
    let mut y = vec![0.0; s.n * fo];
    for r in 0..s.n {
        for o in 0..fo {
            let dot: f64 = (0..fi).map(|i| x[r * fi + i] * weight[o * fi + i]).sum();
            y[r * fo + o] = dot + bias.map_or(0.0, |b| b[o]);
        }
    }
    y
}

/// Gradients of a scalar loss with respect to the inputs of [`linear_forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct LinearGrads {
    /// d(loss)/d(x) = `grad_out W`, `n x in`.
    pub input: Vec<f64>,
    /// d(loss)/d(W) = `grad_out^T x`, `out x in`.
    pub weight: Vec<f64>,
    /// d(loss)/d(b) = column sums of `grad_out`, `out` (meaningful only with a bias).
    pub bias: Vec<f64>,
}

/// Backward of [`linear_forward`] given `grad_out` (`n x out`).
///
/// # Panics
/// If a slice length does not match `s`.
pub fn linear_backward(
    s: &LinearShape,
    x: &[f64],
    weight: &[f64],
    grad_out: &[f64],
) -> LinearGrads {
    s.check(x, weight);
    let (fi, fo) = (s.in_features, s.out_features);
    assert_eq!(grad_out.len(), s.n * fo, "linear_backward: grad_out length");
    let mut g = LinearGrads {
        input: vec![0.0; s.n * fi],
        weight: vec![0.0; fo * fi],
        bias: vec![0.0; fo],
    };
    for r in 0..s.n {
        for o in 0..fo {
            let go = grad_out[r * fo + o];
            g.bias[o] += go;
            for i in 0..fi {
                g.input[r * fi + i] += go * weight[o * fi + i];
                g.weight[o * fi + i] += go * x[r * fi + i];
            }
        }
    }
    g
}
