//! Conv and linear blocks in the tests: their specs, arena layouts and f64 references.
use cubenet_kernels::conv::ConvTiles;
use cubenet_kernels::reference::{self as r, Activation, Conv2dShape, LinearShape, MaxPool2dShape};
use cubenet_kernels::{Act, ConvCfg, LinearCfg, MaxPoolCfg};

use super::abs;

/// Parameters start this far into the parameter arenas (the gap must stay untouched).
pub const PARAM_PAD: usize = 3;
/// Initial value of every arena element a test did not fill (must survive unless written).
pub const SENTINEL: f32 = -4321.0;
/// Initial value of every `idx` element.
pub const IDX_SENTINEL: u32 = 0xDEAD_BEEF;

/// A max-pool as (kernel, stride, padding), each `(along H, along W)`.
pub type PoolSpec = ((usize, usize), (usize, usize), (usize, usize));

/// A conv block without a pool.
pub const NO_POOL: Option<PoolSpec> = None;

/// The f64 reference of a kernel activation (`None` for `Act::None`).
pub fn reference_act(act: Act) -> Option<Activation> {
    match act {
        Act::None => None,
        Act::Relu => Some(Activation::Relu),
        Act::Tanh => Some(Activation::Tanh),
        Act::Sigmoid => Some(Activation::Sigmoid),
        Act::LeakyRelu(_) => Some(Activation::LeakyRelu(act.slope() as f64)),
        Act::Gelu => Some(Activation::Gelu),
        Act::GeluTanh => Some(Activation::GeluTanh),
        Act::Silu => Some(Activation::Silu),
        Act::Relu6 => Some(Activation::Relu6),
        Act::Hardswish => Some(Activation::Hardswish),
    }
}

/// Every activation a block can fuse (LeakyRelu with a non-default slope).
pub const ACTIVATIONS: [Act; 9] = [
    Act::Relu,
    Act::Tanh,
    Act::Sigmoid,
    Act::leaky_relu(0.2),
    Act::Gelu,
    Act::GeluTanh,
    Act::Silu,
    Act::Relu6,
    Act::Hardswish,
];

/// A conv block as the tests describe it: conv (+ bias) (+ activation) (+ max-pool).
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub k: (usize, usize),
    pub stride: (usize, usize),
    pub pad: (usize, usize),
    /// Zero rows and columns after the input beyond `pad` (`padding = "same"` with an odd
    /// total: 1).
    pub pad_extra: (usize, usize),
    pub dil: (usize, usize),
    /// `groups` (divides `c_in` and `c_out`).
    pub groups: usize,
    pub bias: bool,
    pub act: Act,
    /// Pool (kernel, stride, padding), per axis.
    pub pool: Option<PoolSpec>,
    /// The pool's `ceil_mode`.
    pub ceil_mode: bool,
    pub ocb: usize,
}

impl ConvSpec {
    pub fn conv_shape(&self, n: usize) -> Conv2dShape {
        let (c_in, h_in, w_in, c_out) = (self.c_in, self.h, self.w, self.c_out);
        Conv2dShape {
            n,
            c_in,
            h_in,
            w_in,
            c_out,
            kernel: self.k,
            stride: self.stride,
            padding: self.pad,
            padding_extra: self.pad_extra,
            dilation: self.dil,
            groups: self.groups,
        }
    }

    pub fn pool_shape(&self, n: usize) -> Option<MaxPool2dShape> {
        let c = self.conv_shape(n);
        let (h_in, w_in) = (c.h_out(), c.w_out());
        self.pool.map(|(kernel, stride, padding)| MaxPool2dShape {
            n,
            c: self.c_out,
            h_in,
            w_in,
            kernel,
            stride,
            padding,
            ceil_mode: self.ceil_mode,
        })
    }

    /// The block's `ConvCfg` in the test layout (see [`Layout`]), with one output channel
    /// group of `ocb` per unit and single-element tiles elsewhere (the GPU row).
    pub fn cfg(&self) -> ConvCfg {
        self.cfg_tiled(false)
    }

    /// Whether the forward pass is the tiled one (as the macro decides): no pool, or one whose
    /// windows tile the conv plane.
    pub fn fast_forward(&self) -> bool {
        let cs = self.conv_shape(1);
        match self.pool_shape(1) {
            None => true,
            Some(p) => {
                p.stride == p.kernel
                    && p.padding == (0, 0)
                    && p.h_out() * p.kernel.0 <= cs.h_out()
                    && p.w_out() * p.kernel.1 <= cs.w_out()
            }
        }
    }

