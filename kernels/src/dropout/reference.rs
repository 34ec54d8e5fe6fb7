//! `torch.nn.functional.dropout` forward and backward, given the mask.
//!
//! torch.nn.Dropout docs: in training, each element is zeroed with probability `p` and the
//! kept ones are scaled by `1 / (1 - p)`; in eval mode the layer is the identity. The random
//! draw is not part of the reference: the caller passes the mask (`true` = kept).

/// Forward of `dropout(x, p, training=True)` for the mask `keep`: `x / (1 - p)` where kept,
/// else 0.
///
/// # Panics
/// If `x` and `keep` differ in length, or `p` is not in `[0, 1)`.
pub fn dropout_forward(x: &[f64], keep: &[bool], p: f64) -> Vec<f64> {
    assert_eq!(x.len(), keep.len(), "dropout: x and keep differ in length");
    assert!((0.0..1.0).contains(&p), "dropout: p must be in [0, 1)");
    let scale = 1.0 / (1.0 - p);
    x.iter()
        .zip(keep)
        .map(|(&v, &k)| if k { v * scale } else { 0.0 })
        .collect()
}

/// Backward of [`dropout_forward`] (the op is linear in `x`): `grad_out / (1 - p)` where
/// kept, else 0.
///
/// # Panics
/// As [`dropout_forward`].
pub fn dropout_backward(keep: &[bool], p: f64, grad_out: &[f64]) -> Vec<f64> {
    dropout_forward(grad_out, keep, p)
}

/// `dropout(x, p, training=False)`: the identity.
pub fn dropout_eval_forward(x: &[f64]) -> Vec<f64> {
    x.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_elements_are_scaled() {
        let keep = [true, false, true];
        assert_eq!(
            dropout_forward(&[1.0, 2.0, -3.0], &keep, 0.75),
            vec![4.0, 0.0, -12.0]
        );
        assert_eq!(
            dropout_backward(&keep, 0.5, &[1.0, 2.0, 3.0]),
            vec![2.0, 0.0, 6.0]
        );
        assert_eq!(dropout_eval_forward(&[1.0, 2.0]), vec![1.0, 2.0]);
    }
}
