//! The linear blocks, the head and the SGD update on the PyTorch op cases (values from
//! PyTorch 2.15 via scripts/op_cases.py, stored in tests/fixtures/op_cases.json):
//! cross-entropy with extreme logits (P3), random logits (P3b) and a short batch (P7) through
//! `head_unit` with an identity linear; SGD momentum / dampening / Nesterov (P4) and weight
//! decay (P4b) through `sgd_update`; relu at 0 (P5) and linear -> relu (P6b) through the
//! linear blocks. Tolerance `1e-5 * max(1, |v|)` unless stated.
mod common;

use common::blocks::{linear_block_ref, LinearSpec};
use common::head::{check_head, run_head, HeadRef, HeadSpec};
use common::launch::{Arenas, Gpu, SgdArgs};
use common::run::{check_block, run_block};
use common::{assert_close, client, data, f32s, indices, input, op_case, output, shape};
use cubenet_kernels::reference::argmax;
use cubenet_kernels::{Act, SgdFlags};

/// Cross-entropy case `name` on `head_unit`: in_f = classes, identity weight, zero bias, the
/// case's logits as the input; `cap` rows allocated. Checks logits, per-row losses (and their
/// mean, taken on the host as the runtime does), correctness flags, d(logits) and
/// d(input) = d(logits).
fn ce_case(name: &str, cap: usize) -> Vec<f32> {
    let case = op_case(name);
    let dims = shape(&case["inputs"]["logits"]);
    let (n, c) = (dims[0], dims[1]);
    let logits = input(case, "logits");
    let labels = indices(&case["inputs"]["targets"]);
    let spec = HeadSpec {
        in_f: c,
        classes: c,
        bias: true,
        ib: 1,
        input_grad: true,
    };
    let eye: Vec<f32> = (0..c * c)
        .map(|i| if i / c == i % c { 1.0 } else { 0.0 })
        .collect();
    let labels32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let run = run_head(
        &client(),
        &spec,
        n,
        cap,
        &f32s(&logits),
        &eye,
        Some(&vec![0.0; c]),
        &labels32,
        true,
        false,
    );
    let grad = output(case, "grad_logits_of_mean");
    let zeros = |len| vec![0.0; len];
    let r = HeadRef {
        logits: f32s(&logits).iter().map(|&v| v as f64).collect(),
        logits_scale: zeros(n * c),
        loss: output(case, "per_row_loss"),
        loss_scale: zeros(n),
        correct: logits
            .chunks(c)
            .zip(&labels)
            .map(|(row, &t)| (argmax(row) == t) as u32)
            .collect(),
        grad_logits: grad.clone(),
        grad_logits_scale: zeros(n * c),
        grad_x: grad,
        grad_x_scale: zeros(n * c),
        grad_w: vec![],
        grad_w_scale: vec![],
        grad_b: vec![],
        grad_b_scale: vec![],
    };
    check_head(name, &spec, &run, n, cap, &r, true, false);
    let loss_at = spec.cfg().loss_act * cap;
    let losses = run.after.acts[loss_at..loss_at + n].to_vec();
    let mean = losses.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    assert_close(
        &format!("{name}: mean loss"),
        &[mean as f32],
        &output(case, "mean_loss"),
        None,
    );
    losses
}

/// P3: huge logits [1e4,0,-1e4]/0, [1e4,0,-1e4]/2, [-1e4,-1e4,-1e4]/1, [1e8,1e8,-1e8]/1,
/// [100,0,-100]/1 -> per row [0, 20000, 1.09861, 0.693147, 100], mean 4020.36 (f32 run of
/// PyTorch 2.15 via scripts/op_cases.py; the float64 run agrees to 6 digits).
#[test]
#[allow(clippy::approx_constant)] // 0.693147 is the quoted PyTorch value, not a stand-in for ln 2
fn p3_cross_entropy_extreme_logits_are_finite() {
    let losses = ce_case("P3_cross_entropy_f32", 5);
    assert!(losses.iter().all(|v| v.is_finite()), "losses {losses:?}");
    let f64_run = output(op_case("P3_cross_entropy_f64"), "per_row_loss");
    assert_close("P3 vs the float64 run", &losses, &f64_run, None);
    assert_close(
        "P3 quoted values",
        &losses,
        &[0.0, 20000.0, 1.09861, 0.693147, 100.0],
        Some(&[0.2; 5]),
    );
}

/// P3b: random float64 logits (torch.randn * 3, seed 404), batch 4, 5 classes; capacity 6.
#[test]
fn p3b_cross_entropy_random_logits() {
    ce_case("P3b_cross_entropy", 6);
}

/// P7: logits [[2,0,0],[0,1,0]], targets [0,2], n = 2 of cap 4 -> loss 0.895495, grad
/// [[-0.106507,0.0532535,0.0532535],[0.105971,0.288058,-0.394029]] (mean over the 2 rows
/// present).
#[test]
fn p7_cross_entropy_short_batch_divides_by_its_own_size() {
    let case = op_case("P7_cross_entropy");
    assert!((output(case, "mean_loss")[0] - 0.895495).abs() < 1e-6);
    ce_case("P7_cross_entropy", 4);
}