    /// The block's `ConvCfg`; `wide`: multi-element tiles as on the cpu target (whole rows,
    /// several channels, 16-wide vectors when the kernels run on the cpu runtime), else the
    /// GPU row's single-element tiles. Both must give the reference's values.
    pub fn cfg_tiled(&self, wide: bool) -> ConvCfg {
        let cs = self.conv_shape(1);
        let (h_conv, w_conv) = (cs.h_out(), cs.w_out());
        let pool = max_pool_cfg(self.pool_shape(1).as_ref(), (h_conv, w_conv));
        let (h_out, w_out) = (pool.out_h, pool.out_w);
        let in_len = self.c_in * self.h * self.w;
        let out_len = self.c_out * h_out * w_out;
        let w_len = self.c_out * (self.c_in / self.groups) * self.k.0 * self.k.1;
        let has_dconv = self.act.is_some() || self.pool.is_some();
        // After the pre-activation (as `Layout::dconv`).
        let dconv = 2 * in_len + 2 * out_len + if self.act.needs_pre() { out_len } else { 0 };
        let fast_forward = self.fast_forward();
        let packed = if w_conv < 16 && 16 % w_conv == 0 {
            16 / w_conv
        } else {
            1
        };
        let fits = |r: &usize| h_conv % r == 0 && r * w_conv <= 128;
        let chunk_rows = (1..=h_conv)
            .rev()
            .find(|r| fits(r) && r % packed == 0)
            .or_else(|| (1..=h_conv).rev().find(fits))
            .unwrap_or(1);
        // Whole planes of several samples per chunk (the last chunk short in most cases).
        let chunk_samples = if chunk_rows == h_conv {
            (128 / (h_conv * w_conv)).max(1)
        } else {
            1
        };
        let div = |n: usize, at_most: usize| {
            (1..=n.min(at_most))
                .rev()
                .find(|d| n.is_multiple_of(*d))
                .unwrap()
        };
        let (out_g, in_g) = (self.c_out / self.groups, self.c_in / self.groups);
        let tiles = if wide {
            ConvTiles {
                oc: div(out_g, 4),
                rows: if fast_forward { div(h_out, 2) } else { 1 },
                cols: if fast_forward { w_out } else { 1 },
                in_c: div(in_g, 4),
                in_rows: div(self.h, 2),
                in_cols: self.w,
                wg_oc: div(out_g, 3),
                wg_kx: self.k.1,
                og_rows: h_conv,
                vector: cfg!(feature = "test-cpu"),
            }
        } else {
            ConvTiles {
                oc: self.ocb,
                rows: 1,
                cols: 1,
                in_c: 1,
                in_rows: 1,
                in_cols: 1,
                wg_oc: 1,
                wg_kx: 1,
                og_rows: 1,
                vector: false,
            }
        };
        ConvCfg {
            in_channels: self.c_in,
            out_channels: self.c_out,
            groups: self.groups,
            in_h: self.h,
            in_w: self.w,
            kernel_h: self.k.0,
            kernel_w: self.k.1,
            stride_h: self.stride.0,
            stride_w: self.stride.1,
            padding_h: self.pad.0,
            padding_w: self.pad.1,
            padding_extra_h: self.pad_extra.0,
            padding_extra_w: self.pad_extra.1,
            dilation_h: self.dil.0,
            dilation_w: self.dil.1,
            conv_h: h_conv,
            conv_w: w_conv,
            act: self.act,
            pool,
            out_h: h_out,
            out_w: w_out,
            bias: self.bias,
            w_off: PARAM_PAD,
            b_off: if self.bias { PARAM_PAD + w_len } else { 0 },
            in_act: 0,
            out_act: in_len,
            out_grad: in_len + out_len,
            in_grad: in_len + 2 * out_len,
            pre_act: 2 * in_len + 2 * out_len,
            argmax: 1,
            dconv: if has_dconv { dconv } else { in_len + out_len },
            fast_forward,
            chunk_rows,
            chunk_samples,
            // The block's partial sums start the `part` arena.
            part_a: 0,
            part_b: 0,
            accumulate: false,
            add_skip_grad: false,
            skip_grad: 0,
            tiles,
        }
    }

    pub fn layout(&self) -> Layout {
        let c = self.cfg();
        Layout {
            in_len: c.in_len(),
            out_len: c.out_len(),
            w_len: c.out_channels * c.in_per_group() * c.kernel_h * c.kernel_w,
            b_len: if c.bias { c.out_channels } else { 0 },
            pooled: c.pool.pooled,
            pre: c.act.needs_pre(),
            dconv_len: if c.has_dconv() { c.conv_len() } else { 0 },
            part_per_sample: c.chunks(1) * c.num_params(),
        }
    }
}

