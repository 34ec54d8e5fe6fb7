//! The linear building blocks, the head (softmax cross-entropy) and the SGD update against the
//! f64 reference on seeded random inputs, checking every arena (short batches included: rows
//! >= n must stay untouched).
mod common;

use common::blocks::{linear_block_ref, LinearSpec, ACTIVATIONS};
use common::head::{check_head, head_ref, run_head, HeadSpec};
use common::launch::{Arenas, Gpu, SgdArgs};
use common::run::{check_block, run_block};
use common::{assert_close, client, f64s, rng, uniform};
use cubenet_kernels::reference::{softmax_cross_entropy, Sgd, SgdOptions};
use cubenet_kernels::{Act, SgdFlags};
use rand::Rng;

fn linear_case(what: &str, seed: u64, spec: LinearSpec, n: usize, cap: usize, sgd: SgdArgs) {
    let client = client();
    let mut rng = rng(seed);
    let (lay, cfg) = (spec.layout(), spec.cfg());
    let x = uniform(&mut rng, n * lay.in_len, -1.0, 1.0);
    let w = uniform(&mut rng, lay.w_len, -0.5, 0.5);
    let b = spec.bias.then(|| uniform(&mut rng, lay.b_len, -0.3, 0.3));
    let g = uniform(&mut rng, n * lay.out_len, -1.0, 1.0);
    let run_with = |cfg: cubenet_kernels::LinearCfg| {
        run_block(
            &client,
            &lay,
            n,
            cap,
            &x,
            &w,
            b.as_deref(),
            &g,
            |gpu| gpu.linear_forward(cfg, n, cap),
            |gpu| {
                gpu.linear_input_grad(cfg, n, cap);
                gpu.linear_weight_grad(cfg, n, cap, sgd);
            },
        )
    };
    let run = run_with(cfg);
    // On the cpu runtime, the vector layout (16 features per vector, the cpu target's)
    // gives bitwise the scalar units' arenas.
    if cfg!(feature = "test-cpu") {
        let vector = run_with(cubenet_kernels::LinearCfg {
            vector: true,
            ..cfg
        });
        for (stage, v, r) in [
            ("forward", &vector.fwd, &run.fwd),
            ("backward", &vector.bwd, &run.bwd),
        ] {
            let diff = |name: &str, a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .position(|(x, y)| x.to_bits() != y.to_bits())
                    .map(|i| format!("{name}[{i}]: {} vs {}", a[i], b[i]))
            };
            let d = diff("params", &v.params, &r.params)
                .or_else(|| diff("velocity", &v.velocity, &r.velocity))
                .or_else(|| diff("grads", &v.grads, &r.grads))
                .or_else(|| diff("acts", &v.acts, &r.acts));
            assert!(
                d.is_none(),
                "{what}: the vector layout changed a result after {stage}: {d:?}"
            );
        }
    }
    let b64 = b.as_deref().map(f64s);
    let r = linear_block_ref(&spec, n, &f64s(&x), &f64s(&w), b64.as_deref(), &f64s(&g));
    if spec.act.is_some() {
        // Both branches of the activation (relu clips, leaky relu scales, ...) are exercised.
        let negative = r.pre.iter().filter(|&&v| v <= 0.0).count();
        assert!(
            negative > 0 && negative < r.pre.len(),
            "{what}: the pre-activations should have both signs"
        );
    }
    check_block(what, &lay, &run, n, cap, &r, sgd);
}

/// Every activation fused into a blocked linear layer (rb 2 with a half-empty last row
/// block), one momentum step, against the f64 reference.
#[test]
fn linear_block_with_each_activation() {
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        let spec = LinearSpec {
            in_f: 8,
            out_f: 6,
            act,
            bias: true,
            rb: 2,
            ob: 3,
            ib: 4,
            k_splits: 1,
        };
        let sgd = SgdArgs {
            lr: 0.2,
            momentum: 0.5,
            dampening: 0.25,
            weight_decay: 0.05,
            flags: 0,
        };
        linear_case(
            &format!("linear 8->6 + {act:?}, rb 2 ob 3 ib 4, n 5 of cap 6"),
            60 + i as u64,
            spec,
            5,
            6,
            sgd,
        );
    }
}

/// Split-K forward (the sum over `in_features` in ranges, then their sums in order): with
/// a bias and an activation whose backward needs the stored pre-activation (GELU), and
/// without a bias after a ReLU, short batches included.
#[test]
fn linear_split_k_forward() {
    let cases = [
        (12, 6, Act::Gelu, true, 3, 5, 6),
        (8, 4, Act::Relu, false, 2, 3, 4),
        (16, 5, Act::None, true, 4, 7, 7),
    ];
    for (i, (in_f, out_f, act, bias, k_splits, n, cap)) in cases.into_iter().enumerate() {
        let spec = LinearSpec {
            in_f,
            out_f,
            act,
            bias,
            rb: 2,
            ob: 1,
            ib: 2,
            k_splits,
        };
        assert_eq!(
            spec.cfg().forward_units(n),
            n.div_ceil(2) * out_f * k_splits
        );
        let sgd = SgdArgs {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            flags: 0,
        };
        linear_case(
            &format!("linear {in_f}->{out_f} {act:?}, {k_splits} split-K ranges, n {n}"),
            40 + i as u64,
            spec,
            n,
            cap,
            sgd,
        );
    }
}

