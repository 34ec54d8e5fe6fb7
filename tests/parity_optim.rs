//! PyTorch parity of Adam, AdamW, gradient clipping by global norm (with SGD and with Adam) and
//! the learning-rate schedules, through the public API of a whole `#[network]`.
//!
//! For every optimizer case: the logits of a batch at PyTorch's initial weights, the loss and
//! every parameter gradient, then two `train_step_with` steps on two batches (the loss before
//! each, every parameter after each; for the clip cases the total norm `clip_grad_norm_`
//! returned; for Adam the moments after step 2). Expected values:
//! `tests/fixtures/optim_cases.safetensors`, written by `scripts/adam_fixture.py` with PyTorch
//! 2.15 on the CPU (float32; Adam with `foreach=False`). Tolerance `1e-5 * max(1, |expected|)`
//! (the moments: relative to the tensor's largest value, see `check_case`).
mod common;

use common::*;
use cubenet::optim::clip_coefficient;
use cubenet::prelude::*;

const TOL: f32 = 1e-5;

fn fixture() -> Fixture {
    Fixture::load("optim_cases.safetensors")
}

#[network(input = [1, 6, 6])]
pub struct OptNet {
    #[layer(padding = 1)]
    conv: Conv2d<1, 3, 3>,
    relu1: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<27, 8>,
    relu2: Relu,
    fc2: Linear<8, 3>,
}

/// Runs case `case` with `optimizer` and `clip` (see `common::parity`): the logits, loss and
/// gradients of batch 1, then two steps, each changing every parameter in PyTorch; with `clip`,
/// before each step, the total norm `clip_grad_norm_` returns (and it must clip); with Adam,
/// the moments after step 2. Prints the largest relative error of the parameters after step 2.
fn check_case(case: &str, optimizer: Optimizer, clip: Option<f32>) {
    let fx = fixture();
    let parity = Parity::<OptNet>::new(&fx, case, TOL)
        .logits("logits")
        .gradients("loss1")
        .steps([optimizer; 2])
        .clip(clip)
        .every_param_moves()
        .before_step(move |want, k, net, x, y| {
            if let Some(max_norm) = clip {
                // The norm the step will clip by, from the unclipped gradients of this batch.
                net.compute_gradients(x, y).unwrap();
                let flat = net.state().read_grads().unwrap();
                let (total, coef) = clip_coefficient(&flat, OptNet::LAYOUT.params, max_norm);
                want.values(
                    &format!("step {k}: total norm"),
                    &[total],
                    &format!("total_norm{k}"),
                );
                assert!(
                    coef < 1.0,
                    "{case} step {k}: the case must clip (coef {coef})"
                );
            }
        });
    let net = parity.run();
    if let Optimizer::Adam(_) = optimizer {
        let (m, v, step) = net.state().read_adam_state().unwrap().expect("Adam state");
        assert_eq!(step, 2);
        for (what, flat) in [("exp_avg", m), ("exp_avg_sq", v)] {
            for p in OptNet::LAYOUT.params {
                let want = parity.want.f32(&format!("{what}.{}", p.name));
                // Moments are small numbers (v ~ g^2): judged against the tensor's largest.
                let scale = want.iter().fold(0f32, |a, &b| a.max(b.abs()));
                let got: Vec<f32> = flat[p.offset..p.offset + p.numel()]
                    .iter()
                    .map(|x| x / scale)
                    .collect();
                let want: Vec<f32> = want.iter().map(|x| x / scale).collect();
                assert_close(&format!("{case}: {what} of {}", p.name), &got, &want, TOL);
            }
        }
    }
    let mut worst = 0f64;
    for (name, got) in params(&net) {
        for (a, b) in got.iter().zip(&parity.want.f32(&format!("step2.{name}"))) {
            worst = worst.max((a - b).abs() as f64 / (b.abs() as f64).max(1.0));
        }
    }
    eprintln!("{case}: largest relative parameter error after step 2: {worst:.2e}");
}

#[test]
fn adam_matches_pytorch() {
    check_case("adam", Adam::new(0.01).into(), None);
}

