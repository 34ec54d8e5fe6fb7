//! Inference helpers on a network's logits: softmax probabilities and predicted classes.
//!
//! These run on the host: a forward pass already reads the `n x classes` logits back, and a
//! softmax over a few classes per sample costs nothing next to the kernels. Training never
//! needs them (its loss is the fused softmax cross-entropy on the logits).

/// Row-wise softmax of `logits` (`n x classes`, row-major), as `torch.softmax(logits, dim=1)`
/// (<https://pytorch.org/docs/stable/generated/torch.nn.Softmax.html>):
/// `p_i = exp(x_i - max_j x_j) / sum_k exp(x_k - max_j x_j)`, in f32, the maximum subtracted
/// first so that no exponential overflows. Each row of the result sums to 1 (up to rounding).
///
/// # Panics
/// If `classes == 0` or `logits.len()` is not a multiple of `classes` (a caller bug: the
/// network's logits always have `n * classes` values).
///
/// ```
/// let p = cubenet_runtime::infer::softmax(&[0.0, 0.0, 1000.0, 1000.0], 2);
/// assert_eq!(p, vec![0.5, 0.5, 0.5, 0.5]);
/// ```
pub fn softmax(logits: &[f32], classes: usize) -> Vec<f32> {
    assert!(
        classes > 0 && logits.len().is_multiple_of(classes),
        "softmax: {} logits are not rows of {classes} classes",
        logits.len()
    );
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks_exact(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let start = out.len();
        out.extend(row.iter().map(|&x| (x - max).exp()));
        let sum: f32 = out[start..].iter().sum();
        for p in &mut out[start..] {
            *p /= sum;
        }
    }
    out
}

/// The index of the largest value of each row of `logits` (`n x classes`), the first one on
/// ties, as `torch.argmax(logits, dim=1)`.
///
/// # Panics
/// As [`softmax`].
///
/// ```
/// assert_eq!(cubenet_runtime::infer::argmax(&[0.1, 0.7, 0.2, 3.0, 3.0, -1.0], 3), vec![1, 0]);
/// ```
pub fn argmax(logits: &[f32], classes: usize) -> Vec<usize> {
    assert!(
        classes > 0 && logits.len().is_multiple_of(classes),
        "argmax: {} logits are not rows of {classes} classes",
        logits.len()
    );
    logits
        .chunks_exact(classes)
        .map(|row| {
            let mut best = 0;
            for (i, &x) in row.iter().enumerate() {
                if x > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}
