//! Softmax for inference against PyTorch: `cubenet::infer::softmax` on the logits of
//! tests/fixtures/softmax_cases.safetensors (from `venv/bin/python scripts/softmax_fixture.py`:
//! `torch.softmax(logits, dim=1)`, PyTorch 2.15 CPU, float32), and `Network::predict_proba` /
//! `Network::predict` on a LeNet-5 against the softmax and argmax of its own logits.
mod common;

use common::Fixture;
use cubenet::prelude::*;
use cubenet::zoo::LeNet5;
use rand::{Rng, SeedableRng};

#[test]
fn softmax_matches_torch_softmax_including_extreme_logits() {
    let fx = Fixture::load("softmax_cases.safetensors");
    for case in ["a", "b", "c"] {
        let key = format!("{case}.logits");
        let shape = fx.shape(&key);
        let want = fx.f32(&format!("{case}.probs"));
        let got = cubenet::infer::softmax(&fx.f32(&key), shape[1]);
        assert_eq!(got.len(), want.len(), "case {case}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(g.is_finite(), "case {case}[{i}]: {g}");
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1e-30) + 1e-12,
                "case {case}[{i}]: cubenet {g}, torch {w}"
            );
        }
        for row in got.chunks_exact(shape[1]) {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "case {case}: a row sums to {sum}");
        }
    }
}

#[test]
fn predict_proba_and_predict_agree_with_the_logits() {
    let mut net = LeNet5::new(&cubenet::default_device(), 16, 3).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let images: Vec<f32> = (0..16 * 28 * 28)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let logits = net.forward(&images).unwrap();
    let probs = net.predict_proba(&images).unwrap();
    let classes = net.predict(&images).unwrap();
    assert_eq!(probs, cubenet::infer::softmax(&logits, 10));
    assert_eq!(classes.len(), 16);
    for (row, (p, &c)) in logits
        .chunks_exact(10)
        .zip(probs.chunks_exact(10).zip(&classes))
    {
        let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(
            row[c], best,
            "predicted class {c} is not the largest logit of {row:?}"
        );
        assert!(p.iter().all(|&x| x <= p[c]));
    }
    // A wrong image count is an error, as for forward.
    assert!(net.predict_proba(&images[..100]).is_err());
}
