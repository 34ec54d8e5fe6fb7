//! Softmax cross-entropy (`torch.nn.functional.cross_entropy`, reduction `'mean'`).

/// Result of [`softmax_cross_entropy`].
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropy {
    /// The loss of each row (`reduction='none'`), `n`.
    pub per_row: Vec<f64>,
    /// Their mean (`reduction='mean'`, the default).
    pub mean: f64,
    /// d(mean)/d(logits) = `(softmax(z_i) - onehot(t_i)) / n`, `n x classes`.
    pub grad_logits: Vec<f64>,
}

/// Cross-entropy of `logits` (`n x classes`) against class indices `targets` (`n`), as
/// `torch.nn.functional.cross_entropy(logits, targets)` (torch.nn.CrossEntropyLoss docs:
/// `loss_i = -log(exp(z_i[t_i]) / sum_c exp(z_i[c]))`, mean over the `n` rows, no weights,
/// no label smoothing).
///
/// Each row is computed with its maximum `m` subtracted (log-sum-exp):
/// `loss_i = ln(sum_c exp(z_i[c] - m)) - (z_i[t_i] - m)`, so logits of 1e8 give neither inf
/// nor NaN; the softmax in the gradient is `exp(z_i[c] - m) / sum` likewise.
///
/// # Panics
/// If `targets` is empty, `logits` is not `targets.len() x classes`, or a target is
/// `>= classes` (PyTorch raises an error there too).
pub fn softmax_cross_entropy(logits: &[f64], targets: &[usize], classes: usize) -> CrossEntropy {
    let n = targets.len();
    assert!(
        n > 0 && classes > 0,
        "cross_entropy: empty batch or no classes"
    );
    assert_eq!(logits.len(), n * classes, "cross_entropy: logits length");
    let mut per_row = Vec::with_capacity(n);
    let mut grad_logits = Vec::with_capacity(n * classes);
    for (row, &t) in logits.chunks_exact(classes).zip(targets) {
        assert!(
            t < classes,
            "cross_entropy: target {t} out of range for {classes} classes"
        );
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|&z| (z - m).exp()).sum();
        per_row.push(sum.ln() - (row[t] - m));
        for (c, &z) in row.iter().enumerate() {
            let onehot = if c == t { 1.0 } else { 0.0 };
            grad_logits.push(((z - m).exp() / sum - onehot) / n as f64);
        }
    }
    let mean = per_row.iter().sum::<f64>() / n as f64;
    CrossEntropy {
        per_row,
        mean,
        grad_logits,
    }
}

/// Index of the largest value, the first one on ties (as `torch.argmax`, whose docs say the
/// first maximal index is returned). An empty slice gives 0.
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
