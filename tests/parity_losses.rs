//! PyTorch parity of the losses `#[network(loss = ...)]` takes, inside whole networks:
//! cross-entropy with `label_smoothing`, MSE (f32 targets) and BCE with logits (hard and soft
//! targets, and logits of |z| >= 100 where only the max-subtracted form stays finite).
//!
//! For every case: the outputs of a batch at PyTorch's initial weights, the loss and every
//! parameter gradient, then two SGD steps (momentum 0.9) with the loss before each and every
//! parameter after it. Expected values: `tests/fixtures/loss_cases.safetensors`, written by
//! `scripts/loss_cases.py` with PyTorch 2.15 on the CPU (float32). Tolerance
//! `1e-4 * max(1, |expected|)`.
mod common;

use common::*;
use cubenet::prelude::*;

const TOL: f32 = 1e-4;

fn check_case<N: Network>(case: &str, lr: f32) {
    Parity::<N>::new(&Fixture::load("loss_cases.safetensors"), case, TOL)
        .logits("logits")
        .gradients("loss1")
        .steps([Sgd::new(lr).with_momentum(0.9); 2])
        .every_param_moves()
        .run();
}

#[network(input = [1, 6, 6], loss = cross_entropy, label_smoothing = 0.1)]
pub struct Smoothing {
    conv: Conv2d<1, 3, 3>,
    relu1: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<12, 6>,
    relu2: Relu,
    fc2: Linear<6, 4>,
}

#[test]
fn cross_entropy_with_label_smoothing_matches_pytorch() {
    check_case::<Smoothing>("smoothing", 0.1);
}

#[network(input = [1, 2, 4], loss = mse)]
pub struct MseNet {
    flatten: Flatten,
    fc1: Linear<8, 16>,
    act: Tanh,
    fc2: Linear<16, 8>,
}

#[test]
fn mse_matches_pytorch() {
    check_case::<MseNet>("mse", 0.1);
}

#[network(input = [1, 1, 6], loss = bce_with_logits)]
pub struct BceNet {
    flatten: Flatten,
    fc1: Linear<6, 8>,
    relu: Relu,
    fc2: Linear<8, 5>,
}

#[test]
fn bce_with_logits_matches_pytorch() {
    check_case::<BceNet>("bce", 0.1);
}

/// Logits of |z| up to ~365: `ln(1 + exp(-|z|))` and the sigmoid through `exp(-|z|)` keep
/// every value finite and equal to PyTorch's.
#[test]
fn bce_with_logits_extreme_logits_match_pytorch() {
    check_case::<BceNet>("bce_extreme", 1e-3);
}

/// The targets must be of the loss's kind and shape: each mistake is an error naming the loss
/// and what it takes, and nothing is launched.
#[test]
fn targets_of_the_wrong_kind_or_shape_are_errors() {
    let device = default_device();
    let x = vec![0.5f32; 2 * 6];
    let sgd = Sgd::new(0.1);
    let mut bce = BceNet::new(&device, 4, 0).unwrap();
    let err = bce
        .train_step(&x, &[1u32, 0], &sgd)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`bce_with_logits`") && err.contains("n x 5 values"),
        "{err}"
    );
    let err = bce
        .train_step(&x, &[0.5f32; 9], &sgd)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("9 target values for 2 rows") && err.contains("n x 5 = 10"),
        "{err}"
    );
    let mut y = [0.5f32; 10];
    y[7] = 1.5;
    let err = bce.train_step(&x, &y, &sgd).unwrap_err().to_string();
    assert!(
        err.contains("target [1, 2] is 1.5") && err.contains("[0, 1]"),
        "{err}"
    );
    let mut mse = MseNet::new(&device, 4, 0).unwrap();
    let x8 = vec![0.5f32; 2 * 8];
    let mut y = [0.0f32; 16];
    y[3] = f32::NAN;
    let err = mse.train_step(&x8, &y, &sgd).unwrap_err().to_string();
    assert!(
        err.contains("target [0, 3] is NaN") && err.contains("`mse`"),
        "{err}"
    );
    let mut ce = Smoothing::new(&device, 4, 0).unwrap();
    let x36 = vec![0.5f32; 2 * 36];
    let err = ce
        .train_step(&x36, &[0.0f32; 8], &sgd)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`cross_entropy`") && err.contains("one class index per row"),
        "{err}"
    );
}

