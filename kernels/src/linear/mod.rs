//! A linear block: `Linear` (+ bias) (+ activation), forward and backward.
//!
//! `y = act(x W^T + b)` with `W` of shape `out_features x in_features` (torch.nn.Linear) and
//! `act` one of [`Act`]; relu'(0) = 0.
//!
//! A wide layer's forward sum over `in_features` is split into `k_splits` equal ranges
//! (split-K; `#[network]` picks `k_splits` from the shape alone, see
//! `macros/src/layers/linear.rs`): [`linear_forward_unit`] stores each range's
//! partial sum in the `part` arena and [`linear_forward_sum_unit`] adds them in range order to
//! the bias, then applies the activation. Without a split the forward unit does it all.
use cubecl::prelude::*;

use crate::act::{act_grad, activate, Act};
use crate::sgd::sgd_update;

pub mod reference;
pub mod vector;

/// Samples summed into one partial sum before it is added to the total, in weight gradients.
pub const SUM_BLOCK: usize = 32;

/// Comptime description of one linear block.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct LinearCfg {
    /// `in_features`.
    pub in_features: usize,
    /// `out_features`.
    pub out_features: usize,
    /// The activation that follows.
    pub act: Act,
    /// Whether the layer has a bias.
    pub bias: bool,
    /// Offset of the weight (`out_f x in_f`) in the parameter arenas.
    pub w_off: usize,
    /// Offset of the bias (`out_f`) in the parameter arenas.
    pub b_off: usize,
    /// Per-sample offset of the input in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the output in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts`.
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
    /// Per-sample offset of the pre-activation (`out_f` floats) in `acts`, stored only when
    /// `act.needs_pre()`.
    pub pre_act: usize,
    /// Rows (samples) per forward / input-gradient unit.
    pub rb: usize,
    /// Output features per forward unit (divides `out_f`).
    pub ob: usize,
    /// Input features per input-gradient and weight-gradient unit (divides `in_f`).
    pub ib: usize,
    /// The `cpu` target's layout ([`vector`]): 16 outputs per forward unit, 16 inputs per
    /// input-gradient unit, `ob` outputs x 16 inputs per weight-gradient unit, in explicit
    /// vectors (the same values as the scalar units).
    pub vector: bool,
    /// Ranges the forward sum is split into (1: none; `#[network]`'s rule: the largest of 8,
    /// 4, 2 dividing `in_features` into ranges of at least 256).
    pub k_splits: usize,
    /// Offset of the split-K partial sums (`k_splits x out_features` per sample) in the
    /// `part` arena: `part_a * cap + part_b` (unused when `k_splits == 1`).
    pub part_a: usize,
    /// See `part_a`.
    pub part_b: usize,
}

impl LinearCfg {
    /// Number of parameters (weight and bias).
    pub const fn num_params(&self) -> usize {
        self.out_features * self.in_features + if self.bias { self.out_features } else { 0 }
    }
    /// Per-sample offset in `acts` of the value the activation's derivative is computed
    /// from: the pre-activation for GELU, else the block output.
    pub const fn act_src(&self) -> usize {
        if self.act.needs_pre() {
            self.pre_act
        } else {
            self.out_act
        }
    }
    /// Output tiles of a forward unit: 16 outputs (the last one narrower) in the vector
    /// layout, else `ob`.
    pub const fn out_tiles(&self) -> usize {
        if self.vector {
            self.out_features.div_ceil(vector::LANES)
        } else {
            self.out_features / self.ob
        }
    }
    /// Input tiles of an input- or weight-gradient unit: 16 inputs in the vector layout, else
    /// `ib`.
    pub const fn in_tiles(&self) -> usize {
        if self.vector {
            self.in_features.div_ceil(vector::LANES)
        } else {
            self.in_features / self.ib
        }
    }
    /// Units of `linear_forward_unit` for a batch of `n`.
    pub const fn forward_units(&self, n: usize) -> usize {
        n.div_ceil(self.rb) * self.out_tiles() * self.k_splits
    }
    /// Units of `linear_forward_sum_unit` for a batch of `n` (0 without a split).
    pub const fn forward_sum_units(&self, n: usize) -> usize {
        if self.k_splits > 1 {
            n * self.out_features
        } else {
            0
        }
    }
    /// Loop iterations of one `linear_forward_sum_unit` invocation.
    pub const fn forward_sum_loop_iterations(&self) -> usize {
        self.k_splits
    }
    /// Floats per sample of the split-K partial sums in the `part` arena.
    pub const fn split_len(&self) -> usize {
        if self.k_splits > 1 {
            self.k_splits * self.out_features
        } else {
            0
        }
    }
    /// Units of `linear_input_grad_unit` for a batch of `n`.
    pub const fn input_grad_units(&self, n: usize) -> usize {
        n.div_ceil(self.rb) * self.in_tiles()
    }
    /// Loop iterations of one `linear_forward_unit` invocation (see [`crate::LOOP_LIMIT`]).
    pub const fn forward_loop_iterations(&self) -> usize {
        self.in_features / self.k_splits
    }
    /// Loop iterations of one `linear_input_grad_unit` invocation.
    pub const fn input_grad_loop_iterations(&self) -> usize {
        self.out_features
    }
    /// Loop iterations of one `linear_weight_grad_unit` invocation for a batch of `n`: the
    /// samples and their blocks of [`SUM_BLOCK`].
    pub const fn weight_grad_loop_iterations(&self, n: usize) -> usize {
        n + n.div_ceil(SUM_BLOCK)
    }
    /// Units of `linear_weight_grad_unit`: one per `ob x ib` block of the weight, plus one
    /// per bias.
    pub const fn weight_grad_units(&self) -> usize {
        self.weight_units() + if self.bias { self.out_features } else { 0 }
    }
    /// Weight-gradient units of the weight (the biases' follow).
    pub const fn weight_units(&self) -> usize {
        (self.out_features / self.ob) * self.in_tiles()
    }
}

