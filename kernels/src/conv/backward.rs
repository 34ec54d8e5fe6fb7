//! The conv block's backward pass: the gradient with respect to the input
//! (`conv2d_x_backward`) and to the weight and bias (`conv2d_weight_backward`,
//! `conv2d_bias_backward`) with the fused SGD update, both through the activation's
//! derivative and the max-pool's argmax.
use cubecl::prelude::*;

use super::ConvCfg;
use crate::act::act_grad;
use crate::max_pool::outputs_covering;
use crate::sgd::sgd_update;

/// Input-gradient unit `unit`: d(loss)/d(input) at one input position of one sample, for
/// the input channels of one group (`conv2d_x_backward`, composed with the pool and activation backward).
///
/// Sparse in the pool: it visits the block outputs (pooled positions) whose window can reach
/// this input position, follows each one's argmax to its conv position, and adds
/// `g * W[oc, c, ky, kx]` when that position reads this input through tap `(ky, kx)`.
/// Overlapping windows that share an argmax contribute once each, as in PyTorch.
#[cube]
pub fn conv_input_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let ix = unit % cfg.in_w;
    let iy = (unit / cfg.in_w) % cfg.in_h;
    let grp = (unit / comptime!(cfg.in_h * cfg.in_w)) % cfg.groups;
    let s = unit / comptime!(cfg.in_h * cfg.in_w * cfg.groups);
    let cin_g = comptime!(cfg.in_per_group());
    let mut acc = Array::<f32>::new(comptime!(cfg.in_per_group()));
    #[unroll]
    for c in 0..cin_g {
        acc[c] = 0.0;
    }
    // Conv rows y with 0 <= iy + padding_h - y * stride_h <= (kernel_h - 1) * dilation_h.
    let yp = (iy + cfg.padding_h) as i32;
    let xp = (ix + cfg.padding_w) as i32;
    let ext_h = comptime!(((cfg.kernel_h - 1) * cfg.dilation_h) as i32);
    let ext_w = comptime!(((cfg.kernel_w - 1) * cfg.dilation_w) as i32);
    let sh = comptime!(cfg.stride_h as i32);
    let sw = comptime!(cfg.stride_w as i32);
    let y_lo = max((yp - ext_h + sh - 1) / sh, 0i32);
    let y_hi = min(yp / sh, comptime!(cfg.conv_h as i32 - 1));
    let x_lo = max((xp - ext_w + sw - 1) / sw, 0i32);
    let x_hi = min(xp / sw, comptime!(cfg.conv_w as i32 - 1));
    // The outputs whose pool window covers those conv rows and columns.
    let (py_lo, py_hi) = outputs_covering(y_lo, y_hi, true, cfg.pool);
    let (px_lo, px_hi) = outputs_covering(x_lo, x_hi, false, cfg.pool);
    let plane_out = comptime!(cfg.out_h * cfg.out_w);
    let kk = comptime!(cfg.kernel_h * cfg.kernel_w);
    if y_lo <= y_hi && x_lo <= x_hi {
        for og in 0..comptime!(cfg.out_per_group()) {
            let oc = grp * comptime!(cfg.out_per_group()) + og;
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let a_base = comptime!(cfg.argmax * cap) + base;
            let w_base =
                cfg.w_off + oc * comptime!(cfg.in_per_group() * cfg.kernel_h * cfg.kernel_w);
            let mut py = py_lo;
            while py <= py_hi {
                let mut px = px_lo;
                while px <= px_hi {
                    let at = py as usize * cfg.out_w + px as usize;
                    let mut g = acts[g_base + at];
                    if comptime!(cfg.act.is_some()) {
                        g = act_grad(g, acts[o_base + at], cfg.act);
                    }
                    if g != 0.0 {
                        let mut y = py;
                        let mut x = px;
                        if comptime!(cfg.pool.pooled) {
                            let pos = idx[a_base + at];
                            y = (pos / cfg.conv_w as u32) as i32;
                            x = (pos % cfg.conv_w as u32) as i32;
                        }
                        let ty = yp - y * sh;
                        let tx = xp - x * sw;
                        if ty >= 0
                            && ty <= ext_h
                            && tx >= 0
                            && tx <= ext_w
                            && ty % comptime!(cfg.dilation_h as i32) == 0
                            && tx % comptime!(cfg.dilation_w as i32) == 0
                        {
                            let tap = (ty / comptime!(cfg.dilation_h as i32)) as usize
                                * cfg.kernel_w
                                + (tx / comptime!(cfg.dilation_w as i32)) as usize;
                            #[unroll]
                            for c in 0..cin_g {
                                acc[c] += g * params[w_base + c * kk + tap];
                            }
                        }
                    }
                    px += 1;
                }
                py += 1;
            }
        }
    }
    let at = s * comptime!(cfg.in_len())
        + grp * comptime!(cfg.in_per_group() * cfg.in_h * cfg.in_w)
        + iy * cfg.in_w
        + ix;
    let base = comptime!(cfg.in_grad * cap) + at;
    #[unroll]
    for c in 0..cin_g {
        let i = c * comptime!(cfg.in_h * cfg.in_w);
        let mut g = acc[c];
        if comptime!(cfg.add_skip_grad) {
            g += acts[comptime!(cfg.skip_grad * cap) + at + i];
        }
        if comptime!(cfg.accumulate) {
            g += acts[base + i];
        }
        acts[base + i] = g;
    }
}

