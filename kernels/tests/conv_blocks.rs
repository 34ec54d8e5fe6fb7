//! The conv building blocks (`conv_forward_tiled_unit` / `conv_forward_unit`,
//! `conv_out_grad_unit`, `conv_input_grad_unit`, `conv_weight_partial_unit` +
//! `conv_weight_final_unit`) against the f64 reference on seeded random inputs, each with
//! single-element (GPU) tiles and with wide (CPU) tiles.
//!
//! Each case runs forward, input gradient and weight gradient on the device and checks every
//! arena (see `common::blocks::check_block`): outputs, pool argmax, d(input), parameter
//! gradients, the SGD step, and that nothing else (rows >= n of a short batch, the other
//! tensors, the parameter padding) changes.
mod common;

use common::blocks::{conv_block_ref, ConvSpec, ACTIVATIONS, NO_POOL};
use common::launch::SgdArgs;
use common::run::{check_block, run_block};
use common::{client, f64s, rng, uniform};
use cubenet_kernels::{Act, SgdFlags};

fn conv_case(what: &str, seed: u64, spec: ConvSpec, n: usize, cap: usize, sgd: SgdArgs) {
    let client = client();
    let mut rng = rng(seed);
    let lay = spec.layout();
    let x = uniform(&mut rng, n * lay.in_len, -1.0, 1.0);
    let w = uniform(&mut rng, lay.w_len, -0.5, 0.5);
    let b = spec.bias.then(|| uniform(&mut rng, lay.b_len, -0.3, 0.3));
    let g = uniform(&mut rng, n * lay.out_len, -1.0, 1.0);
    let runs = [false, true].map(|wide| {
        let cfg = spec.cfg_tiled(wide);
        run_block(
            &client,
            &lay,
            n,
            cap,
            &x,
            &w,
            b.as_deref(),
            &g,
            |gpu| gpu.conv_forward(cfg, n, cap),
            |gpu| {
                // d(input) reads the weights, so it runs before the update.
                gpu.conv_out_grad(cfg, n, cap);
                gpu.conv_input_grad(cfg, n, cap);
                gpu.conv_weight_grad(cfg, n, cap, sgd);
            },
        )
    });
    let b64 = b.as_deref().map(f64s);
    let r = conv_block_ref(&spec, n, &f64s(&x), &f64s(&w), b64.as_deref(), &f64s(&g));
    if spec.act.is_some() && spec.pool.is_none() {
        // Both branches of the activation (relu clips, leaky relu scales, ...) are exercised.
        let negative = r.pre.iter().filter(|&&v| v <= 0.0).count();
        assert!(
            negative > 0 && negative < r.pre.len(),
            "{what}: the pre-activations should have both signs"
        );
    }
    for (run, wide) in runs.iter().zip([false, true]) {
        check_block(
            &format!("{what} (wide tiles: {wide})"),
            &lay,
            run,
            n,
            cap,
            &r,
            sgd,
        );
    }
    // Tiles split the work, never the sums: both runs agree bitwise.
    assert_eq!(
        (&runs[0].bwd.acts, &runs[0].bwd.params, &runs[0].bwd.grads),
        (&runs[1].bwd.acts, &runs[1].bwd.params, &runs[1].bwd.grads),
        "{what}: wide and single-element tiles differ"
    );
}

#[test]
fn conv_plain_non_square_kernel() {
    let spec = ConvSpec {
        c_in: 2,
        h: 7,
        w: 6,
        c_out: 3,
        k: (3, 2),
        stride: (1, 1),
        pad: (0, 0),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::None,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 1,
    };
    conv_case("plain 2->3, 7x6, k 3x2", 1, spec, 2, 2, SgdArgs::NO_UPDATE);
}

#[test]
fn conv_plain_with_first_sgd_step() {
    let spec = ConvSpec {
        c_in: 2,
        h: 7,
        w: 6,
        c_out: 3,
        k: (3, 2),
        stride: (1, 1),
        pad: (0, 0),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::None,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 1,
    };
    let sgd = SgdArgs {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.3,
        weight_decay: 0.01,
        flags: SgdFlags::FIRST_STEP,
    };
    conv_case("plain 2->3 + SGD first step", 2, spec, 2, 2, sgd);
}