/// Gradient with respect to the pre-activation of output `o` of sample `s`.
#[cube]
pub fn linear_out_grad(
    acts: &mut [f32],
    s: usize,
    o: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] cap: usize,
) -> f32 {
    let at = s * cfg.out_features + o;
    let mut g = acts[comptime!(cfg.out_grad * cap) + at];
    if comptime!(cfg.act.is_some()) {
        g = act_grad(g, acts[comptime!(cfg.act_src() * cap) + at], cfg.act);
    }
    g
}

/// Forward unit: `cfg.rb` samples x `cfg.ob` outputs of `act(x W^T + b)`, or, with a split
/// (`cfg.k_splits > 1`), their partial sums over one range of `in_features` (stored in
/// `part`, finished by [`linear_forward_sum_unit`]).
#[cube]
pub fn linear_forward_unit(
    params: &mut [f32],
    acts: &mut [f32],
    part: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    if comptime!(cfg.vector) {
        vector::forward(params, acts, part, unit, cfg, n, cap);
    } else {
        let rb = comptime!(cfg.rb);
        let ob = comptime!(cfg.ob);
        let n_ob = comptime!(cfg.out_features / cfg.ob);
        let n_rb = comptime!(n.div_ceil(cfg.rb));
        let k_len = comptime!(cfg.in_features / cfg.k_splits);
        let split = comptime!(cfg.k_splits > 1);
        let o0 = (unit % n_ob) * ob;
        let r0 = ((unit / n_ob) % n_rb) * rb;
        let kk = unit / comptime!(n_ob * n.div_ceil(cfg.rb));
        let k0 = kk * k_len;
        let mut acc = Array::<f32>::new(comptime!(cfg.rb * cfg.ob));
        let mut xs = Array::<f32>::new(comptime!(cfg.rb));
        #[unroll]
        for o in 0..ob {
            let mut b = 0.0f32;
            if comptime!(cfg.bias && !split) {
                b = params[cfg.b_off + o0 + o];
            }
            #[unroll]
            for r in 0..rb {
                acc[r * ob + o] = b;
            }
        }
        let x_base = comptime!(cfg.in_act * cap);
        for i in k0..k0 + k_len {
            #[unroll]
            for r in 0..rb {
                let row = min(r0 + r, n - 1);
                xs[r] = acts[x_base + row * cfg.in_features + i];
            }
            #[unroll]
            for o in 0..ob {
                let wv = params[cfg.w_off + (o0 + o) * cfg.in_features + i];
                #[unroll]
                for r in 0..rb {
                    acc[r * ob + o] = fma(wv, xs[r], acc[r * ob + o]);
                }
            }
        }
        let y_base = comptime!(cfg.out_act * cap);
        let p_base = comptime!(cfg.part_a * cap + cfg.part_b);
        #[unroll]
        for r in 0..rb {
            if r0 + r < n {
                #[unroll]
                for o in 0..ob {
                    let pre = acc[r * ob + o];
                    if comptime!(split) {
                        part[p_base
                            + (r0 + r) * comptime!(cfg.split_len())
                            + kk * cfg.out_features
                            + o0
                            + o] = pre;
                    } else {
                        let at = (r0 + r) * cfg.out_features + o0 + o;
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

/// Split-K forward, second stage: output `o` of sample `s` (`unit = s * out_f + o`) is the
/// bias plus the `k_splits` partial sums in range order, then the activation.
#[cube]
pub fn linear_forward_sum_unit(
    params: &mut [f32],
    acts: &mut [f32],
    part: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] cap: usize,
) {
    let o = unit % cfg.out_features;
    let s = unit / cfg.out_features;
    let mut pre = 0.0f32;
    if comptime!(cfg.bias) {
        pre = params[cfg.b_off + o];
    }
    let p = comptime!(cfg.part_a * cap + cfg.part_b) + s * comptime!(cfg.split_len()) + o;
    #[unroll]
    for kk in 0..comptime!(cfg.k_splits) {
        pre += part[p + kk * cfg.out_features];
    }
    let at = unit;
    acts[comptime!(cfg.out_act * cap) + at] = activate(pre, cfg.act);
    if comptime!(cfg.act.needs_pre()) {
        acts[comptime!(cfg.pre_act * cap) + at] = pre;
    }
}

/// Input-gradient unit: d(loss)/d(x) for `cfg.rb` samples x `cfg.ib` input features.
#[cube]
pub fn linear_input_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    if comptime!(cfg.vector) {
        vector::input_grad(params, acts, unit, cfg, n, cap);
    } else {
        let rb = comptime!(cfg.rb);
        let ib = comptime!(cfg.ib);
        let n_ib = comptime!(cfg.in_features / cfg.ib);
        let i0 = (unit % n_ib) * ib;
        let r0 = (unit / n_ib) * rb;
        let mut acc = Array::<f32>::new(comptime!(cfg.rb * cfg.ib));
        let mut gs = Array::<f32>::new(comptime!(cfg.rb));
        #[unroll]
        for k in 0..comptime!(cfg.rb * cfg.ib) {
            acc[k] = 0.0;
        }
        for o in 0..cfg.out_features {
            #[unroll]
            for r in 0..rb {
                let row = min(r0 + r, n - 1);
                gs[r] = linear_out_grad(acts, row, o, cfg, cap);
            }
            #[unroll]
            for i in 0..ib {
                let wv = params[cfg.w_off + o * cfg.in_features + i0 + i];
                #[unroll]
                for r in 0..rb {
                    acc[r * ib + i] = fma(gs[r], wv, acc[r * ib + i]);
                }
            }
        }
        let base = comptime!(cfg.in_grad * cap);
        #[unroll]
        for r in 0..rb {
            if r0 + r < n {
                #[unroll]
                for i in 0..ib {
                    acts[base + (r0 + r) * cfg.in_features + i0 + i] = acc[r * ib + i];
                }
            }
        }
    }
}

/// Weight-gradient unit: for `unit < (out_f / ob) * (in_f / ib)`, an `ob x ib` block of the
/// weight; after that, one bias. Summed over the batch in order, stored in `grads`, then SGD.
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn linear_weight_grad_unit(
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
    let ib = comptime!(cfg.ib);
    let ob = comptime!(cfg.ob);
    let n_ib = comptime!(cfg.in_features / cfg.ib);
    let w_units = comptime!(cfg.weight_units());
    let x_base = comptime!(cfg.in_act * cap);
    if unit < w_units {
        if comptime!(cfg.vector) {
            vector::weight_grad(
                params,
                velocity,
                grads,
                acts,
                unit,
                lr,
                momentum,
                dampening,
                weight_decay,
                flags,
                cfg,
                n,
                cap,
            );
        } else {
            let o0 = (unit / n_ib) * ob;
            let i0 = (unit % n_ib) * ib;
            let mut acc = Array::<f32>::new(comptime!(cfg.ob * cfg.ib));
            let mut gs = Array::<f32>::new(comptime!(cfg.ob));
            #[unroll]
            for k in 0..comptime!(cfg.ob * cfg.ib) {
                acc[k] = 0.0;
            }
            // Blocked sum over the batch: chunks of SUM_BLOCK samples into `part`, then the
            // chunks into `acc` (f32 error grows with the chunk count, not n).
            let mut part = Array::<f32>::new(comptime!(cfg.ob * cfg.ib));
            for chunk in 0..comptime!(n.div_ceil(SUM_BLOCK)) {
                #[unroll]
                for k in 0..comptime!(cfg.ob * cfg.ib) {
                    part[k] = 0.0;
                }
                let end = min((chunk + 1) * SUM_BLOCK, n);
                for s in chunk * SUM_BLOCK..end {
                    #[unroll]
                    for o in 0..ob {
                        gs[o] = linear_out_grad(acts, s, o0 + o, cfg, cap);
                    }
                    #[unroll]
                    for i in 0..ib {
                        let xv = acts[x_base + s * cfg.in_features + i0 + i];
                        #[unroll]
                        for o in 0..ob {
                            part[o * ib + i] = fma(gs[o], xv, part[o * ib + i]);
                        }
                    }
                }
                #[unroll]
                for k in 0..comptime!(cfg.ob * cfg.ib) {
                    acc[k] += part[k];
                }
            }
            #[unroll]
            for o in 0..ob {
                #[unroll]
                for i in 0..ib {
                    sgd_update(
                        params,
                        velocity,
                        grads,
                        cfg.w_off + (o0 + o) * cfg.in_features + i0 + i,
                        acc[o * ib + i],
                        lr,
                        momentum,
                        dampening,
                        weight_decay,
                        flags,
                    );
                }
            }
        }
    } else {
        let o = unit - w_units;
        let mut total = 0.0f32;
        for chunk in 0..comptime!(n.div_ceil(SUM_BLOCK)) {
            let mut sub = 0.0f32;
            let end = min((chunk + 1) * SUM_BLOCK, n);
            for s in chunk * SUM_BLOCK..end {
                sub += linear_out_grad(acts, s, o, cfg, cap);
            }
            total += sub;
        }
        sgd_update(
            params,
            velocity,
            grads,
            cfg.b_off + o,
            total,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    }
}
