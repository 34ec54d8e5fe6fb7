//! `fit` checks every step's gradients for NaN and infinities on the device and reads back
//! nothing per step but the per-sample losses and the check's flag, in one read (with
//! gradient clipping, also the gradients the clipping reads anyway). A finite loss with an
//! overflowing gradient still stops the run with `Error::NonFiniteGradient` naming the first
//! bad parameter, on every optimizer path (fused SGD, Adam, SGD after clipping).
use std::sync::Arc;

use cubenet::prelude::*;
use cubenet::Error;

#[path = "common/tiny.rs"]
mod tiny;

use tiny::Tiny;

const BATCHES: usize = 4;

/// 32 images of 4 x 4, labels alternating 0 / 1, in `BATCHES` unshuffled batches of 8;
/// pixels are `byte / 255 / std`.
fn loader(std: f32) -> DataLoader {
    let images: Vec<u8> = (0..32 * 16).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..32).map(|i| (i % 2) as u8).collect();
    let ds = Dataset::from_raw(images, labels, [1, 4, 4], 2).unwrap();
    let normalize = Normalize {
        mean: vec![0.0],
        std: vec![std],
    };
    DataLoader::new(Arc::new(ds), 8, false, false, normalize, 0).unwrap()
}

fn configs() -> Vec<(&'static str, TrainConfig)> {
    vec![
        (
            "fused SGD",
            TrainConfig::new(1, Sgd::new(0.05).with_momentum(0.9)),
        ),
        ("Adam", TrainConfig::new(1, Adam::new(0.01))),
        (
            "SGD with clipping",
            TrainConfig {
                clip_grad_norm: Some(0.5),
                ..TrainConfig::new(1, Sgd::new(0.05))
            },
        ),
    ]
}

/// Device reads per step: one (losses and flag) without clipping, two (the gradients for
/// the norm, then the losses) with it.
fn reads_per_step(cfg: &TrainConfig) -> u64 {
    if cfg.clip_grad_norm.is_some() {
        2
    } else {
        1
    }
}

#[test]
fn fit_reads_back_only_the_losses_and_the_flag_per_step() {
    let device = cubenet::default_device();
    for (what, cfg) in configs() {
        let mut net = Tiny::new(&device, 8, 3).unwrap();
        let before = net.state().reads();
        let reports = fit(&mut net, &loader(1.0), None, &cfg).unwrap();
        assert!(reports[0].train_loss.is_finite(), "{what}");
        assert_eq!(net.state().steps(), BATCHES as u64, "{what}");
        assert_eq!(
            net.state().reads() - before,
            BATCHES as u64 * reads_per_step(&cfg),
            "{what}: device reads over {BATCHES} steps"
        );
    }
}

/// fc1 zero with bias 1 (every hidden unit is 1 whatever the input), fc2 row 0 at 1e30 and
/// row 1 zero: the logits are (8e30, 0), so the loss is finite (0 or 8e30 per row), but the
/// gradient of fc1.weight is about 1e29 times a pixel of about 1e12, which overflows to
/// infinity; fc1.bias, fc2.weight and fc2.bias keep finite gradients.
fn overflowing_gradient_params() -> Vec<f32> {
    let mut p = vec![0f32; Tiny::LAYOUT.num_params];
    let param = |name: &str| {
        Tiny::LAYOUT
            .params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    let b1 = param("fc1.bias");
    p[b1.offset..b1.offset + b1.numel()].fill(1.0);
    let w2 = param("fc2.weight");
    p[w2.offset..w2.offset + 8].fill(1e30);
    p
}

#[test]
fn a_finite_loss_with_an_overflowing_gradient_names_the_parameter() {
    let device = cubenet::default_device();
    for (what, cfg) in configs() {
        let mut net = Tiny::new(&device, 8, 3).unwrap();
        net.state_mut()
            .write_params(&overflowing_gradient_params())
            .unwrap();
        let before = net.state().reads();
        let err = fit(&mut net, &loader(1e-10), None, &cfg).unwrap_err();
        match &err {
            Error::NonFiniteGradient {
                param,
                epoch,
                step,
                batch,
            } => {
                assert_eq!(
                    (param.as_str(), *epoch, *step, *batch),
                    ("fc1.weight", 1, 1, 0),
                    "{what}: {err}"
                );
            }
            other => panic!("{what}: expected NonFiniteGradient, got {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("non-finite gradient of `fc1.weight` at epoch 1, step 1 (batch 0)"),
            "{what}: {text}"
        );
        // Without clipping: the losses and the flag, then the gradients once to name the
        // parameter. With clipping the gradients read for the norm serve.
        assert_eq!(net.state().reads() - before, 2, "{what}: device reads");
    }
}

/// The flag of one step does not leak into the next: a run whose first step overflows and
/// whose parameters are then made good again trains on without an error.
#[test]
fn the_flag_of_a_bad_step_does_not_stop_the_next_run() {
    let device = cubenet::default_device();
    let mut net = Tiny::new(&device, 8, 3).unwrap();
    let good = net.state().read_params().unwrap();
    net.state_mut()
        .write_params(&overflowing_gradient_params())
        .unwrap();
    let cfg = TrainConfig::new(1, Sgd::new(0.05));
    let err = fit(&mut net, &loader(1e-10), None, &cfg).unwrap_err();
    assert!(matches!(err, Error::NonFiniteGradient { .. }), "{err}");
    net.state_mut().write_params(&good).unwrap();
    let reports = fit(&mut net, &loader(1.0), None, &cfg).unwrap();
    assert!(reports[0].train_loss.is_finite());
}
