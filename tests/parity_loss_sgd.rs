//! PyTorch parity of softmax cross-entropy (issue case P3 and more members of its kind), SGD
//! (P4, a second member on a conv network, and the configuration errors) and short batches
//! (P7 and a loader-driven second member), through the public API of whole `#[network]`s.
//!
//! A network made of `Flatten` and a `Linear` with the identity weight has its input as
//! logits, so the loss cases feed logits directly; with one row per batch the gradient of
//! `fc.bias` is that row's d(loss)/d(logits).
//!
//! Expected values: the issue's numbers (quoted at each test) and
//! `tests/fixtures/network_cases.safetensors`, written by `scripts/network_cases.py` with
//! PyTorch 2.15 on the CPU in float32 (`F.cross_entropy`, `torch.optim.SGD`). Tolerance
//! `1e-5 * max(1, |expected|)` unless a test says otherwise.
mod common;

use std::sync::Arc;

use common::*;
use cubenet::prelude::*;
use cubenet::Error;

const TOL: f32 = 1e-5;

fn fixture() -> Fixture {
    Fixture::load("network_cases.safetensors")
}

/// Rows `r` of a row-major matrix with `cols` columns.
fn row(v: &[f32], cols: usize, r: usize) -> &[f32] {
    &v[r * cols..(r + 1) * cols]
}

fn all_finite(what: &str, v: &[f32]) {
    assert!(v.iter().all(|x| x.is_finite()), "{what}: not finite: {v:?}");
}

/// Scale of each element of an identity head's weight gradient `sum_n dz[n][o] * x[n][i]`:
/// `sum_n |dz[n][o] * x[n][i]|` (for sums whose huge terms cancel).
fn weight_grad_scale(dz: &[f32], x: &[f32], classes: usize) -> Vec<f64> {
    let n = dz.len() / classes;
    let mut s = vec![0f64; classes * classes];
    for r in 0..n {
        for o in 0..classes {
            for i in 0..classes {
                s[o * classes + i] +=
                    (dz[r * classes + o] as f64 * x[r * classes + i] as f64).abs();
            }
        }
    }
    s
}

/// A cross-entropy case on an identity head (`classes` logits = inputs): per-row losses
/// (one-row `evaluate`s) and per-row gradients (one-row `compute_gradients`, whose `fc.bias`
/// gradient is the row's d(loss)/d(logits) = `n *` PyTorch's d(mean)/d(logits)), then the
/// whole batch: mean, sum, logits and every gradient (with `cancels`, the weight gradient is
/// judged against the size of its terms, see [`weight_grad_scale`]). Returns the net.
fn ce_case<N: Network>(case: &str, fx: &Fixture, classes: usize, cap: usize, cancels: bool) -> N {
    let mut net = N::new(&device(), cap, 0).unwrap();
    net.load_state_dict(&fx.state(&format!("{case}.init.")))
        .unwrap();
    let (x, y) = (
        fx.f32(&format!("{case}.x")),
        fx.labels(&format!("{case}.y")),
    );
    let (rows, dz) = (
        fx.f32(&format!("{case}.row_loss")),
        fx.f32(&format!("{case}.grad_logits")),
    );
    let n = y.len();
    for r in 0..n {
        let xr = row(&x, classes, r);
        let (_, loss) = net.evaluate(xr, &y[r..r + 1]).unwrap();
        assert_close(
            &format!("{case}: row {r} loss"),
            &[loss as f32],
            &rows[r..r + 1],
            TOL,
        );
        let mean = net.compute_gradients(xr, &y[r..r + 1]).unwrap();
        assert_close(
            &format!("{case}: row {r} loss (compute_gradients)"),
            &[mean],
            &rows[r..r + 1],
            TOL,
        );
        let want: Vec<f32> = row(&dz, classes, r).iter().map(|g| g * n as f32).collect();
        assert_close(
            &format!("{case}: row {r} d(loss)/d(logits)"),
            &grads(&net)["fc.bias"],
            &want,
            TOL,
        );
    }
    assert_close(
        &format!("{case}: logits"),
        &net.forward(&x).unwrap(),
        &fx.f32(&format!("{case}.logits")),
        TOL,
    );
    let mean = net.compute_gradients(&x, &y).unwrap();
    assert_close(
        &format!("{case}: mean loss"),
        &[mean],
        &fx.f32(&format!("{case}.loss")),
        TOL,
    );
    let g = grads(&net);
    all_finite("fc.weight grad", &g["fc.weight"]);
    assert_close(
        &format!("{case}: fc.bias grad"),
        &g["fc.bias"],
        &fx.f32(&format!("{case}.grad.fc.bias")),
        TOL,
    );
    let want: Vec<f64> = fx
        .f32(&format!("{case}.grad.fc.weight"))
        .iter()
        .map(|&v| v as f64)
        .collect();
    let scale = if cancels {
        weight_grad_scale(&dz, &x, classes)
    } else {
        vec![0.0; want.len()]
    };
    assert_close_scaled(
        &format!("{case}: fc.weight grad"),
        &g["fc.weight"],
        &want,
        &scale,
        TOL as f64,
    );
    let (_, sum) = net.evaluate(&x, &y).unwrap();
    let want_sum: f64 = rows.iter().map(|&v| v as f64).sum();
    assert_close_f64(
        &format!("{case}: loss sum"),
        &[sum as f32],
        &[want_sum],
        1e-5,
    );
    net
}

