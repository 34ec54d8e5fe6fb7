//! The gradient of a conv block's weight and bias (`conv2d_weight_backward`,
//! `conv2d_bias_backward`), reduced over the batch in two fixed stages without atomics:
//!
//! 1. [`conv_weight_partial_unit`]: per chunk (`chunk_rows` conv rows of `chunk_samples`
//!    consecutive samples, sample by sample) and
//!    parameter, `sum over the chunk's positions of d(conv output) * input tap`: position
//!    `(y, x)` goes to lane [`ConvCfg::lane`] (its column modulo `LANES`, or, for planes
//!    narrower than `LANES` that divide it, `rows_per_lane_group` rows packed side by side),
//!    positions in order, `fma`; then the lanes summed in order. Written to the `part` arena.
//!    On the `cpu` target the lanes are one explicit 16-wide vector, elsewhere 16 scalars: the
//!    same operations in the same order. The taps are staged per row with bound checks,
//!    except on the `cpu` target when every tap lies inside the input
//!    ([`ConvCfg::taps_inside`]: no padding), where they are read straight from the input
//!    (the same values; CifarLeNet's conv1 0.99 -> 0.88 ms per step).
//! 2. [`conv_weight_final_unit`]: per parameter, the chunks' partial sums added in chunk
//!    order, stored in `grads` and the SGD step applied.
//!
//! Chunks, lanes and orders depend only on the layer's shapes and the batch size, so a step
//! is bitwise the same on every target and cube size.
use cubecl::prelude::*;

use super::{ConvCfg, LANES};
use crate::sgd::sgd_update;

