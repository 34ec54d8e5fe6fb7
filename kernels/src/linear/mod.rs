//! A linear block: `Linear` (+ bias) (+ activation), forward and backward.
//!
//! `y = act(x W^T + b)` with `W` of shape `out_features x in_features` (torch.nn.Linear) and
//! `act` one of [`Act`]; relu'(0) = 0.
use cubecl::prelude::*;

use crate::act::{act_grad, activate, Act};
use crate::sgd::sgd_update;

pub mod reference;

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
    /// Units of `linear_forward_unit` for a batch of `n`.
    pub const fn forward_units(&self, n: usize) -> usize {
        n.div_ceil(self.rb) * (self.out_features / self.ob)
    }
    /// Units of `linear_input_grad_unit` for a batch of `n`.
    pub const fn input_grad_units(&self, n: usize) -> usize {
        n.div_ceil(self.rb) * (self.in_features / self.ib)
    }
    /// Loop iterations of one `linear_forward_unit` invocation (see [`crate::LOOP_LIMIT`]).
    pub const fn forward_loop_iterations(&self) -> usize {
        self.in_features
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
        (self.out_features / self.ob) * (self.in_features / self.ib)
            + if self.bias { self.out_features } else { 0 }
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

/// Forward unit: `cfg.rb` samples x `cfg.ob` outputs of `act(x W^T + b)`.
#[cube]
pub fn linear_forward_unit(
    params: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let rb = comptime!(cfg.rb);
    let ob = comptime!(cfg.ob);
    let n_ob = comptime!(cfg.out_features / cfg.ob);
    let o0 = (unit % n_ob) * ob;
    let r0 = (unit / n_ob) * rb;
    let mut acc = Array::<f32>::new(comptime!(cfg.rb * cfg.ob));
    let mut xs = Array::<f32>::new(comptime!(cfg.rb));
    #[unroll]
    for o in 0..ob {
        let mut b = 0.0f32;
        if comptime!(cfg.bias) {
            b = params[cfg.b_off + o0 + o];
        }
        #[unroll]
        for r in 0..rb {
            acc[r * ob + o] = b;
        }
    }
    let x_base = comptime!(cfg.in_act * cap);
    for i in 0..cfg.in_features {
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
                acc[r * ob + o] += wv * xs[r];
            }
        }
    }
    let y_base = comptime!(cfg.out_act * cap);
    #[unroll]
    for r in 0..rb {
        if r0 + r < n {
            #[unroll]
            for o in 0..ob {
                let pre = acc[r * ob + o];
                let at = (r0 + r) * cfg.out_features + o0 + o;
                acts[y_base + at] = activate(pre, cfg.act);
                if comptime!(cfg.act.needs_pre()) {
                    acts[comptime!(cfg.pre_act * cap) + at] = pre;
                }
            }
        }
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
                acc[r * ib + i] += gs[r] * wv;
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
    let w_units = comptime!((cfg.out_features / cfg.ob) * (cfg.in_features / cfg.ib));
    let x_base = comptime!(cfg.in_act * cap);
    if unit < w_units {
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
                        part[o * ib + i] += gs[o] * xv;
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