#[network(input = [3, 1, 1])]
pub struct Head3 {
    flatten: Flatten,
    fc: Linear<3, 3>,
}

/// P3: logits [1e4,0,-1e4]/target 0, [1e4,0,-1e4]/2, [-1e4,-1e4,-1e4]/1, [1e8,1e8,-1e8]/1,
/// [100,0,-100]/1 -> per row [0, 20000, 1.09861, 0.693147, 100], mean 4020.36 (the issue;
/// PyTorch float32 gives 4020.35815): max-subtracted log-sum-exp, nothing infinite or NaN.
#[test]
#[allow(clippy::approx_constant)] // 0.693147 is the issue's quoted value (ln 2)
fn p3_cross_entropy_huge_logits() {
    let fx = fixture();
    let x = [
        1e4, 0., -1e4, 1e4, 0., -1e4, -1e4, -1e4, -1e4, 1e8, 1e8, -1e8, 100., 0., -100.,
    ];
    assert_eq!(fx.f32("p3.x"), x, "fixture input");
    assert_eq!(fx.labels("p3.y"), [0, 2, 1, 1, 1]);
    let mut net: Head3 = ce_case("p3", &fx, 3, 5, false);
    let y = [0, 2, 1, 1, 1];
    let issue = [0.0, 20000.0, 1.09861, 0.693147, 100.0];
    for r in 0..5 {
        let (_, loss) = net.evaluate(&x[3 * r..3 * r + 3], &y[r..r + 1]).unwrap();
        assert_close(&format!("row {r}"), &[loss as f32], &issue[r..r + 1], TOL);
    }
    let mean = net.compute_gradients(&x, &y).unwrap();
    assert_close("mean", &[mean], &[4020.36], TOL);
    // Only row 0 is right: rows 2 and 3 tie, and the first maximum (class 0) is the
    // prediction, as torch.argmax.
    let (correct, sum) = net.evaluate(&x, &y).unwrap();
    assert_eq!(correct, 1);
    assert_close("sum", &[sum as f32], &[5.0 * 4020.36], TOL);
    // A training step on these logits stays finite.
    let before = net.state_dict().unwrap();
    let loss = net.train_step(&x, &y, &Sgd::new(1e-9)).unwrap();
    assert_close("train_step loss", &[loss], &[4020.36], TOL);
    for t in net.state_dict().unwrap() {
        all_finite(&t.name, &t.data);
    }
    assert_ne!(
        before,
        net.state_dict().unwrap(),
        "the step updated nothing"
    );
}

