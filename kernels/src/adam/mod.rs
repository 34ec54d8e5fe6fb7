//! Optimizer passes over the whole flat parameter arena, run after a step has computed its
//! gradients with [`SgdFlags::NO_UPDATE`](crate::SgdFlags::NO_UPDATE): [`adam_update()`]
//! (Adam and AdamW) and [`sgd_pass()`] (SGD as a separate pass, for gradient clipping).
//!
//! Both are launched on a 1-D grid of `units` invocations; invocation `u` handles elements
//! `u, u + units, u + 2 * units, ... < len` (consecutive invocations touch consecutive
//! elements), so one invocation loops `ceil(len / units)` times, see [`pass_units`].
//!
//! Both scale the stored gradient first: `g = grads[i] * grad_scale`, written back to
//! `grads[i]` (as `torch.nn.utils.clip_grad_norm_` scales `p.grad` in place); `grad_scale` is
//! 1 without clipping, which changes nothing.
//!
//! Adam, per element, in the operation order of `torch.optim.adam._single_tensor_adam`
//! (PyTorch 2.x, <https://pytorch.org/docs/stable/generated/torch.optim.Adam.html>; AdamW is
//! Adam with `decoupled_weight_decay=True`,
//! <https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html>):
//! - weight decay: decoupled `p = p * (1 - lr * wd)`, else (L2) `g = g + wd * p`;
//! - `m = lerp(m, g, 1 - beta1)` (`m + w * (g - m)` for `w < 0.5`, else
//!   `g - (g - m) * (1 - w)`, as `torch.lerp`);
//! - `v = v * beta2 + (1 - beta2) * g * g`;
//! - `denom = sqrt(v) / sqrt(1 - beta2^t) + eps`;
//! - `p = p + (-lr / (1 - beta1^t)) * m / denom`.
//!
//! The host computes the scalars (bias corrections, step size, `1 - lr * wd`) in f64 from
//! the Python-float-like hyper-parameters and rounds each to f32 once, as PyTorch passes its
//! Python floats to the f32 kernels. `amsgrad` is not implemented.
use cubecl::prelude::*;

use crate::sgd::sgd_update;

pub mod reference;

/// Bit flags of [`adam_update()`].
pub struct AdamFlags;

impl AdamFlags {
    /// AdamW: weight decay multiplies the parameter by `decay_factor` instead of adding
    /// `weight_decay * p` to the gradient.
    pub const DECOUPLED: u32 = 1;
    /// The lerp weight `1 - beta1` is >= 0.5: `torch.lerp`'s second form.
    pub const LERP_LARGE: u32 = 2;
}

/// Most invocations of one pass; below that, one element per invocation.
pub const PASS_MAX_UNITS: usize = 1 << 16;

/// Invocations of a pass over `len` elements: `min(len, PASS_MAX_UNITS)` (at least 1). Each
/// runs `ceil(len / units)` loop iterations, under [`crate::LOOP_LIMIT`] for any arena of
/// fewer than 4 * 10^9 floats.
pub const fn pass_units(len: usize) -> usize {
    if len == 0 {
        1
    } else if len < PASS_MAX_UNITS {
        len
    } else {
        PASS_MAX_UNITS
    }
}

/// The run-time scalars of one Adam step, all already rounded to f32 (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// Gradient multiplier (clipping coefficient, or 1).
    pub grad_scale: f32,
    /// `weight_decay` (used by the L2 form only).
    pub weight_decay: f32,
    /// `1 - lr * weight_decay` (used by the decoupled form only).
    pub decay_factor: f32,
    /// `1 - beta1`, the lerp weight.
    pub lerp_weight: f32,
    /// `beta2`.
    pub beta2: f32,
    /// `1 - beta2`.
    pub one_minus_beta2: f32,
    /// `-lr / (1 - beta1^t)`.
    pub neg_step_size: f32,
    /// `sqrt(1 - beta2^t)`.
    pub bias_correction2_sqrt: f32,
    /// `eps`.
    pub eps: f32,
    /// [`AdamFlags`] bits.
    pub flags: u32,
}

