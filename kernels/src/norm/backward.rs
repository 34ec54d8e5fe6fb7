//! The norm block's backward pass (see the module docs of [`super`]): `dy` and the
//! per-plane partial sums, the input gradient and the weight gradient with its SGD step.
// `#[cube]` needs a mutable binding assigned in both branches of a comptime `if`.
#![allow(unused_assignments)]
use cubecl::prelude::*;

use super::{batch_moments, inv_std, lanes_total, normalised, unit_samples, NormCfg, LANES};
use crate::act::{act_grad, activate};
use crate::sgd::sgd_update;

/// `dy` (d(loss)/d(normalised output)) at plane position `pos` of sample `s`, channel `ch`:
/// with a pool, what the scatter through the argmax left at `dy_base + pos`; without, the
/// output gradient through the activation's derivative, also stored there.
#[cube]
#[allow(clippy::too_many_arguments)]
fn plane_dy(
    acts: &mut [f32],
    dy_base: usize,
    g_base: usize,
    s: usize,
    ch: usize,
    pos: usize,
    scale: f32,
    shift: f32,
    #[comptime] cfg: NormCfg,
    #[comptime] cap: usize,
) -> f32 {
    let mut g = 0.0f32;
    if comptime!(cfg.pool.pooled) {
        g = acts[dy_base + pos];
    } else {
        g = acts[g_base + pos];
        if comptime!(cfg.act.is_some()) {
            let pre = normalised(acts, s, ch, pos, scale, shift, cfg, cap);
            if comptime!(cfg.act.needs_pre()) {
                g = act_grad(g, pre, cfg.act);
            } else {
                g = act_grad(g, activate(pre, cfg.act), cfg.act);
            }
        }
        acts[dy_base + pos] = g;
    }
    g
}

/// Backward unit, first stage: `dy` of each of the unit's (sample, channel) planes (the output
/// gradient routed through the pool's argmax and the activation's derivative) and the planes'
/// partial sums `sum(dy)` and `sum((x - mean) * dy)`.
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn norm_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let (ch, s0, s1) = unit_samples(unit, cfg, n);
    let hw = comptime!(cfg.hw());
    let (mean, m2) = batch_moments(acts, ch, cfg, n, cap);
    let invstd = inv_std(m2 / f32::new(comptime!((n * cfg.hw()) as f32)), cfg);
    let scale = params[cfg.w_off + ch] * invstd;
    let shift = params[cfg.b_off + ch] - mean * scale;
    for s in s0..s1 {
        let plane = s * comptime!(cfg.in_len()) + ch * hw;
        let dy_base = comptime!(cfg.dy * cap) + plane;
        let out_plane = s * comptime!(cfg.out_len()) + ch * comptime!(cfg.out_h * cfg.out_w);
        let g_base = comptime!(cfg.out_grad * cap) + out_plane;
        if comptime!(cfg.pool.pooled) {
            for i in 0..hw {
                acts[dy_base + i] = 0.0;
            }
            let a_base = comptime!(cfg.argmax * cap) + out_plane;
            for at in 0..comptime!(cfg.out_h * cfg.out_w) {
                let pos = idx[a_base + at] as usize;
                let mut g = acts[g_base + at];
                if comptime!(cfg.act.is_some()) {
                    let pre = normalised(acts, s, ch, pos, scale, shift, cfg, cap);
                    if comptime!(cfg.act.needs_pre()) {
                        g = act_grad(g, pre, cfg.act);
                    } else {
                        g = act_grad(g, activate(pre, cfg.act), cfg.act);
                    }
                }
                acts[dy_base + pos] += g;
            }
        }
        // The plane's partial sums, by lanes: after the scatter when pooled, else in the same
        // pass as `dy`.
        let x_base = comptime!(cfg.in_act * cap) + plane;
        let mut acc_sum = Array::<f32>::new(LANES);
        let mut acc_dot = Array::<f32>::new(LANES);
        #[unroll]
        for l in 0..LANES {
            acc_sum[l] = 0.0;
            acc_dot[l] = 0.0;
        }
        for b in 0..comptime!(hw / LANES) {
            #[unroll]
            for l in 0..LANES {
                let pos = b * LANES + l;
                let g = plane_dy(acts, dy_base, g_base, s, ch, pos, scale, shift, cfg, cap);
                acc_sum[l] += g;
                acc_dot[l] += (acts[x_base + pos] - mean) * g;
            }
        }
        #[unroll]
        for l in 0..comptime!(hw % LANES) {
            let pos = comptime!(hw / LANES * LANES + l);
            let g = plane_dy(acts, dy_base, g_base, s, ch, pos, scale, shift, cfg, cap);
            acc_sum[l] += g;
            acc_dot[l] += (acts[x_base + pos] - mean) * g;
        }
        let sum = lanes_total(&acc_sum, hw);
        let dotp = lanes_total(&acc_dot, hw);
        let out = comptime!(cfg.gstat * cap) + s * comptime!(2 * cfg.num_features) + ch;
        acts[out] = sum;
        acts[out + cfg.num_features] = dotp;
    }
}

