//! d(loss)/d(input) of a conv block (`conv2d_x_backward`): the transposed correlation of the
//! dense d(conv output) with the weights, one register tile of input channels x rows x
//! columns per unit. Each input gradient is summed over (output channel of its group, kernel
//! row, kernel column) in that order with `fma` (taps that meet no conv output, in the
//! padding or between strides, multiply a zero), whatever the tile.
use cubecl::prelude::*;

use super::ConvCfg;

/// Unit `unit`: `tiles.in_c` input channels (of one group) x `tiles.in_rows` x
/// `tiles.in_cols` input positions of one sample. The residual gradient (`add_skip_grad`)
/// and what `in_grad` holds (`accumulate`) are added after the sum.
#[cube]
pub fn conv_input_grad_unit(
    params: &mut [f32],
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let t = comptime!(cfg.tiles);
    let (ir, ic, icb) = comptime!((t.in_rows, t.in_cols, t.in_c));
    let n_ct = comptime!(cfg.in_w / t.in_cols);
    let n_rt = comptime!(cfg.in_h / t.in_rows);
    let n_cit = comptime!(cfg.in_per_group() / t.in_c);
    let ct = unit % n_ct;
    let rt = (unit / n_ct) % n_rt;
    let cit = (unit / (n_ct * n_rt)) % n_cit;
    let grp = (unit / (n_ct * n_rt * n_cit)) % cfg.groups;
    let s = unit
        / comptime!(
            cfg.in_w / t.in_cols
                * (cfg.in_h / t.in_rows)
                * (cfg.in_per_group() / t.in_c)
                * cfg.groups
        );
    let iy0 = rt * ir;
    let ix0 = ct * ic;
    let cl0 = cit * icb;
    let (sh, sw) = comptime!((cfg.stride_h as i32, cfg.stride_w as i32));
    let per_oc = comptime!(cfg.weights_per_oc());
    let kk = comptime!(cfg.kernel_h * cfg.kernel_w);

    let mut acc = Array::<f32>::new(comptime!(t.in_c * t.in_rows * t.in_cols));
    #[unroll]
    for i in 0..comptime!(t.in_c * t.in_rows * t.in_cols) {
        acc[i] = 0.0;
    }
    let mut w = Array::<f32>::new(comptime!(t.in_c * cfg.kernel_w));
    // The cpu target's accumulators: each input row's columns in 16-wide vectors.
    let groups = comptime!(t.in_cols.div_ceil(16));
    let mut vacc = Array::<Vector<f32, Const<16>>>::new(comptime!(
        t.in_c * t.in_rows * t.in_cols.div_ceil(16)
    ));
    if comptime!(t.vector && ic > 8) {
        #[unroll]
        for i in 0..comptime!(t.in_c * t.in_rows * t.in_cols.div_ceil(16)) {
            vacc[i] = Vector::<f32, Const<16>>::new(0.0f32);
        }
    }
    // One row of d(conv output) spread onto input columns: column `ix0 + j - pad` of the
    // input meets conv column `(ix0 + j - kx * dilation_w) / stride_w` through tap `kx`;
    // staged once per row, zero where no conv column is (padding, stride gaps), so that the
    // multiply-adds below read registers without conditions.
    let pad = comptime!((cfg.kernel_w - 1) * cfg.dilation_w);
    let span = comptime!(t.in_cols + (cfg.kernel_w - 1) * cfg.dilation_w);
    let mut gs = Array::<f32>::new(span);
    let g_src = comptime!(if cfg.has_dconv() {
        cfg.dconv
    } else {
        cfg.out_grad
    });
    let g_base = comptime!(g_src * cap) + s * comptime!(cfg.conv_len());
    for og in 0..comptime!(cfg.out_per_group()) {
        let oc = grp * comptime!(cfg.out_per_group()) + og;
        let g_plane = g_base + oc * comptime!(cfg.conv_h * cfg.conv_w);
        let w_oc = cfg.w_off + oc * per_oc + cl0 * kk;
        for ky in 0..cfg.kernel_h {
            #[unroll]
            for c in 0..icb {
                #[unroll]
                for kx in 0..comptime!(cfg.kernel_w) {
                    w[comptime!(c * cfg.kernel_w + kx)] =
                        params[w_oc + c * kk + ky * cfg.kernel_w + kx];
                }
            }
            #[unroll]
            for r in 0..ir {
                let ty = (iy0 + r + cfg.padding_h) as i32 - (ky * cfg.dilation_h) as i32;
                if ty >= 0 && ty % sh == 0 && ty / sh < comptime!(cfg.conv_h as i32) {
                    let g_row = g_plane + (ty / sh) as usize * cfg.conv_w;
                    // gs[j] is d(conv) at position (ix0 + j + padding_w - pad) / stride_w.
                    #[unroll]
                    for j in 0..span {
                        let tx = (ix0 + j + cfg.padding_w) as i32 - comptime!(pad as i32);
                        let mut g = 0.0f32;
                        if tx >= 0 && tx % sw == 0 && tx / sw < comptime!(cfg.conv_w as i32) {
                            g = acts[g_row + (max(tx, 0i32) / sw) as usize];
                        }
                        gs[j] = g;
                    }
                    if comptime!(t.vector && ic > 8) {
                        // The same multiply-adds, 16 columns per explicit vector.
                        #[unroll]
                        for kx in 0..comptime!(cfg.kernel_w) {
                            #[unroll]
                            for gi in 0..groups {
                                let mut gv = Vector::<f32, Const<16>>::new(0.0f32);
                                #[unroll]
                                for l in 0..16usize {
                                    if comptime!(gi * 16 + l < ic) {
                                        gv.insert(
                                            l,
                                            gs[comptime!(gi * 16 + l + pad - kx * cfg.dilation_w)],
                                        );
                                    }
                                }
                                #[unroll]
                                for c in 0..icb {
                                    let a = comptime!((c * ir + r) * groups + gi);
                                    let wv = Vector::<f32, Const<16>>::new(
                                        w[comptime!(c * cfg.kernel_w + kx)],
                                    );
                                    vacc[a] = fma(wv, gv, vacc[a]);
                                }
                            }
                        }
                    } else {
                        #[unroll]
                        for kx in 0..comptime!(cfg.kernel_w) {
                            #[unroll]
                            for x in 0..ic {
                                let g = gs[comptime!(x + pad - kx * cfg.dilation_w)];
                                #[unroll]
                                for c in 0..icb {
                                    let a = comptime!((c * ir + r) * ic + x);
                                    acc[a] = fma(w[comptime!(c * cfg.kernel_w + kx)], g, acc[a]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if comptime!(t.vector && ic > 8) {
        #[unroll]
        for c in 0..icb {
            #[unroll]
            for r in 0..ir {
                #[unroll]
                for x in 0..ic {
                    acc[comptime!((c * ir + r) * ic + x)] =
                        vacc[comptime!((c * ir + r) * groups + x / 16)].extract(comptime!(x % 16));
                }
            }
        }
    }
    let plane = comptime!(cfg.in_h * cfg.in_w);
    let first = s * comptime!(cfg.in_len())
        + (grp * comptime!(cfg.in_per_group()) + cl0) * plane
        + iy0 * cfg.in_w
        + ix0;
    let base = comptime!(cfg.in_grad * cap) + first;
    let skip = comptime!(cfg.skip_grad * cap) + first;
    #[unroll]
    for c in 0..icb {
        #[unroll]
        for r in 0..ir {
            #[unroll]
            for x in 0..ic {
                let i = comptime!(c * plane + r * cfg.in_w + x);
                let mut g = acc[comptime!((c * ir + r) * ic + x)];
                if comptime!(cfg.add_skip_grad) {
                    g += acts[skip + i];
                }
                if comptime!(cfg.accumulate) {
                    g += acts[base + i];
                }
                acts[base + i] = g;
            }
        }
    }
}
