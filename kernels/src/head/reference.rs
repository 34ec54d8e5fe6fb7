//! The head's losses in f64, reduction `'mean'`: softmax cross-entropy
//! (`torch.nn.functional.cross_entropy`, with `label_smoothing`), MSE
//! (`torch.nn.functional.mse_loss`) and BCE with logits
//! (`torch.nn.functional.binary_cross_entropy_with_logits`).

/// Result of [`softmax_cross_entropy`] and the other losses.
pub type CrossEntropy = LossOutput;

/// A loss over a batch of `n` rows of `classes` outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct LossOutput {
    /// The loss of each row (`reduction='none'`, then for MSE and BCE the row's mean), `n`.
    pub per_row: Vec<f64>,
    /// Their mean (`reduction='mean'`, the default).
    pub mean: f64,
    /// d(mean)/d(logits), `n x classes` (cross-entropy: `(softmax(z_i) - onehot(t_i)) / n`).
    pub grad_logits: Vec<f64>,
}

/// Cross-entropy with label smoothing `eps` (torch.nn.CrossEntropyLoss docs: the target
/// distribution is `(1 - eps) onehot(t_i) + eps / C`): `loss_i = (1 - eps) (lse - z_i[t_i])
/// + eps / C sum_c (lse - z_i[c])`, gradient `(softmax(z_i) - (1 - eps) onehot - eps / C) / n`.
///
/// # Panics
/// As [`softmax_cross_entropy`].
pub fn cross_entropy_smoothed(
    logits: &[f64],
    targets: &[usize],
    classes: usize,
    eps: f64,
) -> LossOutput {
    let n = targets.len();
    let plain = softmax_cross_entropy(logits, targets, classes);
    let mut per_row = Vec::with_capacity(n);
    let mut grad_logits = Vec::with_capacity(n * classes);
    for ((row, &t), g) in logits
        .chunks_exact(classes)
        .zip(targets)
        .zip(plain.grad_logits.chunks_exact(classes))
    {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|&z| (z - m).exp()).sum::<f64>().ln() + m;
        let smooth: f64 = row.iter().map(|&z| lse - z).sum::<f64>() / classes as f64;
        per_row.push((1.0 - eps) * (lse - row[t]) + eps * smooth);
        for (c, &gc) in g.iter().enumerate() {
            // gc = (p - onehot) / n; add back eps * onehot and take eps / C.
            let onehot = if c == t { 1.0 } else { 0.0 };
            grad_logits.push(gc + (eps * onehot - eps / classes as f64) / n as f64);
        }
    }
    let mean = per_row.iter().sum::<f64>() / n as f64;
    LossOutput {
        per_row,
        mean,
        grad_logits,
    }
}

/// Mean squared error of `outputs` against `targets` (both `n x classes`), mean over every
/// element (torch.nn.MSELoss): gradient `2 (z - y) / (n C)`; the per-row loss is the row's
/// mean.
///
/// # Panics
/// If the lengths differ or are not a positive multiple of `classes`.
pub fn mse(outputs: &[f64], targets: &[f64], classes: usize) -> LossOutput {
    elementwise(outputs, targets, classes, |z, y| {
        ((z - y) * (z - y), 2.0 * (z - y))
    })
}

/// Binary cross-entropy on logits (torch.nn.BCEWithLogitsLoss): `l = max(z, 0) - z y +
/// ln(1 + exp(-|z|))`, mean over every element; gradient `(sigmoid(z) - y) / (n C)`.
///
/// # Panics
/// As [`mse`].
pub fn bce_with_logits(logits: &[f64], targets: &[f64], classes: usize) -> LossOutput {
    elementwise(logits, targets, classes, |z, y| {
        let e = (-z.abs()).exp();
        let sig = if z > 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        (z.max(0.0) - z * y + e.ln_1p(), sig - y)
    })
}

/// A mean-over-elements loss from `f(z, y) = (l, dl/dz)`.
fn elementwise(
    z: &[f64],
    y: &[f64],
    classes: usize,
    f: impl Fn(f64, f64) -> (f64, f64),
) -> LossOutput {
    assert!(
        classes > 0 && !z.is_empty() && z.len() == y.len() && z.len().is_multiple_of(classes),
        "loss: {} outputs, {} targets, {classes} per row",
        z.len(),
        y.len()
    );
    let total = z.len() as f64;
    let (l, g): (Vec<f64>, Vec<f64>) = z.iter().zip(y).map(|(&z, &y)| f(z, y)).unzip();
    let per_row: Vec<f64> = l
        .chunks_exact(classes)
        .map(|r| r.iter().sum::<f64>() / classes as f64)
        .collect();
    LossOutput {
        mean: l.iter().sum::<f64>() / total,
        per_row,
        grad_logits: g.iter().map(|g| g / total).collect(),
    }
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
