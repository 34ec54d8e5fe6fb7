//! d(loss)/d(conv output): the block's output gradient routed back through the max-pool (to
//! each window's argmax; overlapping windows add up, in window order) and the activation's
//! derivative, written densely (`dconv`) for the input and weight gradients to read.
use cubecl::prelude::*;

use super::ConvCfg;
use crate::act::act_grad;
use crate::max_pool::outputs_covering;

/// Unit `unit`: `cfg.tiles.og_rows` conv rows (one, or the whole plane) of one output channel
/// of one sample. A whole plane behind a disjoint pool is zeroed and each window's gradient
/// stored at its argmax (no search); otherwise each row is done by [`out_grad_row`]. Either
/// way every element gets the same value.
#[cube]
pub fn conv_out_grad_unit(
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let bands = comptime!(cfg.conv_h / cfg.tiles.og_rows);
    let band = unit % bands;
    let oc = (unit / bands) % cfg.out_channels;
    let s = unit / comptime!(bands * cfg.out_channels);
    if comptime!(cfg.out_grad_scatters_plane()) {
        let out_plane = s * comptime!(cfg.out_len()) + oc * comptime!(cfg.out_h * cfg.out_w);
        let g_base = comptime!(cfg.out_grad * cap) + out_plane;
        let src_base = comptime!(cfg.act_src() * cap) + out_plane;
        let a_base = comptime!(cfg.argmax * cap) + out_plane;
        let d_base = comptime!(cfg.dconv * cap)
            + s * comptime!(cfg.conv_len())
            + oc * comptime!(cfg.conv_h * cfg.conv_w);
        for p in 0..comptime!(cfg.conv_h * cfg.conv_w) {
            acts[d_base + p] = 0.0;
        }
        for at in 0..comptime!(cfg.out_h * cfg.out_w) {
            let pos = idx[a_base + at] as usize;
            acts[d_base + pos] = act_grad(acts[g_base + at], acts[src_base + at], cfg.act);
        }
    } else {
        for r in 0..comptime!(cfg.tiles.og_rows) {
            out_grad_row(
                acts,
                idx,
                s,
                oc,
                band * comptime!(cfg.tiles.og_rows) + r,
                cfg,
                cap,
            );
        }
    }
}

/// Conv row `y` of output channel `oc` of sample `s`.
#[cube]
fn out_grad_row(
    acts: &mut [f32],
    idx: &mut [u32],
    s: usize,
    oc: usize,
    y: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let out_plane = s * comptime!(cfg.out_len()) + oc * comptime!(cfg.out_h * cfg.out_w);
    let g_base = comptime!(cfg.out_grad * cap) + out_plane;
    let src_base = comptime!(cfg.act_src() * cap) + out_plane;
    let d_base = comptime!(cfg.dconv * cap)
        + s * comptime!(cfg.conv_len())
        + oc * comptime!(cfg.conv_h * cfg.conv_w)
        + y * cfg.conv_w;
    if comptime!(cfg.pool.pooled && cfg.pool.disjoint()) {
        // One window at most per position: the row is zero but where it holds a window's
        // argmax, which gets that window's gradient (the sum below, of one term).
        for x in 0..cfg.conv_w {
            acts[d_base + x] = 0.0;
        }
        let a_base = comptime!(cfg.argmax * cap) + out_plane;
        let py = y / comptime!(cfg.pool.kernel_h);
        if py < comptime!(cfg.out_h) {
            for px in 0..cfg.out_w {
                let at = py * cfg.out_w + px;
                let pos = idx[a_base + at] as usize;
                if pos / cfg.conv_w == y {
                    acts[d_base + pos % cfg.conv_w] =
                        act_grad(acts[g_base + at], acts[src_base + at], cfg.act);
                }
            }
        }
    } else if comptime!(cfg.pool.pooled) {
        let a_base = comptime!(cfg.argmax * cap) + out_plane;
        let (py_lo, py_hi) = outputs_covering(y as i32, y as i32, true, cfg.pool);
        for x in 0..cfg.conv_w {
            let pos = (y * cfg.conv_w + x) as u32;
            let (px_lo, px_hi) = outputs_covering(x as i32, x as i32, false, cfg.pool);
            let mut g = 0.0f32;
            let mut py = py_lo;
            while py <= py_hi {
                let mut px = px_lo;
                while px <= px_hi {
                    let at = py as usize * cfg.out_w + px as usize;
                    if idx[a_base + at] == pos {
                        g += act_grad(acts[g_base + at], acts[src_base + at], cfg.act);
                    }
                    px += 1;
                }
                py += 1;
            }
            acts[d_base + x] = g;
        }
    } else {
        let row = y * cfg.conv_w;
        for x in 0..cfg.conv_w {
            acts[d_base + x] = act_grad(acts[g_base + row + x], acts[src_base + row + x], cfg.act);
        }
    }
}
