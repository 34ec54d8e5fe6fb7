//! The conv building blocks on the PyTorch op cases (values from PyTorch 2.15 via
//! scripts/op_cases.py, stored in tests/fixtures/op_cases.json): conv2d (P1, P1b), max-pool
//! with ties, overlapping windows and padding (P2, P2b, P2c; behind an identity 1x1 conv,
//! since the blocks pool only after a conv) and conv -> relu -> pool (P6).
//!
//! Gradients are those of `sum(output * upstream)`, i.e. the block's output gradient is
//! `upstream`. The kernel is compared with the PyTorch values directly (tolerance
//! `1e-5 * max(1, |v|)`); quantities PyTorch does not give for a case (the weight gradient of
//! the identity conv) come from the f64 reference, which is first checked against PyTorch.
mod common;

use common::blocks::{conv_block_ref, ConvSpec, PoolSpec, NO_POOL};
use common::launch::SgdArgs;
use common::run::{check_block, run_block};
use common::{client, f32s, indices, input, op_case, output, shape};
use cubenet_kernels::Act;

/// Runs the block `spec` on the case's `x` (with `weight`/`bias` from the case, or the
/// given ones) and upstream gradient, with `n` = the case's batch and capacity `cap`.
fn torch_conv_case(name: &str, spec: ConvSpec, w: Option<Vec<f64>>, cap: usize) {
    let case = op_case(name);
    let n = shape(&case["inputs"]["x"])[0];
    let x = input(case, "x");
    let w = w.unwrap_or_else(|| input(case, "weight"));
    let b = spec.bias.then(|| input(case, "bias"));
    let up = input(case, "upstream");
    let mut r = conv_block_ref(&spec, n, &x, &w, b.as_deref(), &up);

    // The reference against PyTorch, then the kernel against the PyTorch numbers.
    r.take_pytorch(name, case);
    if let Some(am) = case["outputs"].get("argmax_flat_index") {
        assert_eq!(
            r.argmax.as_deref(),
            Some(&indices(am)[..]),
            "{name}: reference argmax vs PyTorch"
        );
    }

    let lay = spec.layout();
    let client = client();
    let bf = b.as_deref().map(f32s);
    // Single-element (GPU) tiles and wide (CPU) tiles must both give PyTorch's values.
    for wide in [false, true] {
        let cfg = spec.cfg_tiled(wide);
        let run = run_block(
            &client,
            &lay,
            n,
            cap,
            &f32s(&x),
            &f32s(&w),
            bf.as_deref(),
            &f32s(&up),
            |gpu| gpu.conv_forward(cfg, n, cap),
            |gpu| {
                gpu.conv_out_grad(cfg, n, cap);
                gpu.conv_input_grad(cfg, n, cap);
                gpu.conv_weight_grad(cfg, n, cap, SgdArgs::NO_UPDATE);
            },
        );
        check_block(
            &format!("{name} (wide tiles: {wide})"),
            &lay,
            &run,
            n,
            cap,
            &r,
            SgdArgs::NO_UPDATE,
        );
    }
}

/// A 1x1 conv `c -> c` with the identity weight and no bias, followed by a max-pool.
fn identity_then_pool(c: usize, h: usize, w: usize, pool: PoolSpec) -> (ConvSpec, Vec<f64>) {
    let spec = ConvSpec {
        c_in: c,
        h,
        w,
        c_out: c,
        k: (1, 1),
        stride: (1, 1),
        pad: (0, 0),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: false,
        act: Act::None,
        pool: Some(pool),
        ceil_mode: false,
        ocb: c,
    };
    let eye = (0..c * c)
        .map(|i| if i / c == i % c { 1.0 } else { 0.0 })
        .collect();
    (spec, eye)
}