impl AdamScalars {
    /// The scalars of step `t` (1-based, after the increment, as torch's `state["step"]`)
    /// for the given hyper-parameters, computed in f64 as PyTorch's Python floats are.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        t: u64,
        grad_scale: f32,
    ) -> Self {
        let t = t as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2 = 1.0 - beta2.powf(t);
        let lerp_weight = 1.0 - beta1;
        let mut flags = 0;
        if decoupled && weight_decay != 0.0 {
            flags |= AdamFlags::DECOUPLED;
        }
        if lerp_weight.abs() >= 0.5 {
            flags |= AdamFlags::LERP_LARGE;
        }
        Self {
            grad_scale,
            weight_decay: if decoupled { 0.0 } else { weight_decay as f32 },
            decay_factor: (1.0 - lr * weight_decay) as f32,
            lerp_weight: lerp_weight as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            neg_step_size: (-(lr / bias_correction1)) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            eps: eps as f32,
            flags,
        }
    }
}

/// One Adam / AdamW step of element `i` (see the module docs for the formula).
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn adam_element(
    params: &mut [f32],
    grads: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    i: usize,
    grad_scale: f32,
    weight_decay: f32,
    decay_factor: f32,
    lerp_weight: f32,
    beta2: f32,
    one_minus_beta2: f32,
    neg_step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
    flags: u32,
) {
    let mut g = grads[i] * grad_scale;
    grads[i] = g;
    let mut p = params[i];
    if (flags & 1u32) != 0u32 {
        p *= decay_factor;
    } else {
        g += weight_decay * p;
    }
    let m0 = exp_avg[i];
    let mut m = m0 + lerp_weight * (g - m0);
    if (flags & 2u32) != 0u32 {
        m = g - (g - m0) * (1.0 - lerp_weight);
    }
    exp_avg[i] = m;
    let v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg_sq[i] = v;
    let denom = f32::sqrt(v) / bias_correction2_sqrt + eps;
    params[i] = p + neg_step_size * m / denom;
}

/// Adam / AdamW over the first `len` elements of the arenas, `units` invocations (see the
/// module docs; the scalars are those of [`AdamScalars`]).
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn adam_update(
    params: &mut [f32],
    grads: &mut [f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    len: usize,
    units: usize,
    grad_scale: f32,
    weight_decay: f32,
    decay_factor: f32,
    lerp_weight: f32,
    beta2: f32,
    one_minus_beta2: f32,
    neg_step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
    flags: u32,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        #[allow(clippy::manual_div_ceil)]
        let chunk = (len + units - 1) / units;
        for k in 0..chunk {
            let i = u + k * units;
            if i < len {
                adam_element(
                    params,
                    grads,
                    exp_avg,
                    exp_avg_sq,
                    i,
                    grad_scale,
                    weight_decay,
                    decay_factor,
                    lerp_weight,
                    beta2,
                    one_minus_beta2,
                    neg_step_size,
                    bias_correction2_sqrt,
                    eps,
                    flags,
                );
            }
        }
    }
}

/// SGD (with momentum, dampening, weight decay, Nesterov: [`sgd_update()`]) over the first
/// `len` elements, on the stored gradients times `grad_scale`; `flags` are
/// [`SgdFlags`](crate::SgdFlags) bits without `NO_UPDATE`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn sgd_pass(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    len: usize,
    units: usize,
    grad_scale: f32,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        #[allow(clippy::manual_div_ceil)]
        let chunk = (len + units - 1) / units;
        for k in 0..chunk {
            let i = u + k * units;
            if i < len {
                let g = grads[i] * grad_scale;
                sgd_update(
                    params,
                    velocity,
                    grads,
                    i,
                    g,
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