/// P3 (errors): a label >= classes is an error naming the sample, from every entry point,
/// before anything runs: no step is counted, no parameter changes, and the next valid call
/// computes the right values.
#[test]
fn p3_label_out_of_range_is_an_error_naming_the_sample() {
    let fx = fixture();
    let mut net = Head3::new(&device(), 5, 0).unwrap();
    net.load_state_dict(&fx.state("p3.init.")).unwrap();
    let x = fx.f32("p3.x");
    let before = net.state_dict().unwrap();
    let cases: [(&[u32], usize, u32); 4] = [
        (&[0, 3, 1, 1, 1], 1, 3),               // the issue: label = classes
        (&[3, 0, 0, 0, 0], 0, 3),               // the first row
        (&[0, 0, 0, 0, u32::MAX], 4, u32::MAX), // the last row, the largest u32
        (&[0, 1, 2, 7, 9], 3, 7),               // the first bad one is named
    ];
    for (labels, sample, label) in cases {
        let sgd = Sgd::new(0.1).with_momentum(0.9);
        let results = [
            ("train_step", net.train_step(&x, labels, &sgd).map(|_| ())),
            (
                "compute_gradients",
                net.compute_gradients(&x, labels).map(|_| ()),
            ),
            ("evaluate", net.evaluate(&x, labels).map(|_| ())),
        ];
        for (what, r) in results {
            match r {
                Err(Error::Label {
                    sample: s,
                    label: l,
                    classes: 3,
                }) if s == sample && l == label => {}
                other => panic!(
                    "{what} {labels:?}: expected a label error for sample {sample}, got {other:?}"
                ),
            }
        }
        let msg = net.evaluate(&x, labels).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("sample {sample}")) && msg.contains(&label.to_string()),
            "{msg}"
        );
    }
    // A short batch (2 of 5 rows) with its second label out of range.
    match net.compute_gradients(&x[..6], &[0, 5]) {
        Err(Error::Label {
            sample: 1,
            label: 5,
            classes: 3,
        }) => {}
        other => panic!("short batch: {other:?}"),
    }
    assert_eq!(net.state().steps(), 0, "a rejected step was counted");
    assert_eq!(
        before,
        net.state_dict().unwrap(),
        "a rejected call changed the parameters"
    );
    let mean = net.compute_gradients(&x, &fx.labels("p3.y")).unwrap();
    assert_close("after the errors", &[mean], &fx.f32("p3.loss"), TOL);
}

#[network(input = [5, 1, 1])]
pub struct Head5 {
    flatten: Flatten,
    fc: Linear<5, 5>,
}

/// P3b (second member): random logits (torch.randn * 3, seed 404), 4 rows, 5 classes (P3b of
/// scripts/op_cases.py, in float32); capacity 6.
#[test]
fn p3b_cross_entropy_random_logits() {
    let _: Head5 = ce_case("p3b", &fixture(), 5, 6, false);
}

/// P3c (third member): logits near the float32 limits, where a naive exp overflows on every
/// row: [1e38,-1e38,0]/1 -> 2e38, [1e7,1e7+1,1e7]/1 -> ln(2+e)-1 = 0.551445,
/// [-3e38,-3e38,-3e38]/2 -> ln 3, [5e37,0,-5e37]/0 -> 0 (hand computation; PyTorch agrees).
/// The weight gradient sums terms of size 1e37 that cancel: it is judged against their size.
#[test]
fn p3c_cross_entropy_near_float_limits() {
    let fx = fixture();
    let _: Head3 = ce_case("p3c", &fx, 3, 4, true);
    let hand = [2e38, (2.0 + std::f64::consts::E).ln() - 1.0, 3f64.ln(), 0.0];
    assert_close_f64("hand values", &fx.f32("p3c.row_loss"), &hand, 1e-5);
}

#[network(input = [2, 1, 1])]
pub struct P4Bias {
    flatten: Flatten,
    fc: Linear<2, 2>,
}

