//! The conv block's forward pass: conv + bias, activation, max-pool (storing its argmax).
//!
//! [`conv_forward_tiled_unit`] computes a tile of output channels x block-output rows x
//! columns, when the pool's windows tile the conv plane (or there is no pool);
//! [`conv_forward_unit`] computes one block output for any pool (overlapping, padded, ceil
//! mode). Both sum each conv output over (input channel, kernel row, kernel column) in that
//! order with `fma`, multiplying the zero padding.
use cubecl::prelude::*;

use super::ConvCfg;
use crate::act::activate;
use crate::max_pool::{replaces, window_element};

/// Forward unit `unit` of the tiled pass: `tiles.oc` output channels x `tiles.rows` x
/// `tiles.cols` block outputs of one sample (their conv rows and columns held in registers),
/// then the bias, activation and pool.
#[cube]
pub fn conv_forward_tiled_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let t = comptime!(cfg.tiles);
    let (ph, pw) = comptime!((cfg.pool.kernel_h, cfg.pool.kernel_w));
    // Conv rows and columns of a tile.
    let cr = comptime!(t.rows * cfg.pool.kernel_h);
    let cc = comptime!(t.cols * cfg.pool.kernel_w);
    let n_ct = comptime!(cfg.out_w / t.cols);
    let n_rt = comptime!(cfg.out_h / t.rows);
    let n_ot = comptime!(cfg.out_channels / t.oc);
    let ct = unit % n_ct;
    let rt = (unit / n_ct) % n_rt;
    let ot = (unit / (n_ct * n_rt)) % n_ot;
    let s = unit / (n_ct * n_rt * n_ot);
    let oc0 = ot * comptime!(t.oc);
    let y0 = rt * cr;
    let x0 = ct * cc;
    let c0 = (oc0 / comptime!(cfg.out_per_group())) * comptime!(cfg.in_per_group());
    let plane_in = comptime!(cfg.in_h * cfg.in_w);
    let x_base = comptime!(cfg.in_act * cap) + s * comptime!(cfg.in_len());
    let per_oc = comptime!(cfg.weights_per_oc());

    let mut acc = Array::<f32>::new(comptime!(t.oc * t.rows * cfg.pool.kernel_h * cc));
    #[unroll]
    for o in 0..comptime!(t.oc) {
        let mut b = 0.0f32;
        if comptime!(cfg.bias) {
            b = params[cfg.b_off + oc0 + o];
        }
        #[unroll]
        for i in 0..comptime!(t.rows * cfg.pool.kernel_h * cc) {
            acc[o * comptime!(cr * cc) + i] = b;
        }
    }
    // The tile's input rows' taps, zero in the padding, split by column phase modulo the
    // stride: xs[(r * stride_w + p) * len + j] is column `x0 * stride_w - padding_w + j *
    // stride_w + p` of the input row under conv row `r` for the current kernel row, so tap
    // `kx` of conv column `x` is at `j = x + q` with `kx * dilation_w = q * stride_w + p`
    // (contiguous in `x`). The multiply-adds below read registers without conditions, and
    // every tap in the padding multiplies a zero.
    let len = comptime!(cc + (cfg.kernel_w - 1) * cfg.dilation_w / cfg.stride_w);
    let mut xs = Array::<f32>::new(comptime!(
        cr * cfg.stride_w * (cc + (cfg.kernel_w - 1) * cfg.dilation_w / cfg.stride_w)
    ));
    let mut w = Array::<f32>::new(comptime!(t.oc * cfg.kernel_w));
    // The cpu target's accumulators: `rpv` conv rows of `cc` columns per 16-wide vector
    // (rows narrower than 16 that divide it are packed side by side).
    let rpv = comptime!(if cc < 16 && 16 % cc == 0 && cr % (16 / cc) == 0 {
        16 / cc
    } else {
        1
    });
    let lanes = comptime!(
        (if cc < 16 && 16 % cc == 0 && cr % (16 / cc) == 0 {
            16 / cc
        } else {
            1
        }) * cc
    );
    let groups = comptime!(lanes.div_ceil(16));
    let vrows = comptime!(
        cr / (if cc < 16 && 16 % cc == 0 && cr % (16 / cc) == 0 {
            16 / cc
        } else {
            1
        })
    );
    let mut vacc = Array::<Vector<f32, Const<16>>>::new(comptime!(t.oc * cr * cc.div_ceil(16)));
    // Explicit vectors, except for rows of at most 8 columns at stride 1, which the compiler
    // vectorises better as they are (measured).
    let vector = comptime!(t.vector && !(cc <= 8 && cfg.stride_w == 1));
    if vector {
        #[unroll]
        for o in 0..comptime!(t.oc) {
            #[unroll]
            for i in 0..comptime!(vrows * groups) {
                vacc[comptime!(o * vrows * groups + i)] =
                    Vector::<f32, Const<16>>::new(acc[comptime!(o * cr * cc)]);
            }
        }
    }
    for c in 0..comptime!(cfg.in_per_group()) {
        let plane = x_base + (c0 + c) * plane_in;
        for ky in 0..cfg.kernel_h {
            let w_row = cfg.w_off + oc0 * per_oc + (c * cfg.kernel_h + ky) * cfg.kernel_w;
            #[unroll]
            for o in 0..comptime!(t.oc) {
                #[unroll]
                for kx in 0..comptime!(cfg.kernel_w) {
                    w[comptime!(o * cfg.kernel_w + kx)] = params[w_row + o * per_oc + kx];
                }
            }
            #[unroll]
            for r in 0..cr {
                let iy = ((y0 + r) * cfg.stride_h + ky * cfg.dilation_h) as i32
                    - comptime!(cfg.padding_h as i32);
                let inside = iy >= 0 && iy < comptime!(cfg.in_h as i32);
                let row = plane + max(iy, 0i32) as usize * cfg.in_w;
                #[unroll]
                for p in 0..comptime!(cfg.stride_w) {
                    #[unroll]
                    for j in 0..len {
                        let ix = (x0 * cfg.stride_w + comptime!(j * cfg.stride_w + p)) as i32
                            - comptime!(cfg.padding_w as i32);
                        let mut v = 0.0f32;
                        if inside && ix >= 0 && ix < comptime!(cfg.in_w as i32) {
                            // Clamped: a tap known (at compile time) to lie in the padding
                            // must not become a negative index in the dead branch (WGSL
                            // rejects it).
                            v = acts[row + max(ix, 0i32) as usize];
                        }
                        xs[comptime!((r * cfg.stride_w + p) * len + j)] = v;
                    }
                }
            }
            if vector {
                // The same multiply-adds, 16 lanes per explicit vector.
                #[unroll]
                for vr in 0..vrows {
                    #[unroll]
                    for kx in 0..comptime!(cfg.kernel_w) {
                        let tap = comptime!(kx * cfg.dilation_w);
                        #[unroll]
                        for gi in 0..groups {
                            let mut xv = Vector::<f32, Const<16>>::new(0.0f32);
                            #[unroll]
                            for l in 0..16usize {
                                if comptime!(gi * 16 + l < lanes) {
                                    // Lane `gi * 16 + l`: conv row `vr * rpv + lane / cc`,
                                    // column `lane % cc`.
                                    let r = comptime!(vr * rpv + (gi * 16 + l) / cc);
                                    let x = comptime!((gi * 16 + l) % cc);
                                    xv.insert(
                                        l,
                                        xs[comptime!(
                                            (r * cfg.stride_w + tap % cfg.stride_w) * len
                                                + x
                                                + tap / cfg.stride_w
                                        )],
                                    );
                                }
                            }
                            #[unroll]
                            for o in 0..comptime!(t.oc) {
                                let a = comptime!((o * vrows + vr) * groups + gi);
                                let wv = Vector::<f32, Const<16>>::new(
                                    w[comptime!(o * cfg.kernel_w + kx)],
                                );
                                vacc[a] = fma(wv, xv, vacc[a]);
                            }
                        }
                    }
                }
            } else {
                #[unroll]
                for r in 0..cr {
                    #[unroll]
                    for kx in 0..comptime!(cfg.kernel_w) {
                        let tap = comptime!(kx * cfg.dilation_w);
                        #[unroll]
                        for x in 0..cc {
                            let v = xs[comptime!(
                                (r * cfg.stride_w + tap % cfg.stride_w) * len
                                    + x
                                    + tap / cfg.stride_w
                            )];
                            #[unroll]
                            for o in 0..comptime!(t.oc) {
                                let a = comptime!(o * cr * cc + r * cc + x);
                                acc[a] = fma(w[comptime!(o * cfg.kernel_w + kx)], v, acc[a]);
                            }
                        }
                    }
                }
            }
        }
    }
    if vector {
        #[unroll]
        for o in 0..comptime!(t.oc) {
            #[unroll]
            for r in 0..cr {
                #[unroll]
                for x in 0..cc {
                    let lane = comptime!((r % rpv) * cc + x);
                    acc[comptime!(o * cr * cc + r * cc + x)] = vacc
                        [comptime!((o * vrows + r / rpv) * groups + lane / 16)]
                    .extract(comptime!(lane % 16));
                }
            }
        }
    }

    let out_base = comptime!(cfg.out_act * cap) + s * comptime!(cfg.out_len());
    let pre_base = comptime!(cfg.pre_act * cap) + s * comptime!(cfg.out_len());
    let am_base = comptime!(cfg.argmax * cap) + s * comptime!(cfg.out_len());
    let plane_out = comptime!(cfg.out_h * cfg.out_w);
    #[unroll]
    for o in 0..comptime!(t.oc) {
        #[unroll]
        for pr in 0..comptime!(t.rows) {
            #[unroll]
            for pc in 0..comptime!(t.cols) {
                // The first maximum in row-major window order, as PyTorch's index.
                let mut best = 0.0f32;
                let mut best_pre = 0.0f32;
                let mut best_at = 0u32;
                #[unroll]
                for wi in 0..comptime!(ph * pw) {
                    let r = comptime!(pr * ph + wi / pw);
                    let x = comptime!(pc * pw + wi % pw);
                    let pre = acc[comptime!(o * cr * cc + r * cc + x)];
                    let v = activate(pre, cfg.act);
                    if comptime!(wi == 0) || v > best {
                        best = v;
                        best_pre = pre;
                        best_at = ((y0 + r) * cfg.conv_w + x0 + x) as u32;
                    }
                }
                let at = (oc0 + o) * plane_out
                    + (rt * comptime!(t.rows) + pr) * cfg.out_w
                    + ct * comptime!(t.cols)
                    + pc;
                acts[out_base + at] = best;
                if comptime!(cfg.act.needs_pre()) {
                    acts[pre_base + at] = best_pre;
                }
                if comptime!(cfg.pool.pooled) {
                    idx[am_base + at] = best_at;
                }
            }
        }
    }
}

/// Forward unit `unit` of the general pass: conv + bias (+ activation) (+ max-pool, storing
/// its argmax) for one sample, one block output and `tiles.oc` output channels (of one
/// group), for any pool.
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
    let ocb = comptime!(cfg.tiles.oc);
    let n_ob = comptime!(cfg.out_channels / cfg.tiles.oc);
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

    let mut acc = Array::<f32>::new(comptime!(cfg.tiles.oc * cfg.pool.window()));
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
                        cfg.padding_h == 0
                            && cfg.padding_w == 0
                            && cfg.padding_extra_h == 0
                            && cfg.padding_extra_w == 0
                            && !cfg.pool.needs_checks()
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
                        acc[o * win + wi] = fma(wv, xs[wi], acc[o * win + wi]);
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