#[test]
fn conv_per_axis_stride_padding_dilation_relu_batch_1() {
    let spec = ConvSpec {
        c_in: 2,
        h: 9,
        w: 8,
        c_out: 4,
        k: (3, 2),
        stride: (2, 1),
        pad: (1, 2),
        pad_extra: (0, 0),
        dil: (1, 2),
        groups: 1,
        bias: true,
        act: Act::Relu,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 2,
    };
    conv_case(
        "stride (2,1) pad (1,2) dil (1,2) + relu",
        3,
        spec,
        1,
        1,
        SgdArgs::NO_UPDATE,
    );
}

/// Unpadded convs whose every tap lies inside the input (`ConvCfg::taps_inside`), where the
/// cpu target's weight-gradient unit reads the taps straight from the input rows: strided and
/// dilated on both axes with 4 rows of 4 columns packed in one lane group (and a last input
/// column no tap reads), and 20-column rows over two lane groups (the second one 4 lanes).
#[test]
fn conv_unpadded_taps_read_directly_strided_dilated_and_wide_rows() {
    for (what, seed, c, hw, k, stride, dil, groups) in [
        (
            "4->6 groups 2, 17x10, k 3x2, stride (2,2), dil (1,2) + relu",
            21,
            (4, 6),
            (17, 10),
            (3, 2),
            (2, 2),
            (1, 2),
            2,
        ),
        (
            "3->4, 8x24, k 5x5 + relu",
            22,
            (3, 4),
            (8, 24),
            (5, 5),
            (1, 1),
            (1, 1),
            1,
        ),
    ] {
        let spec = ConvSpec {
            c_in: c.0,
            h: hw.0,
            w: hw.1,
            c_out: c.1,
            k,
            stride,
            pad: (0, 0),
            pad_extra: (0, 0),
            dil,
            groups,
            bias: true,
            act: Act::Relu,
            pool: NO_POOL,
            ceil_mode: false,
            ocb: 1,
        };
        let cfg = spec.cfg_tiled(true);
        assert!(cfg.taps_inside(), "{what}: every tap inside");
        conv_case(what, seed, spec, 3, 4, SgdArgs::NO_UPDATE);
    }
}

#[test]
fn conv_relu_pool_2x2_short_batch_nesterov() {
    let spec = ConvSpec {
        c_in: 3,
        h: 8,
        w: 9,
        c_out: 2,
        k: (3, 3),
        stride: (1, 1),
        pad: (1, 1),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: false,
        act: Act::Relu,
        pool: Some(((2, 2), (2, 2), (0, 0))),
        ceil_mode: false,
        ocb: 2,
    };
    // Not the first step: the momentum buffer holds the arena's initial values.
    let sgd = SgdArgs {
        lr: 0.05,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.1,
        flags: SgdFlags::NESTEROV,
    };
    conv_case(
        "3->2 pad 1 + relu + pool 2/2, n 3 of cap 4",
        4,
        spec,
        3,
        4,
        sgd,
    );
}

#[test]
fn conv_relu_overlapping_pool_3_stride_2_short_batch() {
    let spec = ConvSpec {
        c_in: 1,
        h: 9,
        w: 7,
        c_out: 2,
        k: (2, 3),
        stride: (1, 1),
        pad: (0, 0),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::Relu,
        pool: Some(((3, 3), (2, 2), (0, 0))),
        ceil_mode: false,
        ocb: 1,
    };
    conv_case(
        "1->2 k 2x3 + relu + pool 3/2 (overlapping), n 2 of cap 3",
        5,
        spec,
        2,
        3,
        SgdArgs::NO_UPDATE,
    );
}

/// PyTorch's `padding = "same"` for even kernels pads `total / 2` before and the rest after:
/// a 2 x 4 kernel (total 1 x 3: 0 x 1 before, 1 x 2 after) keeps 6 x 7 with the tiled
/// forward; a 2 x 2 kernel (total 1 x 1: all after) keeps 7 x 7 before a pool 3 / 2 whose
/// last window covers the last conv row and column, with the per-window forward (whose
/// unchecked path, taken when nothing is padded before, must not run).
#[test]
fn conv_same_padding_even_kernel_pads_one_more_after() {
    for (what, seed, k, pad, hw, pool) in [
        (
            "2->3 k 2x4 same (0,1)+(1,1) + relu",
            13,
            (2, 4),
            (0, 1),
            (6, 7),
            None,
        ),
        (
            "2->3 k 2x2 same (0,0)+(1,1) + relu + pool 3/2",
            14,
            (2, 2),
            (0, 0),
            (7, 7),
            Some(((3, 3), (2, 2), (0, 0))),
        ),
    ] {
        let spec = ConvSpec {
            c_in: 2,
            h: hw.0,
            w: hw.1,
            c_out: 3,
            k,
            stride: (1, 1),
            pad,
            pad_extra: (1, 1),
            dil: (1, 1),
            groups: 1,
            bias: true,
            act: Act::Relu,
            pool,
            ceil_mode: false,
            ocb: 3,
        };
        let cs = spec.conv_shape(1);
        assert_eq!((cs.h_out(), cs.w_out()), hw, "{what}: same size");
        conv_case(what, seed, spec, 3, 4, SgdArgs::NO_UPDATE);
    }
}