/// The kernels' `MaxPoolCfg` of `pool` over an `in_hw` plane (without a pool: a 1 x 1
/// window, `pooled: false`).
pub fn max_pool_cfg(pool: Option<&MaxPool2dShape>, in_hw: (usize, usize)) -> MaxPoolCfg {
    let ((kernel_h, kernel_w), (stride_h, stride_w), (padding_h, padding_w), out_h, out_w) =
        match pool {
            Some(p) => (p.kernel, p.stride, p.padding, p.h_out(), p.w_out()),
            None => ((1, 1), (1, 1), (0, 0), in_hw.0, in_hw.1),
        };
    MaxPoolCfg {
        pooled: pool.is_some(),
        kernel_h,
        kernel_w,
        stride_h,
        stride_w,
        padding_h,
        padding_w,
        in_h: in_hw.0,
        in_w: in_hw.1,
        out_h,
        out_w,
    }
}

/// A linear block (+ bias) (+ activation) and its unit blocking.
#[derive(Clone, Copy, Debug)]
pub struct LinearSpec {
    pub in_f: usize,
    pub out_f: usize,
    pub act: Act,
    pub bias: bool,
    pub rb: usize,
    pub ob: usize,
    pub ib: usize,
    /// Split-K ranges of the forward sum (1: none).
    pub k_splits: usize,
}

impl LinearSpec {
    /// The block's `LinearCfg` in the test layout (see [`Layout`]).
    pub fn cfg(&self) -> LinearCfg {
        let (i, o) = (self.in_f, self.out_f);
        LinearCfg {
            in_features: i,
            out_features: o,
            act: self.act,
            bias: self.bias,
            w_off: PARAM_PAD,
            b_off: if self.bias { PARAM_PAD + i * o } else { 0 },
            in_act: 0,
            out_act: i,
            out_grad: i + o,
            in_grad: i + 2 * o,
            pre_act: 2 * i + 2 * o,
            rb: self.rb,
            ob: self.ob,
            ib: self.ib,
            vector: false,
            k_splits: self.k_splits,
            part_a: 0,
            part_b: 0,
        }
    }

    pub fn layout(&self) -> Layout {
        let b_len = if self.bias { self.out_f } else { 0 };
        Layout {
            in_len: self.in_f,
            out_len: self.out_f,
            w_len: self.in_f * self.out_f,
            b_len,
            pooled: false,
            pre: self.act.needs_pre(),
            dconv_len: 0,
            part_per_sample: self.cfg().split_len(),
        }
    }
}

/// The test layout of one block. Parameters: `PARAM_PAD` untouched floats, the weight, the
/// bias, 2 untouched floats. Per sample in `acts`: input (offset 0), output, d(output),
/// d(input), and the pre-activation when the activation needs it (GELU); in `idx`: 1
/// untouched u32, then the pool argmax.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub in_len: usize,
    pub out_len: usize,
    pub w_len: usize,
    pub b_len: usize,
    pub pooled: bool,
    /// Whether the block stores its pre-activation.
    pub pre: bool,
    /// Floats per sample of the conv's dense d(conv output) (0 without one).
    pub dconv_len: usize,
    /// Floats of weight-gradient partial sums per sample of capacity.
    pub part_per_sample: usize,
}

impl Layout {
    pub fn out_act(&self) -> usize {
        self.in_len
    }
    pub fn out_grad(&self) -> usize {
        self.in_len + self.out_len
    }
    pub fn in_grad(&self) -> usize {
        self.in_len + 2 * self.out_len
    }
    pub fn pre_act(&self) -> usize {
        2 * self.in_len + 2 * self.out_len
    }
    /// d(conv output), after the pre-activation.
    pub fn dconv(&self) -> usize {
        self.pre_act() + if self.pre { self.out_len } else { 0 }
    }
    /// Floats per sample in `acts`.
    pub fn per_sample(&self) -> usize {
        self.dconv() + self.dconv_len
    }
    pub fn params_len(&self) -> usize {
        PARAM_PAD + self.w_len + self.b_len + 2
    }
}

/// The f64 reference of a block on `n` samples, with the scales (sums of absolute terms) of
/// every value for [`tol`].
pub struct BlockRef {
    pub out: Vec<f64>,
    pub out_scale: Vec<f64>,
    /// The pre-activation behind each output (at the pool's argmax), for blocks that store it.
    pub pre: Vec<f64>,
    /// Pool argmax as PyTorch's indices (`y * w_conv + x` in the conv plane).
    pub argmax: Option<Vec<usize>>,
    pub grad_x: Vec<f64>,
    pub grad_x_scale: Vec<f64>,
    pub grad_w: Vec<f64>,
    pub grad_w_scale: Vec<f64>,
    pub grad_b: Vec<f64>,
    pub grad_b_scale: Vec<f64>,
    /// d(loss)/d(conv output), with its scales (conv blocks; empty for linear ones).
    pub grad_conv: Vec<f64>,
    pub grad_conv_scale: Vec<f64>,
}

