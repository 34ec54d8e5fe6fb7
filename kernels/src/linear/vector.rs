//! The linear block's units on the `cpu` target (`LinearCfg::vector`): 16 features per
//! explicit vector, so that one load of a weight or activation feeds several rows.
//!
//! - forward: 16 outputs x `rb` rows, summed over the unit's range of inputs;
//! - input gradient: 16 inputs x `rb` rows, summed over the outputs;
//! - weight gradient: `ob` outputs x 16 inputs, summed over the batch in blocks of
//!   [`SUM_BLOCK`] samples.
//!
//! Lanes are different outputs, never parts of one sum: every value is the same chain of
//! fused multiply-adds, in the same order, as in the scalar units, so both targets give the
//! same bits. A last tile narrower than 16
//! reads clamped indices and stores only its real lanes.
use cubecl::prelude::*;

use super::{linear_out_grad, LinearCfg, SUM_BLOCK};
use crate::act::activate;
use crate::sgd::sgd_update;

/// Features per vector.
pub const LANES: usize = 16;

type V = Vector<f32, Const<16>>;

/// Forward unit of the vector layout (see [`super::linear_forward_unit`]).
#[cube]
pub fn forward(
    params: &mut [f32],
    acts: &mut [f32],
    part: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let rb = comptime!(cfg.rb);
    let out_f = comptime!(cfg.out_features);
    let n_ot = comptime!(cfg.out_features.div_ceil(LANES));
    let n_rb = comptime!(n.div_ceil(cfg.rb));
    let k_len = comptime!(cfg.in_features / cfg.k_splits);
    let split = comptime!(cfg.k_splits > 1);
    let o0 = (unit % n_ot) * LANES;
    let r0 = ((unit / n_ot) % n_rb) * rb;
    let kk = unit / comptime!(n_ot * n.div_ceil(cfg.rb));
    let k0 = kk * k_len;
    let mut acc = Array::<V>::new(comptime!(cfg.rb));
    let mut b = V::new(0.0f32);
    if comptime!(cfg.bias && !split) {
        #[unroll]
        for l in 0..LANES {
            b.insert(l, params[cfg.b_off + min(o0 + l, comptime!(out_f - 1))]);
        }
    }
    #[unroll]
    for r in 0..rb {
        acc[r] = b;
    }
    let x_base = comptime!(cfg.in_act * cap);
    for i in k0..k0 + k_len {
        let mut wv = V::new(0.0f32);
        #[unroll]
        for l in 0..LANES {
            let o = min(o0 + l, comptime!(out_f - 1));
            wv.insert(l, params[cfg.w_off + o * cfg.in_features + i]);
        }
        #[unroll]
        for r in 0..rb {
            let row = min(r0 + r, n - 1);
            let xv = V::new(acts[x_base + row * cfg.in_features + i]);
            acc[r] = fma(wv, xv, acc[r]);
        }
    }
    let y_base = comptime!(cfg.out_act * cap);
    let p_base = comptime!(cfg.part_a * cap + cfg.part_b);
    #[unroll]
    for r in 0..rb {
        if r0 + r < n {
            let v = acc[r];
            #[unroll]
            for l in 0..LANES {
                if o0 + l < out_f {
                    let pre = v.extract(l);
                    if comptime!(split) {
                        part[p_base
                            + (r0 + r) * comptime!(cfg.split_len())
                            + kk * out_f
                            + o0
                            + l] = pre;
                    } else {
                        let at = (r0 + r) * out_f + o0 + l;
                        acts[y_base + at] = activate(pre, cfg.act);
                        if comptime!(cfg.act.needs_pre()) {
                            acts[comptime!(cfg.pre_act * cap) + at] = pre;
                        }
                    }
                }
            }
        }
    }
}

/// Input-gradient unit of the vector layout (see [`super::linear_input_grad_unit`]).
#[cube]
pub fn input_grad(
    params: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let rb = comptime!(cfg.rb);
    let in_f = comptime!(cfg.in_features);
    let n_it = comptime!(cfg.in_features.div_ceil(LANES));
    let i0 = (unit % n_it) * LANES;
    let r0 = (unit / n_it) * rb;
    let mut acc = Array::<V>::new(comptime!(cfg.rb));
    #[unroll]
    for r in 0..rb {
        acc[r] = V::new(0.0f32);
    }
    for o in 0..cfg.out_features {
        let mut wv = V::new(0.0f32);
        #[unroll]
        for l in 0..LANES {
            wv.insert(
                l,
                params[cfg.w_off + o * in_f + min(i0 + l, comptime!(in_f - 1))],
            );
        }
        #[unroll]
        for r in 0..rb {
            let row = min(r0 + r, n - 1);
            let g = V::new(linear_out_grad(acts, row, o, cfg, cap));
            acc[r] = fma(g, wv, acc[r]);
        }
    }
    let base = comptime!(cfg.in_grad * cap);
    #[unroll]
    for r in 0..rb {
        if r0 + r < n {
            let v = acc[r];
            #[unroll]
            for l in 0..LANES {
                if i0 + l < in_f {
                    acts[base + (r0 + r) * in_f + i0 + l] = v.extract(l);
                }
            }
        }
    }
}

/// Weight-gradient unit of the vector layout for `unit < weight_grad_units() - bias units`:
/// `ob` outputs x 16 inputs of the weight, summed over the batch in blocks of
/// [`SUM_BLOCK`] samples (as the scalar unit), stored in `grads`, then SGD.
#[cube]
// `a = a + b` on vectors: the form the cube macro expands for array elements.
#[allow(clippy::too_many_arguments, clippy::assign_op_pattern)]
pub fn weight_grad(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let ob = comptime!(cfg.ob);
    let in_f = comptime!(cfg.in_features);
    let n_it = comptime!(cfg.in_features.div_ceil(LANES));
    let o0 = (unit / n_it) * ob;
    let i0 = (unit % n_it) * LANES;
    let x_base = comptime!(cfg.in_act * cap);
    let mut acc = Array::<V>::new(comptime!(cfg.ob));
    let mut part = Array::<V>::new(comptime!(cfg.ob));
    #[unroll]
    for o in 0..ob {
        acc[o] = V::new(0.0f32);
    }
    for chunk in 0..comptime!(n.div_ceil(SUM_BLOCK)) {
        #[unroll]
        for o in 0..ob {
            part[o] = V::new(0.0f32);
        }
        let end = min((chunk + 1) * SUM_BLOCK, n);
        for s in chunk * SUM_BLOCK..end {
            let mut xv = V::new(0.0f32);
            #[unroll]
            for l in 0..LANES {
                xv.insert(
                    l,
                    acts[x_base + s * in_f + min(i0 + l, comptime!(in_f - 1))],
                );
            }
            #[unroll]
            for o in 0..ob {
                let g = V::new(linear_out_grad(acts, s, o0 + o, cfg, cap));
                part[o] = fma(g, xv, part[o]);
            }
        }
        #[unroll]
        for o in 0..ob {
            acc[o] = acc[o] + part[o];
        }
    }
    #[unroll]
    for o in 0..ob {
        let v = acc[o];
        #[unroll]
        for l in 0..LANES {
            if i0 + l < in_f {
                sgd_update(
                    params,
                    velocity,
                    grads,
                    cfg.w_off + (o0 + o) * in_f + i0 + l,
                    v.extract(l),
                    lr,
                    momentum,
                    dampening,
                    weight_decay,
                    flags,
                );
            }
        }
    }
}
