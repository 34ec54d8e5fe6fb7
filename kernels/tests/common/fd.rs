//! Finite-difference helpers shared by `reference_fd.rs` and `reference_fd_norm.rs`.
use super::{f64s, rng, uniform};

/// Central differences `(f(v + h e_i) - f(v - h e_i)) / 2h` for every `i`.
pub fn numeric_grad(f: impl Fn(&[f64]) -> f64, v: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    (0..v.len())
        .map(|i| {
            let mut p = v.to_vec();
            p[i] += h;
            let up = f(&p);
            p[i] -= 2.0 * h;
            (up - f(&p)) / (2.0 * h)
        })
        .collect()
}

pub fn assert_fd(what: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: length");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (a - n).abs() <= 1e-6 * n.abs().max(1.0),
            "{what}[{i}]: analytic {a}, finite differences {n}"
        );
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn random(seed: u64, len: usize) -> Vec<f64> {
    f64s(&uniform(&mut rng(seed), len, -1.0, 1.0))
}