impl BlockRef {
    /// Checks the reference's output and gradients against PyTorch's in `case` (the op cases
    /// of `scripts/op_cases.py`, 1e-9 relative) and puts PyTorch's values in their place,
    /// with zero scales, so that the kernel is then checked against PyTorch's numbers.
    pub fn take_pytorch(&mut self, name: &str, case: &serde_json::Value) {
        use super::{assert_same, output};
        let zeros = |v: &[f64]| vec![0.0; v.len()];
        let out = output(case, "output");
        assert_same(&format!("{name} output"), &self.out, &out);
        (self.out, self.out_scale) = (out.clone(), zeros(&out));
        let gx = output(case, "grad_x");
        assert_same(&format!("{name} grad_x"), &self.grad_x, &gx);
        (self.grad_x, self.grad_x_scale) = (gx.clone(), zeros(&gx));
        if case["outputs"].get("grad_weight").is_some() {
            let gw = output(case, "grad_weight");
            assert_same(&format!("{name} grad_weight"), &self.grad_w, &gw);
            (self.grad_w, self.grad_w_scale) = (gw.clone(), zeros(&gw));
            let gb = output(case, "grad_bias");
            assert_same(&format!("{name} grad_bias"), &self.grad_b, &gb);
            (self.grad_b, self.grad_b_scale) = (gb.clone(), zeros(&gb));
        }
    }
}

/// `pool(act(conv2d(x, w, b)))` and its backward for the upstream gradient `g`, composed
/// from the reference ops.
pub fn conv_block_ref(
    spec: &ConvSpec,
    n: usize,
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    g: &[f64],
) -> BlockRef {
    let cs = spec.conv_shape(n);
    let conv = r::conv2d_forward(&cs, x, w, b);
    let conv_abs = r::conv2d_forward(&cs, &abs(x), &abs(w), b.map(abs).as_deref());
    let ra = reference_act(spec.act);
    let act = match ra {
        Some(a) => r::activation_forward(a, &conv),
        None => conv.clone(),
    };
    let (out, out_scale, pre, argmax, g_act) = match spec.pool_shape(n) {
        Some(ps) => {
            let p = r::max_pool2d_forward(&ps, &act);
            let (plane, plane_out) = (ps.h_in * ps.w_in, ps.h_out() * ps.w_out());
            let at = |i: usize| (i / plane_out) * plane + p.indices[i];
            let scale = (0..p.indices.len()).map(|i| conv_abs[at(i)]).collect();
            let pre = (0..p.indices.len()).map(|i| conv[at(i)]).collect();
            let g_act = r::max_pool2d_backward(&ps, &p.indices, g);
            (p.output, scale, pre, Some(p.indices), g_act)
        }
        None => (act, conv_abs, conv.clone(), None, g.to_vec()),
    };
    let g_conv = match ra {
        Some(a) => r::activation_backward(a, &conv, &g_act),
        None => g_act,
    };
    let gr = r::conv2d_backward(&cs, x, w, &g_conv);
    let sc = r::conv2d_backward(&cs, &abs(x), &abs(w), &abs(&g_conv));
    let grad_conv_scale = abs(&g_conv);
    let (grad_x, grad_x_scale, grad_w, grad_w_scale) = (gr.input, sc.input, gr.weight, sc.weight);
    BlockRef {
        out,
        out_scale,
        pre,
        argmax,
        grad_x,
        grad_x_scale,
        grad_w,
        grad_w_scale,
        grad_b: gr.bias,
        grad_b_scale: sc.bias,
        grad_conv: g_conv,
        grad_conv_scale,
    }
}

/// `act(linear(x, w, b))` and its backward for the upstream gradient `g`.
pub fn linear_block_ref(
    spec: &LinearSpec,
    n: usize,
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    g: &[f64],
) -> BlockRef {
    let s = LinearShape {
        n,
        in_features: spec.in_f,
        out_features: spec.out_f,
    };
    let pre = r::linear_forward(&s, x, w, b);
    let out_scale = r::linear_forward(&s, &abs(x), &abs(w), b.map(abs).as_deref());
    let (out, g_pre) = match reference_act(spec.act) {
        Some(a) => (
            r::activation_forward(a, &pre),
            r::activation_backward(a, &pre, g),
        ),
        None => (pre.clone(), g.to_vec()),
    };
    let gr = r::linear_backward(&s, x, w, &g_pre);
    let sc = r::linear_backward(&s, &abs(x), &abs(w), &abs(&g_pre));
    let (grad_x, grad_x_scale, grad_w, grad_w_scale) = (gr.input, sc.input, gr.weight, sc.weight);
    BlockRef {
        out,
        out_scale,
        pre,
        argmax: None,
        grad_x,
        grad_x_scale,
        grad_w,
        grad_w_scale,
        grad_b: gr.bias,
        grad_b_scale: sc.bias,
        grad_conv: Vec::new(),
        grad_conv_scale: Vec::new(),
    }
}