#[test]
fn adam_with_l2_weight_decay_matches_pytorch() {
    check_case(
        "adam_l2",
        Adam::new(0.01).with_weight_decay(0.1).into(),
        None,
    );
}

#[test]
fn adamw_matches_pytorch() {
    check_case(
        "adamw",
        Adam::adamw(0.01).with_weight_decay(0.1).into(),
        None,
    );
}

#[test]
fn sgd_with_gradient_clipping_matches_pytorch() {
    check_case(
        "sgd_clip",
        Sgd::new(0.1).with_momentum(0.9).into(),
        Some(0.3),
    );
}

#[test]
fn adam_with_gradient_clipping_matches_pytorch() {
    check_case(
        "adam_clip",
        Adam::new(0.01).with_betas(0.8, 0.99).into(),
        Some(0.3),
    );
}

/// `x` within `1e-12 * max(1, |want|)` of PyTorch's schedulers' `get_last_lr()`.
fn assert_schedule(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: epoch {t}: {g} but PyTorch gives {w}"
        );
    }
}

#[test]
fn schedules_match_pytorch() {
    let fx = fixture();
    let want = fx.f64("sched.step_lr");
    let s = StepLr {
        step_size: 2,
        gamma: 0.5,
    };
    let got: Vec<f64> = (0..want.len()).map(|e| s.lr(0.1, e) as f64).collect();
    // StepLr computes in f32 (SGD's rate): within f32 rounding of torch's f64.
    for (e, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-7 * w, "StepLR epoch {e}: {g} vs {w}");
    }

    let want = fx.f64("sched.cosine");
    let c = CosineAnnealingLr {
        t_max: 5,
        eta_min: 0.001,
        per_step: false,
    };
    let got: Vec<f64> = (0..want.len() as u64).map(|t| c.lr(0.1, t)).collect();
    assert_schedule(
        "CosineAnnealingLR (closed form vs torch's recursion)",
        &got,
        &want,
    );

    for (key, w) in [
        ("sched.linear", LinearLr::warmup(0.25, 4)),
        (
            "sched.linear_down",
            LinearLr {
                start_factor: 1.0,
                end_factor: 0.5,
                total_iters: 3,
            },
        ),
    ] {
        let want = fx.f64(key);
        let got: Vec<f64> = (0..want.len() as u64).map(|t| 0.1 * w.factor(t)).collect();
        assert_schedule(key, &got, &want);
    }
}

/// `fit` applies the schedules per step: a run of `fit` with AdamW, clipping, a per-step
/// cosine and a warm-up ends bitwise where hand-made `train_step_with` calls end, each with
/// the learning rate PyTorch's schedulers give (`sched.linear` times the cosine).
#[test]
fn fit_uses_the_scheduled_rate_of_every_step() {
    use std::sync::Arc;
    let fx = fixture();
    let (x, y) = (fx.f32("adam.x1"), fx.labels("adam.y1"));
    let images: Vec<u8> = x
        .iter()
        .map(|v| (v.abs() * 40.0).min(255.0) as u8)
        .collect();
    let labels: Vec<u8> = y.iter().map(|&l| l as u8).collect();
    // 4 samples, batches of 2, no shuffle: 2 steps per epoch, 3 epochs.
    let ds = Dataset::from_raw(images, labels, [1, 6, 6], 3).unwrap();
    let loader = DataLoader::new(Arc::new(ds), 2, false, false, Normalize::identity(1), 0).unwrap();
    let adamw = Adam::adamw(0.1);
    let cosine = CosineAnnealingLr {
        t_max: 5,
        eta_min: 0.001,
        per_step: true,
    };
    let warmup = LinearLr::warmup(0.25, 4);
    let cfg = TrainConfig {
        clip_grad_norm: Some(0.5),
        cosine: Some(cosine),
        warmup: Some(warmup),
        ..TrainConfig::new(3, adamw)
    };
    let mut a = OptNet::new(&device(), 2, 7).unwrap();
    fit(&mut a, &loader, None, &cfg).unwrap();

    let (cos, lin) = (fx.f64("sched.cosine"), fx.f64("sched.linear"));
    let mut b = OptNet::new(&device(), 2, 7).unwrap();
    let mut step = 0;
    for epoch in 1..=3u64 {
        for batch in loader.epoch(epoch) {
            // cosine(0.1, t) * warmup(t) / 0.1, both from PyTorch (base lr 0.1).
            let lr = cos[step] * lin[step] / 0.1;
            let opt: Optimizer = Adam { lr, ..adamw }.into();
            b.train_step_with(&batch.images, &batch.labels, &opt, Some(0.5))
                .unwrap();
            step += 1;
        }
    }
    let bits = |n: &OptNet| -> Vec<u32> {
        n.state()
            .read_params()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    };
    assert_eq!(step, 6);
    // The rates agree to ~1e-16, so after rounding to the kernels' f32 the runs agree
    // bitwise unless a rate falls on a rounding boundary; then within 1e-6.
    let (pa, pb) = (
        a.state().read_params().unwrap(),
        b.state().read_params().unwrap(),
    );
    eprintln!(
        "fit vs hand-scheduled steps bitwise equal: {}",
        bits(&a) == bits(&b)
    );
    if bits(&a) != bits(&b) {
        assert_close("fit vs hand-scheduled steps", &pa, &pb, 1e-6);
    }
    assert_ne!(
        pa,
        OptNet::new(&device(), 2, 7)
            .unwrap()
            .state()
            .read_params()
            .unwrap()
    );
}

