//! The f64 reference itself: against PyTorch (every case of tests/fixtures/op_cases.json,
//! made by scripts/op_cases.py with PyTorch 2.15) and, for every backward, against central
//! finite differences of `sum(output * R)` for a fixed random `R` (the cross-entropy: of the
//! mean loss). Runs on the CPU only.
mod common;

use common::{data, f64s, indices, input, op_case, output, rng, shape, uniform};
use cubenet_kernels::reference::*;

/// |got - want| <= 1e-9 * max(1, |want|): the reference and PyTorch both compute in f64.
fn assert_same(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}[{i}]: reference {g}, PyTorch {w}");
    }
}

fn conv_shape(case: &serde_json::Value) -> Conv2dShape {
    let (x, w) = (shape(&case["inputs"]["x"]), shape(&case["inputs"]["weight"]));
    let pair = |k: &str| {
        let v = indices(&case["params"][k]);
        (v[0], v[1])
    };
    Conv2dShape {
        n: x[0],
        c_in: x[1],
        h_in: x[2],
        w_in: x[3],
        c_out: w[0],
        kernel: (w[2], w[3]),
        stride: pair("stride"),
        padding: pair("padding"),
        dilation: pair("dilation"),
    }
}

#[test]
fn conv2d_matches_pytorch() {
    for name in ["P1_conv2d", "P1b_conv2d"] {
        let case = op_case(name);
        let s = conv_shape(case);
        let (x, w, b, up) = (input(case, "x"), input(case, "weight"), input(case, "bias"), input(case, "upstream"));
        assert_eq!(vec![s.n, s.c_out, s.h_out(), s.w_out()], shape(&case["outputs"]["output"]));
        assert_same(&format!("{name} output"), &conv2d_forward(&s, &x, &w, Some(&b)), &output(case, "output"));
        let g = conv2d_backward(&s, &x, &w, &up);
        assert_same(&format!("{name} grad_x"), &g.input, &output(case, "grad_x"));
        assert_same(&format!("{name} grad_weight"), &g.weight, &output(case, "grad_weight"));
        assert_same(&format!("{name} grad_bias"), &g.bias, &output(case, "grad_bias"));
    }
}

#[test]
fn max_pool2d_matches_pytorch() {
    for name in ["P2_max_pool2d", "P2b_max_pool2d_overlap", "P2c_max_pool2d_padding"] {
        let case = op_case(name);
        let x = shape(&case["inputs"]["x"]);
        let p = |k: &str| case["params"][k].as_u64().unwrap() as usize;
        let s = MaxPool2dShape {
            n: x[0],
            c: x[1],
            h_in: x[2],
            w_in: x[3],
            kernel: (p("kernel_size"), p("kernel_size")),
            stride: (p("stride"), p("stride")),
            padding: (p("padding"), p("padding")),
        };
        let out = max_pool2d_forward(&s, &input(case, "x"));
        assert_same(&format!("{name} output"), &out.output, &output(case, "output"));
        assert_eq!(out.indices, indices(&case["outputs"]["argmax_flat_index"]), "{name} indices");
        let g = max_pool2d_backward(&s, &out.indices, &input(case, "upstream"));
        assert_same(&format!("{name} grad_x"), &g, &output(case, "grad_x"));
    }
}

#[test]
fn cross_entropy_matches_pytorch() {
    for name in ["P3_cross_entropy_f64", "P3b_cross_entropy", "P7_cross_entropy"] {
        let case = op_case(name);
        let classes = shape(&case["inputs"]["logits"])[1];
        let ce = softmax_cross_entropy(&input(case, "logits"), &indices(&case["inputs"]["targets"]), classes);
        assert_same(&format!("{name} per-row loss"), &ce.per_row, &output(case, "per_row_loss"));
        assert_same(&format!("{name} mean loss"), &[ce.mean], &output(case, "mean_loss"));
        assert_same(&format!("{name} grad"), &ce.grad_logits, &output(case, "grad_logits_of_mean"));
    }
}

