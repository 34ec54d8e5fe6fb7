//! Test-only kernels: each runs one building block per unit `u = ABSOLUTE_POS < units`
//! (every buffer parameter of the blocks is `&mut`; comptime configurations go last).
use cubecl::prelude::*;
use cubenet_kernels::avg_pool::{avg_pool_forward_unit, avg_pool_input_grad_unit};
use cubenet_kernels::conv::{
    conv_forward_tiled_unit, conv_forward_unit, conv_input_grad_unit, conv_out_grad_unit,
    conv_weight_final_unit, conv_weight_partial_unit,
};
use cubenet_kernels::dropout::{dropout_forward_unit, dropout_input_grad_unit};
use cubenet_kernels::head::head_unit;
use cubenet_kernels::linear::{
    linear_forward_sum_unit, linear_forward_unit, linear_input_grad_unit, linear_weight_grad_unit,
};
use cubenet_kernels::norm::{
    norm_forward_unit, norm_grad_unit, norm_input_grad_unit, norm_stats_unit, norm_weight_grad_unit,
};
use cubenet_kernels::sgd::sgd_update;
use cubenet_kernels::{AvgPoolCfg, ConvCfg, DropoutCfg, HeadCfg, LinearCfg, NormCfg};

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
        if comptime!(cfg.fast_forward) {
            conv_forward_tiled_unit(params, acts, idx, u, cfg, cap);
        } else {
            conv_forward_unit(params, acts, idx, u, cfg, cap);
        }
    }
}

#[cube(launch_unchecked)]
pub fn conv_out_grad_k(
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_out_grad_unit(acts, idx, u, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn conv_input_grad_k(
    params: &mut [f32],
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_input_grad_unit(params, acts, u, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn conv_weight_partial_k(
    acts: &mut [f32],
    part: &mut [f32],
    units: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        conv_weight_partial_unit(acts, part, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_final_k(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    part: &mut [f32],
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
        conv_weight_final_unit(
            params,
            velocity,
            grads,
            part,
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
    part: &mut [f32],
    units: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        linear_forward_unit(params, acts, part, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
pub fn linear_forward_sum_k(
    params: &mut [f32],
    acts: &mut [f32],
    part: &mut [f32],
    units: usize,
    #[comptime] cfg: LinearCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        linear_forward_sum_unit(params, acts, part, u, cfg, cap);
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

// The norm, Dropout and average-pool building blocks.

#[cube(launch_unchecked)]
pub fn norm_stats_k(
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        norm_stats_unit(acts, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn norm_forward_k(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    bufs: &mut [f32],
    units: usize,
    #[comptime] train: bool,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        norm_forward_unit(params, acts, idx, bufs, u, train, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
pub fn norm_grad_k(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    units: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        norm_grad_unit(params, acts, idx, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
pub fn norm_input_grad_k(
    params: &mut [f32],
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        norm_input_grad_unit(params, acts, u, cfg, n, cap);
    }
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn norm_weight_grad_k(
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
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        norm_weight_grad_unit(
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
pub fn dropout_forward_k(
    acts: &mut [f32],
    units: usize,
    seed: u32,
    #[comptime] train: bool,
    #[comptime] cfg: DropoutCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        dropout_forward_unit(acts, u, seed, train, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn dropout_input_grad_k(
    acts: &mut [f32],
    units: usize,
    seed: u32,
    #[comptime] cfg: DropoutCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        dropout_input_grad_unit(acts, u, seed, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn avg_pool_forward_k(
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: AvgPoolCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        avg_pool_forward_unit(acts, u, cfg, cap);
    }
}

#[cube(launch_unchecked)]
pub fn avg_pool_input_grad_k(
    acts: &mut [f32],
    units: usize,
    #[comptime] cfg: AvgPoolCfg,
    #[comptime] cap: usize,
) {
    let u = ABSOLUTE_POS;
    if u < units {
        avg_pool_input_grad_unit(acts, u, cfg, cap);
    }
}