/// `sum(dy)` and `dotp = sum((x - mean) * dy)` of channel `ch` over the batch, combined
/// from the partials of [`norm_grad_unit`] in sample order.
#[cube]
pub fn grad_sums(
    acts: &mut [f32],
    ch: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) -> (f32, f32) {
    let base = comptime!(cfg.gstat * cap) + ch;
    let per = comptime!(2 * cfg.num_features);
    let mut sum = 0.0f32;
    let mut dotp = 0.0f32;
    for s in 0..n {
        sum += acts[base + s * per];
        dotp += acts[base + s * per + cfg.num_features];
    }
    (sum, dotp)
}

/// Backward unit, second stage: d(loss)/d(input) of the unit's (sample, channel) planes.
#[cube]
pub fn norm_input_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let (ch, s0, s1) = unit_samples(unit, cfg, n);
    let hw = comptime!(cfg.hw());
    let count = f32::new(comptime!((n * cfg.hw()) as f32));
    let (mean, m2) = batch_moments(acts, ch, cfg, n, cap);
    let invstd = inv_std(m2 / count, cfg);
    let (sum, dotp) = grad_sums(acts, ch, cfg, n, cap);
    let k = dotp * invstd * invstd / count;
    let grad_mean = sum / count;
    let w = invstd * params[cfg.w_off + ch];
    for s in s0..s1 {
        let plane = s * comptime!(cfg.in_len()) + ch * hw;
        let x_base = comptime!(cfg.in_act * cap) + plane;
        let dy_base = comptime!(cfg.dy * cap) + plane;
        let gi_base = comptime!(cfg.in_grad * cap) + plane;
        for i in 0..hw {
            let dx = (acts[x_base + i] - mean) * k;
            acts[gi_base + i] = (acts[dy_base + i] - grad_mean - dx) * w;
        }
    }
}

/// Weight-gradient unit: `unit < c` is `weight[unit]` (`dotp * invstd`), the others
/// `bias[unit - c]` (`sum(dy)`); stores the gradient and applies the SGD step.
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn norm_weight_grad_unit(
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
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let ch = unit % cfg.num_features;
    let (sum, dotp) = grad_sums(acts, ch, cfg, n, cap);
    if unit < cfg.num_features {
        let (_mean, m2) = batch_moments(acts, ch, cfg, n, cap);
        let invstd = inv_std(m2 / f32::new(comptime!((n * cfg.hw()) as f32)), cfg);
        sgd_update(
            params,
            velocity,
            grads,
            cfg.w_off + ch,
            dotp * invstd,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    } else {
        sgd_update(
            params,
            velocity,
            grads,
            cfg.b_off + ch,
            sum,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    }
}