#[test]
fn conv_strided_padded_pool_per_axis_without_relu() {
    let spec = ConvSpec {
        c_in: 2,
        h: 10,
        w: 9,
        c_out: 2,
        k: (3, 3),
        stride: (2, 2),
        pad: (1, 1),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::None,
        // kernel (2,3), stride (2,1), -inf padding (1,1): windows overlap along W.
        pool: Some(((2, 3), (2, 1), (1, 1))),
        ceil_mode: false,
        ocb: 2,
    };
    conv_case(
        "2->2 stride 2 pad 1 + pool k (2,3) s (2,1) p (1,1)",
        6,
        spec,
        2,
        2,
        SgdArgs::NO_UPDATE,
    );
}

/// Every activation fused after a padded, strided conv (no pool), short batch, momentum
/// step: forward, d(input), weight gradients and SGD against the f64 reference
/// (`reference::activation_*`).
#[test]
fn conv_block_with_each_activation() {
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        let spec = ConvSpec {
            c_in: 2,
            h: 7,
            w: 6,
            c_out: 4,
            k: (3, 2),
            stride: (2, 1),
            pad: (1, 1),
            pad_extra: (0, 0),
            dil: (1, 1),
            groups: 1,
            bias: true,
            act,
            pool: NO_POOL,
            ceil_mode: false,
            ocb: 2,
        };
        let sgd = SgdArgs::MOMENTUM;
        conv_case(
            &format!("2->4 k (3,2) s (2,1) p 1 + {act:?}, n 3 of cap 4"),
            40 + i as u64,
            spec,
            3,
            4,
            sgd,
        );
    }
}

/// Every activation followed by an overlapping max-pool (the pool takes the maximum of the
/// activated values and the backward follows its argmax; GELU's stored pre-activation is
/// that of the selected element).
#[test]
fn conv_activation_then_pool_with_each_activation() {
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        let spec = ConvSpec {
            c_in: 3,
            h: 8,
            w: 7,
            c_out: 2,
            k: (3, 3),
            stride: (1, 1),
            pad: (1, 0),
            pad_extra: (0, 0),
            dil: (1, 1),
            groups: 1,
            bias: true,
            act,
            pool: Some(((3, 2), (2, 1), (1, 0))),
            ceil_mode: false,
            ocb: 1,
        };
        conv_case(
            &format!("3->2 k 3 + {act:?} + pool k (3,2) s (2,1) p (1,0), n 2 of cap 3"),
            50 + i as u64,
            spec,
            2,
            3,
            SgdArgs::NO_UPDATE,
        );
    }
}

/// `ceil_mode` pool with no padding anywhere: the last window of each axis runs past the
/// conv output's end (conv 5 x 6, pool k 2 s 2: torch gives 3 x 3, floor 2 x 3), so the
/// forward must not take the unchecked no-padding path; ReLU, momentum step.
#[test]
fn conv_relu_ceil_mode_pool_without_padding() {
    let spec = ConvSpec {
        c_in: 2,
        h: 7,
        w: 8,
        c_out: 4,
        k: (3, 3),
        stride: (1, 1),
        pad: (0, 0),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::Relu,
        pool: Some(((2, 2), (2, 2), (0, 0))),
        ceil_mode: true,
        ocb: 2,
    };
    let cfg = spec.cfg();
    assert_eq!((cfg.conv_h, cfg.conv_w), (5, 6));
    assert_eq!((cfg.out_h, cfg.out_w), (3, 3));
    assert!(!cfg.pool.fits());
    let sgd = SgdArgs {
        lr: 0.05,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.0,
        flags: 0,
    };
    conv_case(
        "2->4 k 3 + relu + pool k 2 s 2 ceil_mode, n 3 of cap 4",
        70,
        spec,
        3,
        4,
        sgd,
    );
}