#[test]
fn sgd_matches_pytorch() {
    for name in ["P4_sgd_momentum", "P4b_sgd_weight_decay"] {
        let case = op_case(name);
        let lrs = data(&case["inputs"]["lrs"]);
        for (variant, kw) in case["inputs"]["variants"].as_object().unwrap() {
            let num = |k: &str| kw.get(k).map_or(0.0, |v| v.as_f64().unwrap());
            let mut opt = Sgd::new(SgdOptions {
                lr: lrs[0],
                momentum: num("momentum"),
                dampening: num("dampening"),
                weight_decay: num("weight_decay"),
                nesterov: kw.get("nesterov").is_some_and(|v| v.as_bool().unwrap()),
            });
            let mut p = data(&case["inputs"]["p0"]);
            for (step, &lr) in lrs.iter().enumerate() {
                opt.options.lr = lr;
                opt.step(&mut p, &data(&case["inputs"]["grads"][step]));
                assert_same(&format!("{name} {variant} step {}", step + 1), &p, &data(&case["outputs"][variant][step]));
            }
        }
    }
}

#[test]
fn relu_and_composites_match_pytorch() {
    let case = op_case("P5_relu");
    let x = input(case, "x");
    assert_same("P5 output", &relu_forward(&x), &output(case, "output"));
    assert_same("P5 grad_x", &relu_backward(&x, &input(case, "upstream")), &output(case, "grad_x"));

    // P6: conv2d(1->2, 3x3, padding 1) -> relu -> max_pool2d(2).
    let case = op_case("P6_conv_relu_pool");
    let s = Conv2dShape { n: 1, c_in: 1, h_in: 6, w_in: 6, c_out: 2, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1) };
    let p = MaxPool2dShape { n: 1, c: 2, h_in: 6, w_in: 6, kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
    let (x, w, b, up) = (input(case, "x"), input(case, "weight"), input(case, "bias"), input(case, "upstream"));
    let conv = conv2d_forward(&s, &x, &w, Some(&b));
    assert_same("P6 conv_output", &conv, &output(case, "conv_output"));
    let pooled = max_pool2d_forward(&p, &relu_forward(&conv));
    assert_same("P6 output", &pooled.output, &output(case, "output"));
    let g = conv2d_backward(&s, &x, &w, &relu_backward(&conv, &max_pool2d_backward(&p, &pooled.indices, &up)));
    assert_same("P6 grad_x", &g.input, &output(case, "grad_x"));
    assert_same("P6 grad_weight", &g.weight, &output(case, "grad_weight"));
    assert_same("P6 grad_bias", &g.bias, &output(case, "grad_bias"));

    // P6b: relu(linear(x)).
    let case = op_case("P6b_linear_relu");
    let s = LinearShape { n: 2, in_features: 4, out_features: 3 };
    let (x, w, b, up) = (input(case, "x"), input(case, "weight"), input(case, "bias"), input(case, "upstream"));
    let pre = linear_forward(&s, &x, &w, Some(&b));
    assert_same("P6b pre_activation", &pre, &output(case, "pre_activation"));
    assert_same("P6b output", &relu_forward(&pre), &output(case, "output"));
    let g = linear_backward(&s, &x, &w, &relu_backward(&pre, &up));
    assert_same("P6b grad_x", &g.input, &output(case, "grad_x"));
    assert_same("P6b grad_weight", &g.weight, &output(case, "grad_weight"));
    assert_same("P6b grad_bias", &g.bias, &output(case, "grad_bias"));
}

