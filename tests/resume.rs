//! A run stopped mid-epoch and resumed from its checkpoint ends bitwise where the
//! uninterrupted run ends; a non-finite value stops training with the last good checkpoint
//! on disk.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cubenet::prelude::*;
use cubenet::Error;

#[path = "common/stripes.rs"]
mod stripes;

use stripes::{stripes, Small};

/// 44 images of 12 x 12 whose class (0..3) sets the brightness of a stripe: 6 batches of 8
/// per epoch, the last one short.
fn loader(batch_size: usize) -> DataLoader {
    DataLoader::new(
        Arc::new(stripes(44)),
        batch_size,
        true,
        false,
        Normalize::identity(1),
        5,
    )
    .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cubenet-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn config(checkpoint: &Path) -> TrainConfig {
    TrainConfig {
        lr_schedule: Some(StepLr {
            step_size: 1,
            gamma: 0.5,
        }),
        checkpoint: Some(checkpoint.to_path_buf()),
        ..TrainConfig::new(3, Sgd::new(0.05).with_momentum(0.9).with_weight_decay(1e-4))
    }
}

/// AdamW with clipping, StepLR, a per-step cosine and a warm-up (every piece of state and
/// every counter a resume must restore).
fn adam_config(checkpoint: &Path) -> TrainConfig {
    TrainConfig {
        clip_grad_norm: Some(0.5),
        cosine: Some(CosineAnnealingLr {
            t_max: 7,
            eta_min: 1e-4,
            per_step: true,
        }),
        warmup: Some(LinearLr::warmup(0.2, 5)),
        ..TrainConfig {
            optimizer: Adam::adamw(0.01).with_weight_decay(0.05).into(),
            ..config(checkpoint)
        }
    }
}

/// A `Small` (capacity 8, seed 1) trained with `cfg` until `max_steps` stops it after `steps`
/// steps (writing the checkpoint).
fn stopped_after(steps: u64, cfg: TrainConfig) -> Small {
    let mut net = Small::new(&cubenet::default_device(), 8, 1).unwrap();
    let cfg = TrainConfig {
        max_steps: Some(steps),
        ..cfg
    };
    let stop = fit(&mut net, &loader(8), None, &cfg).map(|_| ());
    assert!(
        matches!(stop, Err(Error::Interrupted { step, .. }) if step == steps),
        "{stop:?}"
    );
    net
}

/// What resuming checkpoint `from` with `cfg` says, in a new `Small` of capacity `batch` on
/// batches of `batch`.
fn resume_error(from: &Path, cfg: TrainConfig, batch: usize) -> String {
    let mut net = Small::new(&cubenet::default_device(), batch, 1).unwrap();
    let cfg = TrainConfig {
        resume: Some(from.to_path_buf()),
        ..cfg
    };
    fit(&mut net, &loader(batch), None, &cfg)
        .unwrap_err()
        .to_string()
}

type Bits = (Vec<u32>, Vec<u32>, Option<(Vec<u32>, Vec<u32>, u64)>);

/// Parameters, momentum buffers and the Adam state, bit for bit.
fn state_bits(net: &Small) -> Bits {
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<u32>>();
    (
        bits(net.state().read_params().unwrap()),
        bits(net.state().read_velocity().unwrap()),
        net.state()
            .read_adam_state()
            .unwrap()
            .map(|(m, v, t)| (bits(m), bits(v), t)),
    )
}

fn losses(reports: &[EpochReport]) -> Vec<(u64, Option<u64>)> {
    reports
        .iter()
        .map(|r| (r.train_loss.to_bits(), r.test_loss.map(f64::to_bits)))
        .collect()
}

/// Trains 3 epochs uninterrupted; then stops a second run after `stop_at` steps and resumes
/// it in a fresh network (other seed: everything must come from the checkpoint).
fn interrupted_run_matches(stop_at: u64) {
    interrupted_run_matches_with(stop_at, config, "sgd");
}

/// As [`interrupted_run_matches`] with `config`; `tag` keeps the files of concurrent tests
/// apart.
fn interrupted_run_matches_with(stop_at: u64, config: fn(&Path) -> TrainConfig, tag: &str) {
    let device = cubenet::default_device();
    let (train, test) = (loader(8), loader(8));

    let mut reference = Small::new(&device, 8, 1).unwrap();
    let whole = fit(
        &mut reference,
        &train,
        Some(&test),
        &config(&tmp(&format!("whole-{tag}-{stop_at}.safetensors"))),
    )
    .unwrap();
    assert_eq!(reference.state().steps(), 18, "3 epochs of 6 batches");

    let path = tmp(&format!("stopped-{tag}-{stop_at}.safetensors"));
    let mut first = Small::new(&device, 8, 1).unwrap();
    let cfg = TrainConfig {
        max_steps: Some(stop_at),
        ..config(&path)
    };
    let err = fit(&mut first, &train, Some(&test), &cfg).unwrap_err();
    let (epoch, done) = (
        (stop_at as usize - 1) / 6 + 1,
        (stop_at as usize - 1) % 6 + 1,
    );
    match &err {
        Error::Interrupted {
            epoch: e,
            batches_done,
            batches,
            step,
            checkpoint,
        } => {
            assert_eq!(
                (*e, *batches_done, *batches, *step),
                (epoch, done, 6, stop_at)
            );
            assert_eq!(checkpoint.as_deref(), Some(path.as_path()));
        }
        other => panic!("expected Interrupted, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("stopped after step {stop_at}"))
            && text.contains(&path.display().to_string())
            && text.contains("resume"),
        "{text}"
    );

    let mut resumed = Small::new(&device, 8, 999).unwrap();
    let cfg = TrainConfig {
        resume: Some(path.clone()),
        ..config(&path)
    };
    let rest = fit(&mut resumed, &train, Some(&test), &cfg).unwrap();
    assert_eq!(resumed.state().steps(), 18);
    assert_eq!(
        state_bits(&resumed),
        state_bits(&reference),
        "resumed weights, momentum or Adam state differ from the uninterrupted run (stopped at step {stop_at})"
    );
    assert_eq!(losses(&rest), losses(&whole), "per-epoch losses differ");
    // The weight files are byte for byte the same.
    let (a, b) = (
        tmp(&format!("a-{tag}-{stop_at}.safetensors")),
        tmp(&format!("b-{tag}-{stop_at}.safetensors")),
    );
    cubenet::checkpoint::save(&a, &reference.state_dict().unwrap()).unwrap();
    cubenet::checkpoint::save(&b, &resumed.state_dict().unwrap()).unwrap();
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
}

#[test]
fn resuming_mid_epoch_gives_bitwise_the_uninterrupted_weights() {
    interrupted_run_matches(9); // epoch 2, after batch 3 of 6
}

#[test]
fn resuming_after_a_short_last_batch_and_at_an_epoch_end_gives_the_same_weights() {
    interrupted_run_matches(6); // the end of epoch 1 (its last batch is short)
    interrupted_run_matches(1); // the very first step (the momentum buffer's first step)
}

#[test]
fn resuming_an_adamw_run_with_clipping_and_schedules_gives_bitwise_the_uninterrupted_state() {
    interrupted_run_matches_with(9, adam_config, "adamw"); // epoch 2, after batch 3 of 6
    interrupted_run_matches_with(1, adam_config, "adamw"); // after the first Adam step
}

/// The checkpoint of an Adam run holds `optimizer.<key>.exp_avg` / `.exp_avg_sq` and the
/// Adam step; resuming it with SGD, or an SGD checkpoint with Adam, is an error.
#[test]
fn adam_checkpoints_hold_the_moments_and_resume_only_with_adam() {
    let path = tmp("adam-keys.safetensors");
    let net = stopped_after(4, adam_config(&path));
    let (saved, meta) = cubenet::checkpoint::load_with_metadata(&path).unwrap();
    assert_eq!(meta.get("optimizer.step").map(String::as_str), Some("4"));
    let (m, v, t) = net.state().read_adam_state().unwrap().unwrap();
    assert_eq!(t, 4);
    let bias = Small::LAYOUT
        .params
        .iter()
        .find(|p| p.name == "fc2.bias")
        .unwrap();
    let get = |k: &str| &saved.iter().find(|t| t.name == k).unwrap().data;
    assert_eq!(
        get("optimizer.fc2.bias.exp_avg"),
        &m[bias.offset..bias.offset + 3]
    );
    assert_eq!(
        get("optimizer.fc2.bias.exp_avg_sq"),
        &v[bias.offset..bias.offset + 3]
    );
    assert!(v.iter().all(|&x| x >= 0.0) && v.iter().any(|&x| x > 0.0));

    let text = resume_error(&path, config(&tmp("adam-as-sgd.safetensors")), 8);
    assert!(
        text.contains("Adam state") && text.contains("SGD"),
        "{text}"
    );

    let sgd_path = tmp("sgd-as-adam.safetensors");
    stopped_after(2, config(&sgd_path));
    let text = resume_error(
        &sgd_path,
        adam_config(&tmp("sgd-as-adam-out.safetensors")),
        8,
    );
    assert!(text.contains("no Adam state"), "{text}");
}

#[test]
fn resuming_with_other_loader_settings_lists_each_difference() {
    let path = tmp("settings.safetensors");
    let net = stopped_after(2, config(&path));
    let text = resume_error(&path, config(&path), 16);
    assert!(
        text.contains("data.batch_size: checkpoint 8, loader 16")
            && text.contains("settings.safetensors"),
        "{text}"
    );
    // Other augmentation: the checkpoint of a run without it names the difference.
    let mut other = Small::new(&cubenet::default_device(), 8, 1).unwrap();
    let flip = RandomHorizontalFlip::default().into();
    let flipped = loader(8).with_transforms(vec![flip]).unwrap();
    let cfg = TrainConfig {
        resume: Some(path.clone()),
        ..config(&path)
    };
    let text = fit(&mut other, &flipped, None, &cfg)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("data.transforms: checkpoint [], loader [RandomHorizontalFlip"),
        "{text}"
    );
    // A weights-only file is not a training checkpoint.
    let weights = tmp("weights-only.safetensors");
    cubenet::checkpoint::save(&weights, &net.state_dict().unwrap()).unwrap();
    let text = resume_error(&weights, config(&path), 8);
    assert!(text.contains("not a training checkpoint"), "{text}");
}

/// A NaN injected into the last layer's bias after step 3 stops the run at step 4 with an
/// error naming it; the checkpoint written after every step still holds step 3's finite
/// weights.
#[test]
fn an_injected_nan_stops_training_and_the_last_checkpoint_is_finite() {
    let device = cubenet::default_device();
    let path = tmp("nan.safetensors");
    let train = loader(8);
    let mut net = stopped_after(
        3,
        TrainConfig {
            checkpoint_every: 1,
            ..config(&path)
        },
    );
    let good = net.state().read_params().unwrap();

    let mut poisoned = good.clone();
    let bias = Small::LAYOUT
        .params
        .iter()
        .find(|p| p.name == "fc2.bias")
        .unwrap();
    poisoned[bias.offset + 1] = f32::NAN;
    net.state_mut().write_params(&poisoned).unwrap();
    let cfg = TrainConfig {
        checkpoint_every: 1,
        ..config(&path)
    };
    let err = fit(&mut net, &train, None, &cfg).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                epoch: 1,
                step: 4,
                batch: 0,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("non-finite loss NaN at epoch 1, step 4 (batch 0)"),
        "{text}"
    );

    let (saved, meta) = cubenet::checkpoint::load_with_metadata(&path).unwrap();
    assert_eq!(meta.get("steps").map(String::as_str), Some("3"));
    assert!(saved.iter().all(|t| t.data.iter().all(|v| v.is_finite())));
    let restored = {
        let mut n = Small::new(&device, 8, 2).unwrap();
        n.load_state_dict(
            &saved
                .into_iter()
                .filter(|t| !t.name.starts_with("optimizer."))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        n.state().read_params().unwrap()
    };
    assert_eq!(
        restored, good,
        "the checkpoint is not the state after step 3"
    );
}

/// An absurd learning rate overflows within a few steps: the run stops at the first
/// non-finite loss or gradient, and the checkpoint on disk stays finite.
#[test]
fn a_diverging_run_keeps_a_finite_checkpoint() {
    let device = cubenet::default_device();
    let path = tmp("diverge.safetensors");
    let mut net = Small::new(&device, 8, 1).unwrap();
    let cfg = TrainConfig {
        checkpoint_every: 1,
        ..TrainConfig {
            checkpoint: Some(path.clone()),
            ..TrainConfig::new(5, Sgd::new(1e30))
        }
    };
    let err = fit(&mut net, &loader(8), None, &cfg).unwrap_err();
    let text = err.to_string();
    match &err {
        Error::NonFinite { step, .. } | Error::NonFiniteGradient { step, .. } => {
            assert!(
                *step >= 1 && text.contains(&format!("step {step}")),
                "{text}"
            )
        }
        other => panic!("expected a non-finite error, got {other}"),
    }
    if path.exists() {
        let saved = cubenet::checkpoint::load(&path).unwrap();
        assert!(saved.iter().all(|t| t.data.iter().all(|v| v.is_finite())));
    }
}