/// Partial-sum unit `unit`: for one chunk, `tiles.wg_oc` output channels x `tiles.wg_kx`
/// kernel columns of one (input channel, kernel row); after those, `tiles.wg_oc` biases.
#[cube]
// `a = a + b` on vectors: the form the cube macro expands for array elements.
#[allow(clippy::assign_op_pattern)]
pub fn conv_weight_partial_unit(
    acts: &mut [f32],
    part: &mut [f32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let t = comptime!(cfg.tiles);
    let (wo, wk) = comptime!((t.wg_oc, t.wg_kx));
    let n_kxt = comptime!(cfg.kernel_w / t.wg_kx);
    let n_ot = comptime!(cfg.out_channels / t.wg_oc);
    let weight_units =
        comptime!(n_ot * cfg.in_per_group() * cfg.kernel_h * (cfg.kernel_w / t.wg_kx));
    let per_chunk = comptime!(
        n_ot * cfg.in_per_group() * cfg.kernel_h * (cfg.kernel_w / t.wg_kx)
            + if cfg.bias { n_ot } else { 0 }
    );
    let bands = comptime!(cfg.conv_h / cfg.chunk_rows);
    let rows = comptime!(cfg.rows_per_lane_group());
    let chunk = unit / per_chunk;
    let r = unit % per_chunk;
    let s0 = (chunk / bands) * cfg.chunk_samples;
    let s1 = min(s0 + cfg.chunk_samples, n);
    let y0 = (chunk % bands) * cfg.chunk_rows;
    let g_src = comptime!(if cfg.has_dconv() {
        cfg.dconv
    } else {
        cfg.out_grad
    });
    let conv_plane = comptime!(cfg.conv_h * cfg.conv_w);
    let num_params = comptime!(cfg.num_params());
    let out = comptime!(cfg.part_off(cap)) + chunk * num_params;
    let bias_unit = r >= weight_units;
    let mut kxt = 0usize;
    let mut ky = 0usize;
    let mut cl = 0usize;
    // (`max`: never a negative constant, even in a branch known to be dead.)
    let mut ot = max(r, weight_units) - weight_units;
    if !bias_unit {
        kxt = r % n_kxt;
        ky = (r / n_kxt) % cfg.kernel_h;
        cl = (r / (n_kxt * cfg.kernel_h)) % comptime!(cfg.in_per_group());
        ot = r / comptime!(n_kxt * cfg.kernel_h * cfg.in_per_group());
    }
    let oc0 = ot * wo;
    let c = (oc0 / comptime!(cfg.out_per_group())) * comptime!(cfg.in_per_group()) + cl;
    let kx0 = kxt * wk;
    // The input row's taps for this tile's kernel columns, zero in the padding (and for a
    // bias unit, unused): xs[r * span + j] is column `kx0 * dilation_w - padding_w + j` of
    // input row `(y + r) * stride_h + ky * dilation_h - padding_h`.
    let span = comptime!((cfg.conv_w - 1) * cfg.stride_w + (t.wg_kx - 1) * cfg.dilation_w + 1);
    let mut xs = Array::<f32>::new(comptime!(
        cfg.rows_per_lane_group()
            * ((cfg.conv_w - 1) * cfg.stride_w + (t.wg_kx - 1) * cfg.dilation_w + 1)
    ));
    // One 16-wide accumulator per (output channel, kernel column), and one per bias.
    let mut vacc = Array::<Vector<f32, Const<16>>>::new(comptime!(t.wg_oc * t.wg_kx));
    let mut xvs = Array::<Vector<f32, Const<16>>>::new(comptime!(t.wg_kx));
    let mut acc = Array::<f32>::new(comptime!(t.wg_oc * t.wg_kx * LANES));
    if comptime!(t.vector) {
        #[unroll]
        for i in 0..comptime!(t.wg_oc * t.wg_kx) {
            vacc[i] = Vector::<f32, Const<16>>::new(0.0f32);
        }
    } else {
        #[unroll]
        for i in 0..comptime!(t.wg_oc * t.wg_kx * LANES) {
            acc[i] = 0.0;
        }
    }
    for s in s0..s1 {
        let g_base = comptime!(g_src * cap) + s * comptime!(cfg.conv_len());
        let x_plane = comptime!(cfg.in_act * cap)
            + s * comptime!(cfg.in_len())
            + c * comptime!(cfg.in_h * cfg.in_w);
        for rg in 0..comptime!(cfg.chunk_rows / cfg.rows_per_lane_group()) {
            let y = y0 + rg * rows;
            // (The vector unit reads in-bounds taps straight from the input: `direct`.)
            if !bias_unit && comptime!(!(t.vector && cfg.taps_inside())) {
                #[unroll]
                for rr in 0..rows {
                    let iy = ((y + rr) * cfg.stride_h + ky * cfg.dilation_h) as i32
                        - comptime!(cfg.padding_h as i32);
                    let inside = iy >= 0 && iy < comptime!(cfg.in_h as i32);
                    let x_row = x_plane + (iy * (inside as i32)) as usize * cfg.in_w;
                    #[unroll]
                    for j in 0..span {
                        let ix =
                            (kx0 * cfg.dilation_w + j) as i32 - comptime!(cfg.padding_w as i32);
                        let mut v = 0.0f32;
                        if inside && ix >= 0 && ix < comptime!(cfg.in_w as i32) {
                            v = acts[x_row + max(ix, 0i32) as usize];
                        }
                        xs[comptime!(rr * span + j)] = v;
                    }
                }
            }
            let g_row = g_base + oc0 * conv_plane + y * cfg.conv_w;
            if comptime!(t.vector) {
                #[unroll]
                for xg in 0..comptime!(cfg.lane_groups()) {
                    // The taps of this lane group, one vector per kernel column, built once
                    // and shared by the tile's output channels.
                    if !bias_unit {
                        #[unroll]
                        for k in 0..wk {
                            let mut xv = Vector::<f32, Const<16>>::new(0.0f32);
                            #[unroll]
                            for l in 0..LANES {
                                if comptime!(cfg.lane_position(xg, l).0 < cfg.rows_per_lane_group())
                                {
                                    let (rr, x) = comptime!(cfg.lane_position(xg, l));
                                    if comptime!(cfg.taps_inside()) {
                                        // Input row `(y + rr) * stride_h + ky * dilation_h`,
                                        // column `x * stride_w + (kx0 + k) * dilation_w`.
                                        xv.insert(
                                            l,
                                            acts[x_plane
                                                + ((y + rr) * cfg.stride_h + ky * cfg.dilation_h)
                                                    * cfg.in_w
                                                + (kx0 + k) * cfg.dilation_w
                                                + comptime!(x * cfg.stride_w)],
                                        );
                                    } else {
                                        xv.insert(
                                            l,
                                            xs[comptime!(
                                                rr * span + x * cfg.stride_w + k * cfg.dilation_w
                                            )],
                                        );
                                    }
                                }
                            }
                            xvs[k] = xv;
                        }
                    }
                    #[unroll]
                    for o in 0..wo {
                        let mut gv = Vector::<f32, Const<16>>::new(0.0f32);
                        #[unroll]
                        for l in 0..LANES {
                            // Lane `l` of group `xg`: row `rr`, column `x` of this row group.
                            if comptime!(cfg.lane_position(xg, l).0 < cfg.rows_per_lane_group()) {
                                let (rr, x) = comptime!(cfg.lane_position(xg, l));
                                gv.insert(
                                    l,
                                    acts[g_row + comptime!(o * conv_plane + rr * cfg.conv_w + x)],
                                );
                            }
                        }
                        if bias_unit {
                            let a = comptime!(o * wk);
                            vacc[a] = vacc[a] + gv;
                        } else {
                            #[unroll]
                            for k in 0..wk {
                                let a = comptime!(o * wk + k);
                                vacc[a] = fma(gv, xvs[k], vacc[a]);
                            }
                        }
                    }
                }
            } else {
                #[unroll]
                for rr in 0..rows {
                    #[unroll]
                    for x in 0..comptime!(cfg.conv_w) {
                        let lane = comptime!(cfg.lane(rr, x));
                        #[unroll]
                        for o in 0..wo {
                            let g = acts[g_row + comptime!(o * conv_plane + rr * cfg.conv_w + x)];
                            if bias_unit {
                                acc[comptime!(o * wk * LANES + lane)] += g;
                            } else {
                                #[unroll]
                                for k in 0..wk {
                                    let a = comptime!((o * wk + k) * LANES + lane);
                                    acc[a] = fma(
                                        g,
                                        xs[comptime!(
                                            rr * span + x * cfg.stride_w + k * cfg.dilation_w
                                        )],
                                        acc[a],
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // The lanes summed in order.
    #[unroll]
    for o in 0..wo {
        #[unroll]
        for k in 0..wk {
            let a = comptime!(o * wk + k);
            #[allow(unused_assignments)]
            let mut sum = 0.0f32;
            if comptime!(t.vector) {
                let v = vacc[a];
                sum = v.extract(0usize);
                #[unroll]
                for l in 1..LANES {
                    sum += v.extract(l);
                }
            } else {
                sum = acc[comptime!(a * LANES)];
                #[unroll]
                for l in 1..LANES {
                    sum += acc[comptime!(a * LANES + l)];
                }
            }
            if bias_unit {
                if comptime!(k == 0) {
                    part[out + comptime!(cfg.out_channels * cfg.weights_per_oc()) + oc0 + o] = sum;
                }
            } else {
                let w = ((oc0 + o) * comptime!(cfg.in_per_group()) + cl)
                    * comptime!(cfg.kernel_h * cfg.kernel_w)
                    + ky * cfg.kernel_w
                    + kx0
                    + k;
                part[out + w] = sum;
            }
        }
    }
}

/// Final unit `unit`: parameter `unit` of the block (weights, then biases): the chunks'
/// partial sums in chunk order, stored in `grads`, and the SGD step (`sgd_update`).
#[cube]
#[allow(clippy::too_many_arguments)]
pub fn conv_weight_final_unit(
    params: &mut [f32],
    velocity: &mut [f32],
    grads: &mut [f32],
    part: &mut [f32],
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
    let num_params = comptime!(cfg.num_params());
    let base = comptime!(cfg.part_off(cap)) + unit;
    let mut sum = 0.0f32;
    for ch in 0..comptime!(cfg.chunks(n)) {
        sum += part[base + ch * num_params];
    }
    let weights = comptime!(cfg.out_channels * cfg.weights_per_oc());
    let mut at = cfg.w_off + unit;
    if unit >= weights {
        at = cfg.b_off + unit - weights;
    }
    sgd_update(
        params,
        velocity,
        grads,
        at,
        sum,
        lr,
        momentum,
        dampening,
        weight_decay,
        flags,
    );
}