/// `ceil_mode` with conv padding, pool padding and stride != kernel: conv 10 x 8 (k 3 p 1),
/// pool k (3, 2) s (2, 3) p (1, 1): torch gives 6 x 3 (floor 5 x 3; along H the sixth window
/// starts at row 9 and covers rows 9..=10 of which only 9 exists, along W the fourth would
/// start at 3 * 3 - 1 = 8 >= 8, past the input, and is dropped).
#[test]
fn conv_padded_ceil_mode_pool_stride_not_kernel() {
    let spec = ConvSpec {
        c_in: 3,
        h: 10,
        w: 8,
        c_out: 2,
        k: (3, 3),
        stride: (1, 1),
        pad: (1, 1),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 1,
        bias: true,
        act: Act::None,
        pool: Some(((3, 2), (2, 3), (1, 1))),
        ceil_mode: true,
        ocb: 1,
    };
    let cfg = spec.cfg();
    assert_eq!((cfg.conv_h, cfg.conv_w), (10, 8));
    assert_eq!((cfg.out_h, cfg.out_w), (6, 3));
    assert!(!cfg.pool.fits());
    conv_case(
        "3->2 k 3 p 1 + pool k (3,2) s (2,3) p (1,1) ceil_mode",
        71,
        spec,
        2,
        2,
        SgdArgs::NO_UPDATE,
    );
}

/// Every activation, then a `ceil_mode` pool whose last column of windows covers one conv
/// column of three: conv 7 x 7, pool k 3 s (2, 3) p (1, 0): torch gives 4 x 3 (floor 4 x 2).
#[test]
fn conv_activation_then_ceil_mode_pool_with_each_activation() {
    for (i, act) in ACTIVATIONS.into_iter().enumerate() {
        let spec = ConvSpec {
            c_in: 2,
            h: 7,
            w: 9,
            c_out: 2,
            k: (3, 3),
            stride: (1, 1),
            pad: (1, 0),
            pad_extra: (0, 0),
            dil: (1, 1),
            groups: 1,
            bias: true,
            act,
            pool: Some(((3, 3), (2, 3), (1, 0))),
            ceil_mode: true,
            ocb: 2,
        };
        let cfg = spec.cfg();
        assert_eq!((cfg.conv_h, cfg.conv_w), (7, 7));
        assert_eq!((cfg.out_h, cfg.out_w), (4, 3));
        conv_case(
            &format!("2->2 k 3 + {act:?} + pool k 3 s (2,3) p (1,0) ceil_mode, n 2 of cap 3"),
            72 + i as u64,
            spec,
            2,
            3,
            SgdArgs::NO_UPDATE,
        );
    }
}

/// Grouped convolution (`groups` = 2 of 4 -> 6 channels, strided and padded, under a pool
/// and a SiLU) and depthwise (`groups` = `in_channels` = 3, 3 -> 6, dilated, relu), with a
/// momentum step: output channel `o` reads only the input channels of its group, the weight
/// is `out x in / groups x kh x kw` (torch.nn.Conv2d).
#[test]
fn grouped_and_depthwise_conv() {
    let sgd = SgdArgs::MOMENTUM;
    let grouped = ConvSpec {
        c_in: 4,
        h: 9,
        w: 8,
        c_out: 6,
        k: (3, 2),
        stride: (1, 2),
        pad: (1, 1),
        pad_extra: (0, 0),
        dil: (1, 1),
        groups: 2,
        bias: true,
        act: Act::Silu,
        pool: Some(((2, 2), (2, 2), (0, 0))),
        ceil_mode: false,
        ocb: 3,
    };
    conv_case(
        "grouped 4->6 groups 2 + silu + pool",
        60,
        grouped,
        3,
        4,
        sgd,
    );
    let depthwise = ConvSpec {
        c_in: 3,
        h: 7,
        w: 7,
        c_out: 6,
        k: (3, 3),
        stride: (1, 1),
        pad: (2, 2),
        pad_extra: (0, 0),
        dil: (2, 2),
        groups: 3,
        bias: false,
        act: Act::Relu,
        pool: NO_POOL,
        ceil_mode: false,
        ocb: 2,
    };
    conv_case(
        "depthwise 3->6 groups 3, dilation 2 + relu",
        61,
        depthwise,
        2,
        2,
        sgd,
    );
}