/// Weight-gradient unit `unit`: for `unit < out_channels * in_channels / groups * kernel_h`,
/// the `kernel_w` weights of one (out channel, in channel of its group, kernel row); after that, one bias. The gradient is summed in a fixed order (no
/// atomics), blocked: over each sample's output positions, then over the batch, stored in `grads`, and the SGD step
/// is applied (`sgd_update`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_grad_unit(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    flags: u32,
    #[comptime] cfg: ConvCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let kw = comptime!(cfg.kernel_w);
    let pairs = comptime!(cfg.out_channels * cfg.in_per_group() * cfg.kernel_h);
    let plane_out = comptime!(cfg.out_h * cfg.out_w);
    if unit < pairs {
        let ky = unit % cfg.kernel_h;
        let cl = (unit / cfg.kernel_h) % comptime!(cfg.in_per_group());
        let oc = unit / comptime!(cfg.kernel_h * cfg.in_per_group());
        // The input channel: `cl` of the group of `oc`.
        let c = (oc / comptime!(cfg.out_per_group())) * comptime!(cfg.in_per_group()) + cl;
        let mut acc = Array::<f32>::new(comptime!(cfg.kernel_w));
        #[unroll]
        for k in 0..kw {
            acc[k] = 0.0;
        }
        // Blocked sum: each sample's positions into `part`, then the samples into `acc`, so
        // the f32 error grows with max(n, positions) rather than n * positions.
        let mut part = Array::<f32>::new(comptime!(cfg.kernel_w));
        for s in 0..n {
            #[unroll]
            for k in 0..kw {
                part[k] = 0.0;
            }
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let a_base = comptime!(cfg.argmax * cap) + base;
            let x_base = comptime!(cfg.in_act * cap)
                + s * comptime!(cfg.in_len())
                + c * comptime!(cfg.in_h * cfg.in_w);
            for at in 0..plane_out {
                let mut g = acts[g_base + at];
                if comptime!(cfg.act.is_some()) {
                    g = act_grad(g, acts[o_base + at], cfg.act);
                }
                if g != 0.0 {
                    let mut pos = at;
                    if comptime!(cfg.pool.pooled) {
                        pos = idx[a_base + at] as usize;
                    }
                    let y = pos / cfg.conv_w;
                    let x = pos % cfg.conv_w;
                    let iy = y * cfg.stride_h + ky * cfg.dilation_h;
                    if iy >= cfg.padding_h && iy - cfg.padding_h < cfg.in_h {
                        let row = x_base + (iy - cfg.padding_h) * cfg.in_w;
                        #[unroll]
                        for kx in 0..kw {
                            let ix = x * cfg.stride_w + kx * cfg.dilation_w;
                            if comptime!(cfg.padding_w == 0) {
                                part[kx] += g * acts[row + ix];
                            } else if ix >= cfg.padding_w && ix - cfg.padding_w < cfg.in_w {
                                part[kx] += g * acts[row + ix - cfg.padding_w];
                            }
                        }
                    }
                }
            }
            #[unroll]
            for k in 0..kw {
                acc[k] += part[k];
            }
        }
        let p_base = cfg.w_off + unit * kw;
        #[unroll]
        for k in 0..kw {
            sgd_update(
                params,
                velocity,
                grads,
                p_base + k,
                acc[k],
                lr,
                momentum,
                dampening,
                weight_decay,
                flags,
            );
        }
    } else {
        let oc = unit - pairs;
        let mut total = 0.0f32;
        for s in 0..n {
            let base = s * comptime!(cfg.out_len()) + oc * plane_out;
            let g_base = comptime!(cfg.out_grad * cap) + base;
            let o_base = comptime!(cfg.act_src() * cap) + base;
            let mut sub = 0.0f32;
            for at in 0..plane_out {
                let mut g = acts[g_base + at];
                if comptime!(cfg.act.is_some()) {
                    g = act_grad(g, acts[o_base + at], cfg.act);
                }
                sub += g;
            }
            total += sub;
        }
        sgd_update(
            params,
            velocity,
            grads,
            cfg.b_off + oc,
            total,
            lr,
            momentum,
            dampening,
            weight_decay,
            flags,
        );
    }
}