/// `evaluate` reports the per-label accuracy count for BCE (outputs whose sign agrees with
/// `target > 0.5`) and the row-mean loss; for MSE a count of 0 and the mean squared error.
#[test]
fn evaluate_counts_fit_the_loss() {
    let device = default_device();
    let mut bce = BceNet::new(&device, 4, 0).unwrap();
    let x: Vec<f32> = (0..12).map(|i| i as f32 / 6.0 - 1.0).collect();
    let z = bce.forward(&x).unwrap();
    let y: Vec<f32> = (0..10).map(|k| (k % 2) as f32).collect();
    let (correct, loss_sum) = bce.evaluate(&x, &y).unwrap();
    let want_correct = z
        .iter()
        .zip(&y)
        .filter(|(z, y)| (**z > 0.0) == (**y > 0.5))
        .count();
    assert_eq!(correct, want_correct);
    let want_loss: f64 = z
        .iter()
        .zip(&y)
        .map(|(&z, &y)| {
            let (z, y) = (z as f64, y as f64);
            z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / 5.0;
    assert!(
        (loss_sum - want_loss).abs() < 1e-5 * want_loss.max(1.0),
        "{loss_sum} vs {want_loss}"
    );
    let mut mse = MseNet::new(&device, 4, 0).unwrap();
    let x8: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    let out = mse.forward(&x8).unwrap();
    let (correct, loss_sum) = mse.evaluate(&x8, &x8).unwrap();
    assert_eq!(correct, 0);
    let want: f64 = out
        .iter()
        .zip(&x8)
        .map(|(&o, &t)| ((o - t) as f64).powi(2))
        .sum::<f64>()
        / 8.0;
    assert!(
        (loss_sum - want).abs() < 1e-5 * want.max(1.0),
        "{loss_sum} vs {want}"
    );
}

/// `fit` on a dataset of f32 value targets (each sample's own input: an identity
/// autoencoder) trains an MSE network: the test loss falls, and `evaluate` gives the mean
/// squared error over every element. A dataset whose targets have the wrong length per sample
/// is refused before any step, naming the loss and the length it takes.
#[test]
fn fit_trains_an_mse_network_on_value_targets() {
    use std::sync::Arc;
    let device = default_device();
    let x: Vec<f32> = (0..64 * 8)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
        .collect();
    let ds = Dataset::from_f32(
        x.clone(),
        [1, 2, 4],
        Targets::Values {
            values: vec![0.0; 64 * 8],
            len_per_sample: 8,
        },
    )
    .unwrap();
    let ds = {
        let t = ds.inputs_as_targets(&Normalize::identity(1)).unwrap();
        ds.with_targets(t).unwrap()
    };
    let ds = Arc::new(ds);
    let train = DataLoader::new(ds.clone(), 16, true, false, Normalize::identity(1), 3).unwrap();
    let test = DataLoader::new(ds, 64, false, false, Normalize::identity(1), 3).unwrap();
    let mut net = MseNet::new(&device, 64, 0).unwrap();
    let before = evaluate(&mut net, &test).unwrap().1;
    let reports = fit(
        &mut net,
        &train,
        Some(&test),
        &TrainConfig::new(20, Sgd::new(0.1).with_momentum(0.9)),
    )
    .unwrap();
    let last = reports.last().unwrap();
    assert_eq!(last.test_accuracy, None, "MSE has no accuracy");
    let after = last.test_loss.unwrap();
    assert!(after < 0.5 * before, "test MSE {before} -> {after}");
    // The reported loss is the mean squared error of the outputs over every element.
    net.eval();
    let out = net.forward(&x).unwrap();
    let mse = out
        .iter()
        .zip(&x)
        .map(|(o, t)| ((o - t) as f64).powi(2))
        .sum::<f64>()
        / out.len() as f64;
    assert!((after - mse).abs() < 1e-5, "{after} vs {mse}");
    // Targets of 4 values per sample for a network of 8 outputs.
    let short = Dataset::from_f32(
        x,
        [1, 2, 4],
        Targets::Values {
            values: vec![0.0; 64 * 4],
            len_per_sample: 4,
        },
    )
    .unwrap();
    let short =
        DataLoader::new(Arc::new(short), 16, true, false, Normalize::identity(1), 3).unwrap();
    let steps = net.state().steps();
    let err = fit(&mut net, &short, None, &TrainConfig::new(1, Sgd::new(0.1)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("loss mse needs 8 f32 values per sample"),
        "{err}"
    );
    assert_eq!(net.state().steps(), steps, "no step was taken");
}
