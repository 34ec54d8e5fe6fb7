//! Test-only kernels: each runs one building block per unit `u = ABSOLUTE_POS < units`
//! (every buffer parameter of the blocks is `&mut`; comptime configurations go last).
use cubecl::prelude::*;
use cubenet_kernels::conv::{conv_forward_unit, conv_input_grad_unit, conv_weight_grad_unit};
use cubenet_kernels::head::head_unit;
use cubenet_kernels::linear::{
    linear_forward_unit, linear_input_grad_unit, linear_weight_grad_unit,
};
use cubenet_kernels::sgd::sgd_update;
use cubenet_kernels::{ConvCfg, HeadCfg, LinearCfg};

#[cube(launch_unchecked)]
pub fn conv_forward_k(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_forward_unit(params, acts, idx, u, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn conv_input_grad_k(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_input_grad_unit(params, acts, idx, u, cfg, cap);
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_grad_k(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
    #[comptime] cfg: ConvCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_weight_grad_unit(
            params,
            velocity,
            grads,
            acts,
            idx,
            u,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
            cfg,
            n,
            cap,
        );
    }
}

#[cube(launch_unchecked)]
pub fn linear_forward_k(
    params: &mut [f32],
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        linear_forward_unit(params, acts, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
pub fn linear_input_grad_k(
    params: &mut [f32],
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        linear_input_grad_unit(params, acts, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn linear_weight_grad_k(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    acts: &mut [f32],
    units: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        linear_weight_grad_unit(
            params,
            velocity,
            grads,
            acts,
            u,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
            cfg,
            n,
            cap,
        );
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn head_k(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    #[comptime] cfg: HeadCfg,
    #[comptime] train: bool,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        head_unit(params, acts, idx, u, cfg, train, n, cap);
    }
}

/// One SGD step per element `u < units`, with the gradient `g[u]`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn sgd_k(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    g: &mut [f32],
    units: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        sgd_update(
            params,
            velocity,
            grads,
            u,
            g[u],
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    }
}