#[test]
fn linear_unblocked_with_bias() {
    let spec = LinearSpec {
        in_f: 7,
        out_f: 6,
        act: Act::None,
        bias: true,
        rb: 1,
        ob: 1,
        ib: 1,
        k_splits: 1,
    };
    linear_case(
        "linear 7->6, rb 1 ob 1 ib 1",
        11,
        spec,
        3,
        3,
        SgdArgs::NO_UPDATE,
    );
}

#[test]
fn linear_blocked_relu_odd_short_batch() {
    // rb 2 with n = 3: the last row block is half empty; cap 5 leaves rows 3 and 4 untouched.
    let spec = LinearSpec {
        in_f: 8,
        out_f: 6,
        act: Act::Relu,
        bias: true,
        rb: 2,
        ob: 3,
        ib: 4,
        k_splits: 1,
    };
    let sgd = SgdArgs {
        lr: 0.2,
        momentum: 0.5,
        dampening: 0.25,
        weight_decay: 0.05,
        flags: 0,
    };
    linear_case(
        "linear 8->6 + relu, rb 2 ob 3 ib 4, n 3 of cap 5",
        12,
        spec,
        3,
        5,
        sgd,
    );
}

/// Wider than one vector: on the cpu runtime the vector layout's forward units take 16
/// outputs, here two whole tiles and a last one of 8 (clamped), and its input- and
/// weight-gradient units a tile of 12 of 16 inputs; the batch sum runs over two blocks
/// (37 = 32 + 5 samples).
#[test]
fn linear_wider_than_a_vector_relu_two_sum_blocks() {
    let spec = LinearSpec {
        in_f: 12,
        out_f: 40,
        act: Act::Relu,
        bias: true,
        rb: 4,
        ob: 8,
        ib: 4,
        k_splits: 1,
    };
    let sgd = SgdArgs::MOMENTUM;
    linear_case(
        "linear 12->40 + relu, ob 8 ib 4, n 37 of cap 40",
        15,
        spec,
        37,
        40,
        sgd,
    );
}

#[test]
fn linear_no_bias_relu_batch_1_first_sgd_step() {
    let spec = LinearSpec {
        in_f: 5,
        out_f: 4,
        act: Act::Relu,
        bias: false,
        rb: 4,
        ob: 2,
        ib: 5,
        k_splits: 1,
    };
    let sgd = SgdArgs {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.0,
        flags: SgdFlags::FIRST_STEP | SgdFlags::NESTEROV,
    };
    linear_case(
        "linear 5->4 no bias + relu, rb 4, n 1 of cap 2",
        13,
        spec,
        1,
        2,
        sgd,
    );
}

fn head_case(what: &str, seed: u64, spec: HeadSpec, n: usize, cap: usize, train: bool) {
    let client = client();
    let mut rng = rng(seed);
    let (i, c) = (spec.in_f, spec.classes);
    let x = uniform(&mut rng, n * i, -1.0, 1.0);
    let w = uniform(&mut rng, i * c, -1.5, 1.5);
    let b = spec.bias.then(|| uniform(&mut rng, c, -0.5, 0.5));
    let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..c as u32)).collect();
    let run = run_head(
        &client,
        &spec,
        n,
        cap,
        &x,
        &w,
        b.as_deref(),
        &labels,
        train,
        train,
    );
    let lab: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let b64 = b.as_deref().map(f64s);
    let r = head_ref(&spec, n, &f64s(&x), &f64s(&w), b64.as_deref(), &lab);
    assert!(
        r.correct.contains(&0) || n < 3,
        "{what}: pick a seed where some row is wrong"
    );
    check_head(what, &spec, &run, n, cap, &r, train, train);
}

#[test]
fn head_train_short_batch() {
    let spec = HeadSpec {
        in_f: 6,
        classes: 4,
        bias: true,
        ib: 3,
        input_grad: true,
    };
    head_case("head 6->4, n 3 of cap 5, train", 21, spec, 3, 5, true);
}

#[test]
fn head_eval_writes_no_gradients() {
    let spec = HeadSpec {
        in_f: 6,
        classes: 4,
        bias: true,
        ib: 3,
        input_grad: true,
    };
    head_case("head 6->4, n 4 of cap 4, eval", 22, spec, 4, 4, false);
}

#[test]
fn head_first_layer_without_bias_or_input_grad() {
    let spec = HeadSpec {
        in_f: 5,
        classes: 3,
        bias: false,
        ib: 5,
        input_grad: false,
    };
    head_case(
        "head 5->3 no bias, no input grad, batch 1",
        23,
        spec,
        1,
        1,
        true,
    );
}