/// P4: SGD with momentum 0.9 on a scalar p = 1 with gradients 1, 0.5, -0.25 and lr 0.1, 0.1,
/// 0.01 -> 0.9, 0.76, 0.7499; with dampening 0.5 -> 0.9, 0.785, 0.7759; Nesterov -> 0.81,
/// 0.634, 0.62741 (the issue; PyTorch agrees, P4_sgd_momentum of scripts/op_cases.py).
/// The scalar is `fc.bias[0]` of a Linear(2, 2) whose batches make its gradient exactly
/// 1, 0.5, -0.25 (`p4_bias` in scripts/network_cases.py explains how); the gradient is
/// checked with `compute_gradients` before each step, which must not disturb the momentum.
/// Every parameter and loss is also compared with PyTorch's run of the same network.
#[test]
fn p4_sgd_momentum_dampening_nesterov() {
    let fx = fixture();
    let lrs = [0.1, 0.1, 0.01];
    let grads_b0 = [1.0, 0.5, -0.25];
    let variants: [(&str, Sgd, [f32; 3]); 3] = [
        (
            "momentum",
            Sgd::new(0.1).with_momentum(0.9),
            [0.9, 0.76, 0.7499],
        ),
        (
            "dampening",
            Sgd::new(0.1).with_momentum(0.9).with_dampening(0.5),
            [0.9, 0.785, 0.7759],
        ),
        (
            "nesterov",
            Sgd::new(0.1).with_momentum(0.9).with_nesterov(true),
            [0.81, 0.634, 0.62741],
        ),
    ];
    for (variant, sgd, issue) in variants {
        let net = Parity::<P4Bias>::new(&fx, &format!("p4_bias.{variant}"), TOL)
            .batches("p4_bias")
            .steps(lrs.map(|lr| Sgd { lr, ..sgd }))
            .before_step(|_, k, net, x, y| {
                if k == 1 {
                    assert_eq!(params(net)["fc.bias"][0], 1.0);
                }
                net.compute_gradients(x, y).unwrap();
                assert_close(
                    &format!("{variant} step {k}: gradient"),
                    &grads(net)["fc.bias"][..1],
                    &grads_b0[k - 1..k],
                    TOL,
                );
            })
            .after_step(|_, k, net| {
                assert_close(
                    &format!("{variant} step {k}: p"),
                    &params(net)["fc.bias"][..1],
                    &issue[k - 1..k],
                    TOL,
                );
            })
            .run();
        assert_eq!(net.state().steps(), 3);
    }
}

#[network(input = [1, 6, 6])]
pub struct SgdNet {
    conv: Conv2d<1, 2, 3>,
    relu1: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<8, 4>,
    relu2: Relu,
    fc2: Linear<4, 3>,
}

/// P4b (second member): SGD on every parameter of a conv -> relu -> pool -> linear -> relu ->
/// linear network (the update is fused into three different kernels), three batches of 4,
/// lr 0.1, 0.1, 0.01, with weight decay, momentum, dampening and Nesterov combined; the loss
/// of each step and every parameter after it against `torch.optim.SGD` (`p4_net` in
/// scripts/network_cases.py).
#[test]
fn p4b_sgd_weight_decay_on_a_conv_network() {
    let fx = fixture();
    let lrs = [0.1, 0.1, 0.01];
    let variants = [
        ("plain", Sgd::new(0.1)),
        (
            "momentum_wd",
            Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.1),
        ),
        (
            "dampening_wd",
            Sgd::new(0.1)
                .with_momentum(0.5)
                .with_dampening(0.3)
                .with_weight_decay(0.01),
        ),
        (
            "nesterov_wd",
            Sgd::new(0.1)
                .with_momentum(0.8)
                .with_nesterov(true)
                .with_weight_decay(0.05),
        ),
    ];
    for (variant, sgd) in variants {
        Parity::<SgdNet>::new(&fx, &format!("p4_net.{variant}"), TOL)
            .batches("p4_net")
            .steps(lrs.map(|lr| Sgd { lr, ..sgd }))
            .run();
    }
}

