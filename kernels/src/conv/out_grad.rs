//! d(loss)/d(conv output): the block's output gradient routed back through the max-pool (to
//! each window's argmax; overlapping windows add up, in window order) and the activation's
//! derivative, written densely (`dconv`) for the input and weight gradients to read.
use cubecl::prelude::*;

use super::ConvCfg;
use crate::act::act_grad;
use crate::max_pool::outputs_covering;

/// Unit `unit`: one conv row of one output channel of one sample.
#[cube]
pub fn conv_out_grad_unit(
    acts: &mut [f32],
    idx: &mut [u32],
    unit: usize,
    #[comptime] cfg: ConvCfg,
    #[comptime] cap: usize,
) {
    let y = unit % cfg.conv_h;
    let oc = (unit / cfg.conv_h) % cfg.out_channels;
    let s = unit / comptime!(cfg.conv_h * cfg.out_channels);
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