/// A label >= classes gives a NaN loss, a 0 correctness flag and zero gradients for its row
/// (the documented behaviour of `head_unit`); the other row is unaffected (its gradient is
/// still divided by n = 2).
#[test]
fn head_label_out_of_range_gives_nan_loss_and_zero_gradients() {
    let spec = HeadSpec {
        in_f: 3,
        classes: 3,
        bias: false,
        ib: 3,
        input_grad: true,
    };
    let x = [0.5f32, -1.0, 2.0, 1.0, 1.0, 1.0];
    let w = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let run = run_head(&client(), &spec, 2, 2, &x, &w, None, &[2, 3], true, false);
    let cfg = spec.cfg();
    let acts = &run.after.acts;
    let ce = softmax_cross_entropy(&f64s(&x[..3]), &[2], 3);
    assert_close(
        "row 0 loss",
        &acts[cfg.loss_act * 2..][..1],
        &ce.per_row,
        None,
    );
    assert!(
        acts[cfg.loss_act * 2 + 1].is_nan(),
        "row 1 loss must be NaN"
    );
    let half: Vec<f64> = ce.grad_logits.iter().map(|g| g / 2.0).collect();
    assert_close(
        "row 0 d(logits)",
        &acts[cfg.linear.out_grad * 2..][..3],
        &half,
        None,
    );
    assert_close(
        "row 0 d(input)",
        &acts[cfg.linear.in_grad * 2..][..3],
        &half,
        None,
    );
    assert_eq!(
        &acts[cfg.linear.out_grad * 2 + 3..][..3],
        &[0.0; 3],
        "row 1 d(logits)"
    );
    assert_eq!(
        &acts[cfg.linear.in_grad * 2 + 3..][..3],
        &[0.0; 3],
        "row 1 d(input)"
    );
    assert_eq!(&run.after.idx[2..4], &[1, 0], "correctness flags");
}

/// Four `sgd_update` steps on a 9-vector against `torch.optim.SGD` semantics (reference
/// `Sgd`), for plain SGD, momentum with dampening and weight decay, and Nesterov.
#[test]
fn sgd_update_matches_reference_over_steps() {
    let client = client();
    let mut rng = rng(31);
    let variants = [
        (0.0, 0.0, 0.0, false),
        (0.9, 0.3, 0.01, false),
        (0.8, 0.0, 0.1, true),
    ];
    for (momentum, dampening, weight_decay, nesterov) in variants {
        let len = 9;
        let p0 = uniform(&mut rng, len, -1.0, 1.0);
        let init = Arenas {
            params: p0.clone(),
            velocity: vec![7.0; len],
            grads: vec![7.0; len],
            acts: vec![0.0],
            idx: vec![0],
            part: vec![0.0],
        };
        let gpu = Gpu::new(&client, &init);
        let opts = SgdOptions {
            lr: 0.1,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        };
        let mut opt = Sgd::new(opts);
        let mut p = f64s(&p0);
        for step in 0..4 {
            let g = uniform(&mut rng, len, -1.0, 1.0);
            let lr = [0.1, 0.05, 0.2, 0.01][step];
            opt.options.lr = lr;
            opt.step(&mut p, &f64s(&g));
            let mut flags = if step == 0 { SgdFlags::FIRST_STEP } else { 0 };
            if nesterov {
                flags |= SgdFlags::NESTEROV;
            }
            let s = SgdArgs {
                lr: lr as f32,
                momentum: momentum as f32,
                dampening: dampening as f32,
                weight_decay: weight_decay as f32,
                flags,
            };
            gpu.sgd(&g, s);
            let after = gpu.read();
            let what = format!("SGD momentum {momentum} dampening {dampening} wd {weight_decay} nesterov {nesterov} step {step}");
            assert_close(&format!("{what}: params"), &after.params, &p, None);
            assert_close(&format!("{what}: grads"), &after.grads, &f64s(&g), None);
            match &opt.momentum_buffer {
                Some(v) => assert_close(&format!("{what}: velocity"), &after.velocity, v, None),
                None => assert_eq!(
                    after.velocity, init.velocity,
                    "{what}: no momentum, the buffer is untouched"
                ),
            }
        }
    }
}

#[test]
fn linear_weight_gradient_sums_a_large_batch_in_blocks() {
    // 1000 = 31 blocks of 32 samples and a block of 8: the blocked batch sum of the weight
    // and bias gradients, including its short last block.
    let spec = LinearSpec {
        in_f: 5,
        out_f: 4,
        act: Act::Relu,
        bias: true,
        rb: 4,
        ob: 2,
        ib: 5,
        k_splits: 1,
    };
    linear_case(
        "linear 5->4 + relu, n 1000",
        13,
        spec,
        1000,
        1000,
        SgdArgs::NO_UPDATE,
    );
}
