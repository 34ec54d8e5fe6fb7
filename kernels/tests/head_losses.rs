//! The head's other losses against the f64 reference: cross-entropy with label smoothing,
//! MSE and BCE with logits (extreme logits included), on seeded random inputs: outputs,
//! per-row loss, correctness counts, d(outputs) and d(input) of the rows present; rows >= n
//! untouched.
mod common;

use common::blocks::{IDX_SENTINEL, PARAM_PAD, SENTINEL};
use common::head::HeadSpec;
use common::launch::{Arenas, Gpu};
use common::{abs, assert_close, client, f64s, rng, uniform};
use cubenet_kernels::reference::{
    bce_with_logits, cross_entropy_smoothed, linear_backward, linear_forward, mse, LinearShape,
    LossOutput,
};
use cubenet_kernels::Loss;

const SPEC: HeadSpec = HeadSpec {
    in_f: 5,
    classes: 4,
    bias: true,
    ib: 5,
    input_grad: true,
};

/// Runs the head of [`SPEC`] with `loss` on `n` of `cap` rows: input `x`, weight `w`, bias
/// `b`, class labels (cross-entropy) or f32 `targets` (`n x classes`). Returns the arenas
/// before and after, and the config.
#[allow(clippy::too_many_arguments)]
fn run(
    loss: Loss,
    n: usize,
    cap: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    labels: &[u32],
    targets: &[f32],
) -> (Arenas, Arenas, cubenet_kernels::HeadCfg) {
    let (i, c) = (SPEC.in_f, SPEC.classes);
    let mut cfg = SPEC.cfg();
    cfg.loss = loss;
    cfg.target = 2 * i + 2 * c + 1;
    let mut params = vec![SENTINEL; PARAM_PAD + i * c + c + 2];
    params[PARAM_PAD..PARAM_PAD + i * c].copy_from_slice(w);
    params[PARAM_PAD + i * c..PARAM_PAD + i * c + c].copy_from_slice(b);
    let mut acts = vec![SENTINEL; (2 * i + 3 * c + 1) * cap];
    acts[..x.len()].copy_from_slice(x);
    acts[cfg.target * cap..][..targets.len()].copy_from_slice(targets);
    let mut idx = vec![IDX_SENTINEL; 2 * cap];
    idx[..labels.len()].copy_from_slice(labels);
    let init = Arenas {
        velocity: params.clone(),
        grads: vec![SENTINEL; params.len()],
        params,
        acts,
        idx,
        part: vec![0.0],
    };
    let gpu = Gpu::new(&client(), &init);
    gpu.head(cfg, true, n, cap);
    (init.clone(), gpu.read(), cfg)
}

/// Checks outputs, per-row loss, d(outputs), d(input) and the correctness counts against
/// `want` (the reference loss of the reference outputs), and that nothing else changed.
#[allow(clippy::too_many_arguments)]
fn check(
    what: &str,
    (init, after, cfg): &(Arenas, Arenas, cubenet_kernels::HeadCfg),
    n: usize,
    cap: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    want: impl Fn(&[f64]) -> LossOutput,
    correct: &[u32],
) {
    let (i, c) = (SPEC.in_f, SPEC.classes);
    let s = LinearShape {
        n,
        in_features: i,
        out_features: c,
    };
    let z = linear_forward(&s, &f64s(x), &f64s(w), Some(&f64s(b)));
    let z_scale = linear_forward(&s, &abs(&f64s(x)), &abs(&f64s(w)), Some(&abs(&f64s(b))));
    let l = want(&z);
    let lin = cfg.linear;
    let a = &after.acts;
    assert_close(
        &format!("{what}: outputs"),
        &a[lin.out_act * cap..][..n * c],
        &z,
        Some(&z_scale),
    );
    assert_close(
        &format!("{what}: per-row loss"),
        &a[cfg.loss_act * cap..][..n],
        &l.per_row,
        Some(&vec![z_scale.iter().copied().fold(0.0, f64::max) * 4.0; n]),
    );
    assert_close(
        &format!("{what}: d(outputs)"),
        &a[lin.out_grad * cap..][..n * c],
        &l.grad_logits,
        Some(&vec![
            z_scale.iter().copied().fold(0.0, f64::max) / n as f64;
            n * c
        ]),
    );
    let g = linear_backward(&s, &f64s(x), &f64s(w), &l.grad_logits);
    let gs = linear_backward(&s, &abs(&f64s(x)), &abs(&f64s(w)), &abs(&l.grad_logits));
    assert_close(
        &format!("{what}: d(input)"),
        &a[lin.in_grad * cap..][..n * i],
        &g.input,
        Some(&gs.input),
    );
    assert_eq!(
        &after.idx[cfg.correct * cap..][..n],
        correct,
        "{what}: correctness counts"
    );
    // Rows >= n of every region the head writes, and everything else, untouched.
    let mut expect = init.acts.clone();
    expect[lin.out_act * cap..][..n * c].copy_from_slice(&a[lin.out_act * cap..][..n * c]);
    expect[cfg.loss_act * cap..][..n].copy_from_slice(&a[cfg.loss_act * cap..][..n]);
    expect[lin.out_grad * cap..][..n * c].copy_from_slice(&a[lin.out_grad * cap..][..n * c]);
    expect[lin.in_grad * cap..][..n * i].copy_from_slice(&a[lin.in_grad * cap..][..n * i]);
    assert!(
        expect
            .iter()
            .zip(a)
            .all(|(e, g)| e.to_bits() == g.to_bits()),
        "{what}: the head wrote outside its rows"
    );
    assert_eq!(after.params, init.params, "{what}: params changed");
}

