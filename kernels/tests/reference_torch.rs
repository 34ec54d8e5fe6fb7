//! The f64 reference against PyTorch: every case of tests/fixtures/op_cases.json (made by
//! scripts/op_cases.py with PyTorch 2.15), in f64. Runs on the CPU only.
mod common;

use common::{assert_same, data, indices, input, op_case, output, shape};
use cubenet_kernels::reference::*;

fn conv_shape(case: &serde_json::Value) -> Conv2dShape {
    let (x, w) = (
        shape(&case["inputs"]["x"]),
        shape(&case["inputs"]["weight"]),
    );
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
        padding_extra: (0, 0),
        dilation: pair("dilation"),
        groups: 1,
    }
}

#[test]
fn conv2d_matches_pytorch() {
    for name in ["P1_conv2d", "P1b_conv2d"] {
        let case = op_case(name);
        let s = conv_shape(case);
        let (x, w, b, up) = (
            input(case, "x"),
            input(case, "weight"),
            input(case, "bias"),
            input(case, "upstream"),
        );
        assert_eq!(
            vec![s.n, s.c_out, s.h_out(), s.w_out()],
            shape(&case["outputs"]["output"])
        );
        assert_same(
            &format!("{name} output"),
            &conv2d_forward(&s, &x, &w, Some(&b)),
            &output(case, "output"),
        );
        let g = conv2d_backward(&s, &x, &w, &up);
        assert_same(&format!("{name} grad_x"), &g.input, &output(case, "grad_x"));
        assert_same(
            &format!("{name} grad_weight"),
            &g.weight,
            &output(case, "grad_weight"),
        );
        assert_same(
            &format!("{name} grad_bias"),
            &g.bias,
            &output(case, "grad_bias"),
        );
    }
}

#[test]
fn max_pool2d_matches_pytorch() {
    for name in [
        "P2_max_pool2d",
        "P2b_max_pool2d_overlap",
        "P2c_max_pool2d_padding",
    ] {
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
            ceil_mode: false,
        };
        let out = max_pool2d_forward(&s, &input(case, "x"));
        assert_same(
            &format!("{name} output"),
            &out.output,
            &output(case, "output"),
        );
        assert_eq!(
            out.indices,
            indices(&case["outputs"]["argmax_flat_index"]),
            "{name} indices"
        );
        let g = max_pool2d_backward(&s, &out.indices, &input(case, "upstream"));
        assert_same(&format!("{name} grad_x"), &g, &output(case, "grad_x"));
    }
}

#[test]
fn cross_entropy_matches_pytorch() {
    for name in [
        "P3_cross_entropy_f64",
        "P3b_cross_entropy",
        "P7_cross_entropy",
    ] {
        let case = op_case(name);
        let classes = shape(&case["inputs"]["logits"])[1];
        let ce = softmax_cross_entropy(
            &input(case, "logits"),
            &indices(&case["inputs"]["targets"]),
            classes,
        );
        assert_same(
            &format!("{name} per-row loss"),
            &ce.per_row,
            &output(case, "per_row_loss"),
        );
        assert_same(
            &format!("{name} mean loss"),
            &[ce.mean],
            &output(case, "mean_loss"),
        );
        assert_same(
            &format!("{name} grad"),
            &ce.grad_logits,
            &output(case, "grad_logits_of_mean"),
        );
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
                assert_same(
                    &format!("{name} {variant} step {}", step + 1),
                    &p,
                    &data(&case["outputs"][variant][step]),
                );
            }
        }
    }
}

#[test]
fn relu_and_composites_match_pytorch() {
    let case = op_case("P5_relu");
    let x = input(case, "x");
    assert_same("P5 output", &relu_forward(&x), &output(case, "output"));
    assert_same(
        "P5 grad_x",
        &relu_backward(&x, &input(case, "upstream")),
        &output(case, "grad_x"),
    );

    // P6: conv2d(1->2, 3x3, padding 1) -> relu -> max_pool2d(2).
    let case = op_case("P6_conv_relu_pool");
    let s = Conv2dShape {
        n: 1,
        c_in: 1,
        h_in: 6,
        w_in: 6,
        c_out: 2,
        kernel: (3, 3),
        stride: (1, 1),
        padding: (1, 1),
        padding_extra: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    let p = MaxPool2dShape {
        n: 1,
        c: 2,
        h_in: 6,
        w_in: 6,
        kernel: (2, 2),
        stride: (2, 2),
        padding: (0, 0),
        ceil_mode: false,
    };
    let (x, w, b, up) = (
        input(case, "x"),
        input(case, "weight"),
        input(case, "bias"),
        input(case, "upstream"),
    );
    let conv = conv2d_forward(&s, &x, &w, Some(&b));
    assert_same("P6 conv_output", &conv, &output(case, "conv_output"));
    let pooled = max_pool2d_forward(&p, &relu_forward(&conv));
    assert_same("P6 output", &pooled.output, &output(case, "output"));
    let g = conv2d_backward(
        &s,
        &x,
        &w,
        &relu_backward(&conv, &max_pool2d_backward(&p, &pooled.indices, &up)),
    );
    assert_same("P6 grad_x", &g.input, &output(case, "grad_x"));
    assert_same("P6 grad_weight", &g.weight, &output(case, "grad_weight"));
    assert_same("P6 grad_bias", &g.bias, &output(case, "grad_bias"));

    // P6b: relu(linear(x)).
    let case = op_case("P6b_linear_relu");
    let s = LinearShape {
        n: 2,
        in_features: 4,
        out_features: 3,
    };
    let (x, w, b, up) = (
        input(case, "x"),
        input(case, "weight"),
        input(case, "bias"),
        input(case, "upstream"),
    );
    let pre = linear_forward(&s, &x, &w, Some(&b));
    assert_same("P6b pre_activation", &pre, &output(case, "pre_activation"));
    assert_same("P6b output", &relu_forward(&pre), &output(case, "output"));
    let g = linear_backward(&s, &x, &w, &relu_backward(&pre, &up));
    assert_same("P6b grad_x", &g.input, &output(case, "grad_x"));
    assert_same("P6b grad_weight", &g.weight, &output(case, "grad_weight"));
    assert_same("P6b grad_bias", &g.bias, &output(case, "grad_bias"));
}