/// P1: x[h][w] = 7h + w (1x1x5x7), weight [[1,-1,2],[0,3,-2]], bias 0.25, stride (2,1),
/// padding (1,0), dilation (1,2) -> output [[-1.75,-0.75,0.25],[32.25,35.25,38.25],
/// [74.25,77.25,80.25]]; upstream [[1,2,3],[4,5,6],[7,8,9]] -> grad_w [[652,730,808],
/// [933,1023,1113]], grad_b [45] (PyTorch 2.15 via scripts/op_cases.py). Capacity 2, so row
/// 1 must stay untouched.
#[test]
fn p1_conv2d_per_axis_stride_padding_dilation() {
    let spec = ConvSpec {
        c_in: 1,
        h: 5,
        w: 7,
        c_out: 1,
        k: (2, 3),
        stride: (2, 1),
        pad: (1, 0),
        pad_extra: (0, 0),
        dil: (1, 2),
        groups: 1,
        bias: true,
        act: Act::None,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 1,
    };
    let case = op_case("P1_conv2d");
    assert_eq!(
        output(case, "output"),
        vec![-1.75, -0.75, 0.25, 32.25, 35.25, 38.25, 74.25, 77.25, 80.25]
    );
    assert_eq!(
        output(case, "grad_weight"),
        vec![652.0, 730.0, 808.0, 933.0, 1023.0, 1113.0]
    );
    assert_eq!(output(case, "grad_bias"), vec![45.0]);
    #[rustfmt::skip]
    let gx = vec![0.0, 0.0, 3.0, 6.0, 7.0, -4.0, -6.0, 4.0, 5.0, 2.0, -5.0, 2.0, 10.0, 12.0, 0.0, 0.0, 12.0, 15.0, 10.0, -10.0, -12.0,
                  7.0, 8.0, 2.0, -8.0, 5.0, 16.0, 18.0, 0.0, 0.0, 21.0, 24.0, 13.0, -16.0, -18.0];
    assert_eq!(output(case, "grad_x"), gx);
    torch_conv_case("P1_conv2d", spec, None, 2);
}

/// P1b: 1x2x6x5 -> 3 channels, kernel 3x2, stride (1,2), padding (0,1), dilation (2,1).
#[test]
fn p1b_conv2d_two_to_three_channels() {
    let spec = ConvSpec {
        c_in: 2,
        h: 6,
        w: 5,
        c_out: 3,
        k: (3, 2),
        stride: (1, 2),
        pad: (0, 1),
        pad_extra: (0, 0),
        dil: (2, 1),
        groups: 1,
        bias: true,
        act: Act::None,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 3,
    };
    torch_conv_case("P1b_conv2d", spec, None, 1);
}

/// P2: max-pool 2x2 stride 2 with ties, x [[1,3,2,2],[3,0,2,2],[0,0,5,1],[0,0,1,5]], upstream
/// [[10,20],[30,40]] -> out [[3,2],[0,5]], grad_x [[0,10,20,0],[0,0,0,0],[30,0,40,0],[0,0,0,0]]
/// (the first maximum in row-major order wins; PyTorch 2.15 via scripts/op_cases.py).
#[test]
fn p2_max_pool_ties_pick_the_first_maximum() {
    let case = op_case("P2_max_pool2d");
    assert_eq!(output(case, "output"), vec![3.0, 2.0, 0.0, 5.0]);
    let gx = [
        0.0, 10.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 30.0, 0.0, 40.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(output(case, "grad_x"), gx);
    let (spec, eye) = identity_then_pool(1, 4, 4, ((2, 2), (2, 2), (0, 0)));
    torch_conv_case("P2_max_pool2d", spec, Some(eye), 2);
}

/// P2b: 3x3 stride 2 on 1x2x8x8 (overlapping windows; channel 1's x[2][2] = 9 is the max of
/// four windows, so its gradient sums four upstream values).
#[test]
fn p2b_max_pool_overlapping_windows_accumulate() {
    let (spec, eye) = identity_then_pool(2, 8, 8, ((3, 3), (2, 2), (0, 0)));
    torch_conv_case("P2b_max_pool2d_overlap", spec, Some(eye), 1);
}

/// P2c: 2x2 stride 2 padding 1 on all-negative 1x1x5x5 (the -inf padding never wins).
#[test]
fn p2c_max_pool_padding_is_minus_infinity() {
    let (spec, eye) = identity_then_pool(1, 5, 5, ((2, 2), (2, 2), (1, 1)));
    torch_conv_case("P2c_max_pool2d_padding", spec, Some(eye), 3);
}

/// P6: conv2d(1->2, 3x3, padding 1) -> relu -> max_pool2d(2) on seeded integers (relu ties
/// at 0 inside pooled windows).
#[test]
fn p6_conv_relu_pool_composite() {
    let spec = ConvSpec {
        c_in: 1,
        h: 6,
        w: 6,
        c_out: 2,
        k: (3, 3),
        stride: (1, 1),
        pad: (1, 1),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::Relu,
        pool: Some(((2, 2), (2, 2), (0, 0))),
        ceil_mode: false,
        ocb: 1,
    };
    torch_conv_case("P6_conv_relu_pool", spec, None, 2);
}