/// Runs the SGD variants of case `name` through `sgd_update`, step by step, against the
/// parameters PyTorch reports after each step.
fn sgd_case(name: &str) {
    let case = op_case(name);
    let p0 = data(&case["inputs"]["p0"]);
    let grads = &case["inputs"]["grads"];
    let lrs = data(&case["inputs"]["lrs"]);
    let client = client();
    for (variant, kw) in case["inputs"]["variants"].as_object().unwrap() {
        let num = |k: &str| kw.get(k).map_or(0.0, |v| v.as_f64().unwrap()) as f32;
        let nesterov = kw.get("nesterov").is_some_and(|v| v.as_bool().unwrap());
        let expected = &case["outputs"][variant];
        let init = Arenas {
            params: f32s(&p0),
            velocity: vec![0.0; p0.len()],
            grads: vec![0.0; p0.len()],
            acts: vec![0.0],
            idx: vec![0],
            part: vec![0.0],
        };
        let gpu = Gpu::new(&client, &init);
        for (step, lr) in lrs.iter().enumerate() {
            let mut flags = if step == 0 { SgdFlags::FIRST_STEP } else { 0 };
            if nesterov {
                flags |= SgdFlags::NESTEROV;
            }
            let s = SgdArgs {
                lr: *lr as f32,
                momentum: num("momentum"),
                dampening: num("dampening"),
                weight_decay: num("weight_decay"),
                flags,
            };
            gpu.sgd(&f32s(&data(&grads[step])), s);
            let got = gpu.read().params;
            assert_close(
                &format!("{name} {variant} step {}", step + 1),
                &got,
                &data(&expected[step]),
                None,
            );
        }
    }
}

/// P4: scalar p = 1, momentum 0.9, grads 1, 0.5, -0.25 with lr 0.1, 0.1, 0.01 -> 0.9, 0.76,
/// 0.7499; dampening 0.5 -> 0.9, 0.785, 0.7759; Nesterov -> 0.81, 0.634, 0.62741.
#[test]
fn p4_sgd_momentum_dampening_nesterov() {
    let out = &op_case("P4_sgd_momentum")["outputs"];
    assert_eq!(data(&out["plain"]), vec![0.9, 0.76, 0.7499]);
    assert_eq!(data(&out["dampening_0.5"]), vec![0.9, 0.785, 0.7759]);
    assert_eq!(data(&out["nesterov"]), vec![0.81, 0.634, 0.62741]);
    sgd_case("P4_sgd_momentum");
}

/// P4b: p = [1, -2], weight decay 0.1, momentum 0.9, lr 0.1, three steps.
#[test]
fn p4b_sgd_weight_decay() {
    sgd_case("P4b_sgd_weight_decay");
}

/// Runs the linear block `spec` on `n` rows of `x` (cap `cap`) and checks it against the
/// PyTorch `output` and `grad_x` of case `name`, and its weight and bias gradients where the
/// case has them (otherwise the f64 reference's, which tests/reference.rs checks against
/// finite differences).
#[allow(clippy::too_many_arguments)]
fn linear_torch_case(
    name: &str,
    spec: LinearSpec,
    n: usize,
    cap: usize,
    x: &[f64],
    w: &[f64],
    b: &[f64],
    up: &[f64],
) {
    let case = op_case(name);
    let mut r = linear_block_ref(&spec, n, x, w, Some(b), up);
    r.take_pytorch(name, case);
    let (lay, cfg) = (spec.layout(), spec.cfg());
    let run = run_block(
        &client(),
        &lay,
        n,
        cap,
        &f32s(x),
        &f32s(w),
        Some(&f32s(b)),
        &f32s(up),
        |gpu| gpu.linear_forward(cfg, n, cap),
        |gpu| {
            gpu.linear_input_grad(cfg, n, cap);
            gpu.linear_weight_grad(cfg, n, cap, SgdArgs::NO_UPDATE);
        },
    );
    check_block(name, &lay, &run, n, cap, &r, SgdArgs::NO_UPDATE);
}

/// P5: relu of [-2, -0.5, 0, 0.5, 3] with upstream [1..5] -> output [0, 0, 0, 0.5, 3],
/// grad_x [0, 0, 0, 4, 5]: relu'(0) = 0. Run as a 1 -> 1 linear (weight 1, bias 0) + relu
/// over 5 rows of capacity 6, two rows per unit.
#[test]
fn p5_relu_gradient_is_zero_at_zero() {
    let case = op_case("P5_relu");
    assert_eq!(output(case, "grad_x"), vec![0.0, 0.0, 0.0, 4.0, 5.0]);
    let spec = LinearSpec {
        in_f: 1,
        out_f: 1,
        act: Act::Relu,
        bias: true,
        rb: 2,
        ob: 1,
        ib: 1,
        k_splits: 1,
    };
    linear_torch_case(
        "P5_relu",
        spec,
        5,
        6,
        &input(case, "x"),
        &[1.0],
        &[0.0],
        &input(case, "upstream"),
    );
}

/// P6b: relu(x W^T + b), x 2x4, W 3x4, b 3 (seeded integers), n = 2 of cap 3.
#[test]
fn p6b_linear_relu_composite() {
    let case = op_case("P6b_linear_relu");
    let spec = LinearSpec {
        in_f: 4,
        out_f: 3,
        act: Act::Relu,
        bias: true,
        rb: 2,
        ob: 3,
        ib: 2,
        k_splits: 1,
    };
    let (x, w, b, up) = (
        input(case, "x"),
        input(case, "weight"),
        input(case, "bias"),
        input(case, "upstream"),
    );
    linear_torch_case("P6b_linear_relu", spec, 2, 3, &x, &w, &b, &up);
}
