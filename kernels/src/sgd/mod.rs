//! The SGD update applied to one parameter element, fused into every weight-gradient unit.
//!
//! Formula (torch.optim.SGD, PyTorch 2.x docs):
//! `g = grad + weight_decay * p`; if momentum != 0: `v = g` on the first step, else
//! `v = momentum * v + (1 - dampening) * g`; then `g = g + momentum * v` (Nesterov) or
//! `g = v`; finally `p = p - lr * g`.
use cubecl::prelude::*;

pub mod reference;

/// Bit flags passed at run time to every kernel that updates parameters.
pub struct SgdFlags;

impl SgdFlags {
    /// Set on the first step: the momentum buffer is initialised to the gradient.
    pub const FIRST_STEP: u32 = 1;
    /// Nesterov momentum.
    pub const NESTEROV: u32 = 2;
    /// Gradients are computed and stored in `grads`, parameters are left unchanged.
    pub const NO_UPDATE: u32 = 4;
}

/// Stores `grad` for parameter element `i` and applies one SGD step to it.
///
/// `params`, `velocity`, `grads`: the network's parameter arenas (see the crate docs).
/// `lr`, `momentum`, `dampening`, `weight_decay`: as `torch.optim.SGD`; `flags`: `SgdFlags`.
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn sgd_update(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    i: usize,
    grad: f32,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
) {
    grads[i] = grad;
    if (flags & 4u32) == 0u32 {
        let p = params[i];
        let mut d = grad + weight_decay * p;
        if momentum != 0.0 {
            let mut v = d;
            if (flags & 1u32) == 0u32 {
                v = momentum * velocity[i] + (1.0 - dampening) * d;
            }
            velocity[i] = v;
            if (flags & 2u32) != 0u32 {
                d += momentum * v;
            } else {
                d = v;
            }
        }
        params[i] = p - lr * d;
    }
}
