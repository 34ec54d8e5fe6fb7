//! The conv block's forward pass: conv + bias, activation, max-pool (storing its argmax).
use cubecl::prelude::*;

use super::ConvCfg;
use crate::act::activate;
use crate::max_pool::{replaces, window_element};

/// Forward unit `unit`: conv + bias (+ activation) (+ max-pool, storing its argmax) for one sample,
/// one output position and `cfg.ocb` output channels (of one group).
#[cube]
pub fn conv_forward_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let win = comptime!(cfg.pool.window());
    let ocb = comptime!(cfg.ocb);
    let n_ob = comptime!(cfg.out_channels / cfg.ocb);
    let px = unit % cfg.out_w;
    let py = (unit / cfg.out_w) % cfg.out_h;
    let ob = (unit / (cfg.out_w * cfg.out_h)) % n_ob;
    let s = unit / (cfg.out_w * cfg.out_h * n_ob);
    let oc0 = ob * ocb;

    let x_base = comptime!(cfg.in_act * cap) + s * comptime!(cfg.in_len());
    let plane_in = comptime!(cfg.in_h * cfg.in_w);
    let wstride_o = comptime!(cfg.in_per_group() * cfg.kernel_h * cfg.kernel_w);
    // The first input channel of the group of output channels oc0.. (`ocb` divides
    // `out_per_group`, so a unit's channels share a group).
    let c0 = (oc0 / comptime!(cfg.out_per_group())) * comptime!(cfg.in_per_group());

    let mut acc = Array::<f32>::new(comptime!(cfg.ocb * cfg.pool.window()));
    let mut xs = Array::<f32>::new(comptime!(cfg.pool.window()));
    #[unroll]
    for o in 0..ocb {
        let mut b = 0.0f32;
        if comptime!(cfg.bias) {
            b = params[cfg.b_off + oc0 + o];
        }
        #[unroll]
        for wi in 0..win {
            acc[o * win + wi] = b;
        }
    }

    for c in 0..comptime!(cfg.in_per_group()) {
        for ky in 0..cfg.kernel_h {
            for kx in 0..cfg.kernel_w {
                #[unroll]
                for wi in 0..win {
                    let wy = wi / comptime!(cfg.pool.kernel_w);
                    let wx = wi % comptime!(cfg.pool.kernel_w);
                    let yy = py * cfg.pool.stride_h + wy;
                    let xx = px * cfg.pool.stride_w + wx;
                    let mut v = 0.0f32;
                    if comptime!(
                        cfg.padding_h == 0 && cfg.padding_w == 0 && !cfg.pool.needs_checks()
                    ) {
                        // No padding anywhere and no pool window past the conv output's end
                        // (as in floor mode): every window position and every tap is in
                        // bounds, so no checks.
                        let iy = yy * cfg.stride_h + ky * cfg.dilation_h;
                        let ix = xx * cfg.stride_w + kx * cfg.dilation_w;
                        v = acts[x_base + (c0 + c) * plane_in + iy * cfg.in_w + ix];
                    } else if yy >= cfg.pool.padding_h && xx >= cfg.pool.padding_w {
                        let y = yy - cfg.pool.padding_h;
                        let x = xx - cfg.pool.padding_w;
                        let iy = y * cfg.stride_h + ky * cfg.dilation_h;
                        let ix = x * cfg.stride_w + kx * cfg.dilation_w;
                        if y < cfg.conv_h
                            && x < cfg.conv_w
                            && iy >= cfg.padding_h
                            && ix >= cfg.padding_w
                            && iy - cfg.padding_h < cfg.in_h
                            && ix - cfg.padding_w < cfg.in_w
                        {
                            v = acts[x_base
                                + (c0 + c) * plane_in
                                + (iy - cfg.padding_h) * cfg.in_w
                                + (ix - cfg.padding_w)];
                        }
                    }
                    xs[wi] = v;
                }
                let w_base =
                    cfg.w_off + oc0 * wstride_o + (c * cfg.kernel_h + ky) * cfg.kernel_w + kx;
                #[unroll]
                for o in 0..ocb {
                    let wv = params[w_base + o * wstride_o];
                    #[unroll]
                    for wi in 0..win {
                        acc[o * win + wi] += wv * xs[wi];
                    }
                }
            }
        }
    }

    let out_base = comptime!(cfg.out_act * cap) + s * comptime!(cfg.out_len());
    let plane_out = comptime!(cfg.out_h * cfg.out_w);
    let am_base = comptime!(cfg.argmax * cap) + s * comptime!(cfg.out_len());
    #[unroll]
    for o in 0..ocb {
        let mut best = 0.0f32;
        let mut best_pre = 0.0f32;
        let mut best_at = 0u32;
        let mut found = false;
        #[unroll]
        for wi in 0..win {
            let (inside, pos) = window_element(py, px, wi, cfg.pool);
            if inside {
                let pre = acc[o * win + wi];
                let v = activate(pre, cfg.act);
                if replaces(found, v, best) {
                    best = v;
                    best_pre = pre;
                    best_at = pos as u32;
                    found = true;
                }
            }
        }
        let at = (oc0 + o) * plane_out + py * cfg.out_w + px;
        acts[out_base + at] = best;
        if comptime!(cfg.act.needs_pre()) {
            acts[comptime!(cfg.pre_act * cap) + s * comptime!(cfg.out_len()) + at] = best_pre;
        }
        if comptime!(cfg.pool.pooled) {
            idx[am_base + at] = best_at;
        }
    }
}