#[test]
fn invalid_adam_clip_and_schedule_values_are_configuration_errors() {
    use cubenet::Error;
    let fx = fixture();
    let (x, y) = (fx.f32("adam.x1"), fx.labels("adam.y1"));
    let mut net = OptNet::new(&device(), 4, 0).unwrap();
    for (opt, clip, names) in [
        (Adam::new(-1.0).into(), None, "lr"),
        (Adam::new(0.1).with_betas(1.0, 0.9).into(), None, "betas.0"),
        (Adam::new(0.1).with_eps(f64::NAN).into(), None, "eps"),
        (Adam::new(0.1).with_amsgrad(true).into(), None, "amsgrad"),
        (Adam::new(0.1).into(), Some(0.0), "clip_grad_norm"),
        (Sgd::new(0.1).into(), Some(f32::INFINITY), "clip_grad_norm"),
    ] {
        let opt: Optimizer = opt;
        match net.train_step_with(&x, &y, &opt, clip) {
            Err(Error::Config(msg)) => assert!(msg.contains(names), "{msg}"),
            other => panic!("{opt:?} {clip:?}: expected a configuration error, got {other:?}"),
        }
    }
    assert_eq!(net.state().steps(), 0, "a rejected step must not run");
}

/// SGD through the separate update pass (`clip_grad_norm` so large that it never clips) and
/// SGD fused into the weight-gradient kernels give the same parameters (same per-element
/// update on the same gradient values).
#[test]
fn the_sgd_pass_agrees_with_the_fused_sgd_update() {
    let fx = fixture();
    let sgd = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(1e-3);
    let run = |clip: Option<f32>| {
        let mut net = OptNet::new(&device(), 4, 0).unwrap();
        net.load_state_dict(&fx.state("sgd_clip.init.")).unwrap();
        for k in 1..=2 {
            let (x, y) = (
                fx.f32(&format!("sgd_clip.x{k}")),
                fx.labels(&format!("sgd_clip.y{k}")),
            );
            net.train_step_with(&x, &y, &sgd.into(), clip).unwrap();
        }
        net.state().read_params().unwrap()
    };
    let (fused, pass) = (run(None), run(Some(1e30)));
    let same = fused
        .iter()
        .zip(&pass)
        .filter(|(a, b)| a.to_bits() == b.to_bits())
        .count();
    eprintln!(
        "sgd pass vs fused: {same} of {} parameters bitwise equal",
        fused.len()
    );
    assert_close("sgd pass vs fused", &pass, &fused, 1e-7);
}