fn inputs(seed: u64, n: usize, x_scale: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut r = rng(seed);
    let (i, c) = (SPEC.in_f, SPEC.classes);
    (
        uniform(&mut r, n * i, -x_scale, x_scale),
        uniform(&mut r, i * c, -1.0, 1.0),
        uniform(&mut r, c, -0.5, 0.5),
    )
}

#[test]
fn cross_entropy_with_label_smoothing() {
    let (n, cap) = (3, 4);
    let (x, w, b) = inputs(1, n, 2.0);
    let labels = [3u32, 0, 2];
    let run = run(Loss::cross_entropy(0.1), n, cap, &x, &w, &b, &labels, &[]);
    let c = SPEC.classes;
    let t: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let correct: Vec<u32> = run.1.acts[run.2.linear.out_act * cap..][..n * c]
        .chunks(c)
        .zip(&labels)
        .map(|(row, &l)| {
            let arg = (0..c).fold(0, |a, k| if row[k] > row[a] { k } else { a });
            (arg == l as usize) as u32
        })
        .collect();
    check(
        "label_smoothing 0.1",
        &run,
        n,
        cap,
        &x,
        &w,
        &b,
        |z| cross_entropy_smoothed(z, &t, c, 0.1f32 as f64),
        &correct,
    );
}

#[test]
fn mse_against_f32_targets() {
    let (n, cap) = (3, 5);
    let (x, w, b) = inputs(2, n, 1.0);
    let y = uniform(&mut rng(20), n * SPEC.classes, -2.0, 2.0);
    let run = run(Loss::Mse, n, cap, &x, &w, &b, &[], &y);
    check(
        "mse",
        &run,
        n,
        cap,
        &x,
        &w,
        &b,
        |z| mse(z, &f64s(&y), SPEC.classes),
        &[0; 3],
    );
}

/// BCE with moderate logits and with |z| about 100 (inputs scaled up): the stable form stays
/// finite and matches the f64 reference; the counts are the outputs whose sign agrees with
/// `y > 0.5`.
#[test]
fn bce_with_logits_moderate_and_extreme() {
    for (x_scale, what) in [(1.0f32, "bce"), (120.0, "bce, |z| of 100 and more")] {
        let (n, cap) = (4, 4);
        let (x, w, b) = inputs(3, n, x_scale);
        let c = SPEC.classes;
        // Hard 0/1 labels and soft ones.
        let y: Vec<f32> = (0..n * c)
            .map(|k| [0.0, 1.0, 0.25, 1.0, 0.0, 0.75][k % 6])
            .collect();
        let run = run(Loss::BceWithLogits, n, cap, &x, &w, &b, &[], &y);
        let z = &run.1.acts[run.2.linear.out_act * cap..][..n * c];
        if x_scale > 1.0 {
            assert!(
                z.iter().any(|v| v.abs() > 100.0),
                "{what}: expected extreme logits, got {z:?}"
            );
        }
        let correct: Vec<u32> = z
            .chunks(c)
            .zip(y.chunks(c))
            .map(|(zr, yr)| {
                zr.iter()
                    .zip(yr)
                    .filter(|(z, y)| (**z > 0.0) == (**y > 0.5))
                    .count() as u32
            })
            .collect();
        check(
            what,
            &run,
            n,
            cap,
            &x,
            &w,
            &b,
            |z| bce_with_logits(z, &f64s(&y), c),
            &correct,
        );
    }
}