/// Central differences `(f(v + h e_i) - f(v - h e_i)) / 2h` for every `i`.
fn numeric_grad(f: impl Fn(&[f64]) -> f64, v: &[f64]) -> Vec<f64> {
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

fn assert_fd(what: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: length");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!((a - n).abs() <= 1e-6 * n.abs().max(1.0), "{what}[{i}]: analytic {a}, finite differences {n}");
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn random(seed: u64, len: usize) -> Vec<f64> {
    f64s(&uniform(&mut rng(seed), len, -1.0, 1.0))
}

/// conv (+ relu) (+ pool) with gradients checked by finite differences on x, weight, bias.
fn conv_block_fd(what: &str, seed: u64, s: Conv2dShape, relu: bool, pool: Option<((usize, usize), (usize, usize), (usize, usize))>) {
    let p = pool.map(|(kernel, stride, padding)| MaxPool2dShape { n: s.n, c: s.c_out, h_in: s.h_out(), w_in: s.w_out(), kernel, stride, padding });
    let fwd = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut y = conv2d_forward(&s, x, w, Some(b));
        if relu {
            y = relu_forward(&y);
        }
        match &p {
            Some(p) => max_pool2d_forward(p, &y),
            None => MaxPool2dOutput { indices: (0..y.len()).collect(), output: y },
        }
    };
    let (x, w, b) = (random(seed, s.input_len()), random(seed + 1, s.weight_len()), random(seed + 2, s.c_out));
    let out = fwd(&x, &w, &b);
    let r = random(seed + 3, out.output.len());
    let conv = conv2d_forward(&s, &x, &w, Some(&b));
    let g = match &p {
        Some(p) => max_pool2d_backward(p, &out.indices, &r),
        None => r.clone(),
    };
    let g = if relu { relu_backward(&conv, &g) } else { g };
    let grads = conv2d_backward(&s, &x, &w, &g);
    assert_fd(&format!("{what}: grad_x"), &grads.input, &numeric_grad(|v| dot(&fwd(v, &w, &b).output, &r), &x));
    assert_fd(&format!("{what}: grad_w"), &grads.weight, &numeric_grad(|v| dot(&fwd(&x, v, &b).output, &r), &w));
    assert_fd(&format!("{what}: grad_b"), &grads.bias, &numeric_grad(|v| dot(&fwd(&x, &w, v).output, &r), &b));
}

#[test]
fn conv2d_backward_matches_finite_differences() {
    let s = Conv2dShape { n: 2, c_in: 2, h_in: 7, w_in: 6, c_out: 3, kernel: (3, 2), stride: (2, 1), padding: (1, 2), dilation: (1, 2) };
    conv_block_fd("conv per-axis stride/padding/dilation", 100, s, false, None);
}

#[test]
fn conv_relu_pool_backward_matches_finite_differences() {
    let s = Conv2dShape { n: 2, c_in: 2, h_in: 8, w_in: 7, c_out: 2, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1) };
    conv_block_fd("conv + relu + pool 2/2", 200, s, true, Some(((2, 2), (2, 2), (0, 0))));
    conv_block_fd("conv + relu + pool 3/2 (overlapping)", 300, s, true, Some(((3, 3), (2, 2), (0, 0))));
    conv_block_fd("conv + pool (2,3)/(2,1) padding (1,1)", 400, s, false, Some(((2, 3), (2, 1), (1, 1))));
}

#[test]
fn linear_relu_backward_matches_finite_differences() {
    let s = LinearShape { n: 3, in_features: 5, out_features: 4 };
    let (x, w, b) = (random(500, 15), random(501, 20), random(502, 4));
    let fwd = |x: &[f64], w: &[f64], b: &[f64]| relu_forward(&linear_forward(&s, x, w, Some(b)));
    let r = random(503, 12);
    let pre = linear_forward(&s, &x, &w, Some(&b));
    assert!(pre.iter().any(|&v| v < 0.0), "the relu should clip something");
    let g = linear_backward(&s, &x, &w, &relu_backward(&pre, &r));
    assert_fd("linear + relu: grad_x", &g.input, &numeric_grad(|v| dot(&fwd(v, &w, &b), &r), &x));
    assert_fd("linear + relu: grad_w", &g.weight, &numeric_grad(|v| dot(&fwd(&x, v, &b), &r), &w));
    assert_fd("linear + relu: grad_b", &g.bias, &numeric_grad(|v| dot(&fwd(&x, &w, v), &r), &b));
}

#[test]
fn cross_entropy_gradient_matches_finite_differences() {
    let logits: Vec<f64> = random(600, 12).iter().map(|v| 4.0 * v).collect();
    let targets = [2, 0, 3];
    let ce = softmax_cross_entropy(&logits, &targets, 4);
    let numeric = numeric_grad(|z| softmax_cross_entropy(z, &targets, 4).mean, &logits);
    assert_fd("cross-entropy d(mean)/d(logits)", &ce.grad_logits, &numeric);
}