/// P4 (errors): lr <= 0 or NaN, momentum outside [0, 1), nesterov with zero momentum or
/// non-zero dampening (the issue), and dampening outside [0, 1] or negative / NaN weight
/// decay, are configuration errors naming the value, from `Sgd::validate`, `train_step` and
/// `trainer::fit`, before anything runs.
#[test]
fn p4_invalid_sgd_settings_are_configuration_errors() {
    let base = Sgd::new(0.1);
    let bad: [(Sgd, &str); 16] = [
        (Sgd::new(0.0), "lr"),
        (Sgd::new(-0.1), "lr"),
        (Sgd::new(f32::NAN), "lr"),
        (Sgd::new(f32::INFINITY), "lr"),
        (base.with_momentum(-0.1), "momentum"),
        (base.with_momentum(1.0), "momentum"),
        (base.with_momentum(1.5), "momentum"),
        (base.with_momentum(f32::NAN), "momentum"),
        (base.with_nesterov(true), "Nesterov"),
        (
            base.with_momentum(0.9)
                .with_dampening(0.5)
                .with_nesterov(true),
            "Nesterov",
        ),
        (base.with_momentum(0.9).with_dampening(-0.1), "dampening"),
        (base.with_momentum(0.9).with_dampening(1.5), "dampening"),
        (
            base.with_momentum(0.9).with_dampening(f32::NAN),
            "dampening",
        ),
        (base.with_weight_decay(-0.01), "weight_decay"),
        (base.with_weight_decay(f32::NAN), "weight_decay"),
        (base.with_weight_decay(f32::INFINITY), "weight_decay"),
    ];
    let fx = fixture();
    let mut net = P4Bias::new(&device(), 4, 0).unwrap();
    let before = net.state_dict().unwrap();
    let (x, y) = (fx.f32("p4_bias.x1"), fx.labels("p4_bias.y1"));
    let ds =
        Arc::new(cubenet::data::Dataset::from_raw(vec![0; 8], vec![0; 4], [2, 1, 1], 2).unwrap());
    let loader = DataLoader::new(ds, 4, false, false, Normalize::identity(2), 0).unwrap();
    for (sgd, names) in bad {
        for (what, r) in [
            ("validate", sgd.validate()),
            ("train_step", net.train_step(&x, &y, &sgd).map(|_| ())),
            (
                "fit",
                fit(&mut net, &loader, None, &TrainConfig::new(1, sgd)).map(|_| ()),
            ),
        ] {
            match r {
                Err(Error::Config(msg)) => assert!(msg.contains(names), "{what} {sgd:?}: {msg}"),
                other => panic!("{what} {sgd:?}: expected a configuration error, got {other:?}"),
            }
        }
    }
    assert_eq!(net.state().steps(), 0, "a rejected step was counted");
    assert_eq!(
        before,
        net.state_dict().unwrap(),
        "a rejected step changed the parameters"
    );
    // The edges of the valid ranges are accepted.
    for ok in [
        base.with_momentum(0.0),
        base.with_momentum(0.999),
        base.with_momentum(0.5).with_dampening(1.0),
        base.with_momentum(0.9).with_nesterov(true),
        base.with_weight_decay(0.0),
        Sgd::new(f32::MIN_POSITIVE),
    ] {
        assert!(ok.validate().is_ok(), "{ok:?}");
    }
}

#[network(input = [5, 1, 1])]
pub struct P7Net {
    flatten: Flatten,
    fc: Linear<5, 3>,
}

/// P7: in a network of capacity 4, after a full batch of 4, a last batch of 2 rows with
/// logits [[2,0,0],[0,1,0]] and targets [0,2] -> loss 0.895495 (divided by 2, not 4), grad
/// [[-0.106507,0.0532535,0.0532535],[0.105971,0.288058,-0.394029]] (the issue). Inputs 3 and 4
/// flag the rows, so `fc.weight`'s gradient column 3 + r is row r's gradient.
#[test]
fn p7_short_batch_divides_by_its_own_size() {
    let fx = fixture();
    // A full batch first, so that stale rows 2 and 3 would show if the short batch read them.
    let mut net = Parity::<P7Net>::new(&fx, "p7_full", TOL)
        .init("p7")
        .same_batch()
        .gradients("loss")
        .run();

    let x = [2., 0., 0., 1., 0., 0., 1., 0., 0., 1.];
    assert_eq!(fx.f32("p7.x"), x);
    let y = [0, 2];
    let loss = net.compute_gradients(&x, &y).unwrap();
    assert_close("P7 loss", &[loss], &[0.895495], TOL);
    let issue = [
        [-0.106507, 0.0532535, 0.0532535],
        [0.105971, 0.288058, -0.394029],
    ];
    let g = grads(&net);
    let w = &g["fc.weight"];
    for (r, want) in issue.iter().enumerate() {
        let col: Vec<f32> = (0..3).map(|o| w[o * 5 + 3 + r]).collect();
        assert_close(&format!("P7 row {r} gradient"), &col, want, TOL);
    }
    let col_sum: Vec<f32> = (0..3).map(|o| issue[0][o] + issue[1][o]).collect();
    assert_close("P7 bias gradient", &g["fc.bias"], &col_sum, TOL);
    Expected::new(&fx, "p7", TOL).grads("short batch", &net, "grad.");
    let (correct, sum) = net.evaluate(&x, &y).unwrap();
    assert_eq!(correct, 1, "row 0 is right, row 1 predicts class 1");
    assert_close("P7 loss sum", &[sum as f32], &[2.0 * 0.895495], TOL);
    // One plain SGD step on the short batch: p -= 0.1 * grad (hand computation).
    let before = params(&net);
    let loss = net.train_step(&x, &y, &Sgd::new(0.1)).unwrap();
    assert_close("P7 train_step loss", &[loss], &[0.895495], TOL);
    for (name, got) in params(&net) {
        let want: Vec<f32> = before[&name]
            .iter()
            .zip(&g[&name])
            .map(|(p, g)| p - 0.1 * g)
            .collect();
        assert_close(&format!("P7 step {name}"), &got, &want, TOL);
    }
}

#[network(input = [1, 4, 4])]
pub struct LoaderNet {
    conv: Conv2d<1, 2, 3>,
    relu: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<2, 3>,
}

/// P7b (second member): 11 samples through the `DataLoader`, batch 4 in file order: batches
/// of 4, 4 and a short 3, normalised as (byte / 255 - 0.5) / 0.25, trained with SGD (lr 0.1,
/// momentum 0.9) on a conv network of capacity 4: every batch, loss and parameter as
/// PyTorch (`p7_loader` in scripts/network_cases.py); `trainer::fit` gives the same; with
/// `drop_last` the short batch is skipped.
#[test]
fn p7b_short_last_batch_of_three_through_the_loader() {
    let fx = fixture();
    let (bytes, labels) = (fx.bytes("p7_loader.bytes"), fx.labels("p7_loader.labels"));
    let labels: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
    let ds = Arc::new(cubenet::data::Dataset::from_raw(bytes, labels, [1, 4, 4], 3).unwrap());
    let norm = Normalize {
        mean: vec![0.5],
        std: vec![0.25],
    };
    let sgd = Sgd::new(0.1).with_momentum(0.9);
    let parity = Parity::<LoaderNet>::new(&fx, "p7_loader.momentum", TOL)
        .batches("p7_loader")
        .steps([sgd; 3]);
    let want = &parity.want;

    // The loader's batches are PyTorch's (bitwise), so the steps on them are the fixture's.
    let loader = DataLoader::new(Arc::clone(&ds), 4, false, false, norm.clone(), 0).unwrap();
    assert_eq!(loader.num_batches(), 3);
    let batches: Vec<Batch> = loader.epoch(0).collect();
    assert_eq!(batches.iter().map(|b| b.len).collect::<Vec<_>>(), [4, 4, 3]);
    for (k, batch) in (1..).zip(&batches) {
        let (x, y) = parity.batch(k);
        assert_eq!(batch.images, x, "batch {k} images");
        assert_eq!(batch.labels, y, "batch {k} labels");
    }
    parity.run();

    // trainer::fit over the same epoch (no shuffling) takes the same three steps.
    let mut net = parity.network();
    let cfg = TrainConfig::new(1, sgd);
    let report = fit(&mut net, &loader, None, &cfg).unwrap();
    let mean: f64 = (1..=3)
        .map(|k| want.f32(&format!("loss{k}"))[0] as f64)
        .sum::<f64>()
        / 3.0;
    assert_close_f64(
        "fit: mean of the batch losses",
        &[report[0].train_loss as f32],
        &[mean],
        1e-5,
    );
    want.state("fit", &net, "step3.");

    // drop_last: batches of 4 and 4; two steps, as the first two above.
    let dropping = DataLoader::new(ds, 4, false, true, norm, 0).unwrap();
    assert_eq!(dropping.epoch(0).map(|b| b.len).collect::<Vec<_>>(), [4, 4]);
    let mut net = parity.network();
    fit(&mut net, &dropping, None, &cfg).unwrap();
    assert_eq!(net.state().steps(), 2);
    want.state("drop_last", &net, "step2.");
}
