//! `AvgPool2d` and `AdaptiveAvgPool2d`, forward and backward.
//!
//! Windows are PyTorch's (`aten/src/ATen/native/cpu/AvgPoolKernel.cpp`,
//! `AdaptiveAvgPoolKernel.cpp`):
//! - `AvgPool2d`: output row `o` covers rows `[o * s - p, min(o * s - p + k, in + p))`,
//!   clipped to `[0, in)`; the divisor is the window's size before clipping to the input
//!   (`count_include_pad = true`, the default) or after (`false`);
//! - `AdaptiveAvgPool2d`: output row `o` of `out` covers `[floor(o * in / out),
//!   ceil((o + 1) * in / out))`, and the divisor is its size.
//!
//! The forward sums each window row-major and divides once; the backward adds
//! `g / divisor` over the windows that contain an input element, in row-major output order.
// `#[cube]` needs a mutable binding assigned in both branches of a comptime `if`.
#![allow(unused_assignments)]
use cubecl::prelude::*;

/// Comptime description of one average pool.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AvgPoolCfg {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// Output height.
    pub h_out: usize,
    /// Output width.
    pub w_out: usize,
    /// Kernel height (`AvgPool2d`).
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride along H.
    pub sh: usize,
    /// Stride along W.
    pub sw: usize,
    /// Zero padding along H.
    pub ph: usize,
    /// Zero padding along W.
    pub pw: usize,
    /// `AdaptiveAvgPool2d` (the window fields above are unused).
    pub adaptive: bool,
    /// `count_include_pad`.
    pub count_include_pad: bool,
    /// Per-sample offset of the input in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the output in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts`.
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
}

impl AvgPoolCfg {
    /// Floats per sample of the input.
    pub const fn in_len(&self) -> usize {
        self.c * self.h_in * self.w_in
    }
    /// Floats per sample of the output.
    pub const fn out_len(&self) -> usize {
        self.c * self.h_out * self.w_out
    }
    /// Units of the forward job (one per output element).
    pub const fn forward_units(&self, n: usize) -> usize {
        n * self.out_len()
    }
    /// Units of the input-gradient job (one per input element).
    pub const fn input_grad_units(&self, n: usize) -> usize {
        n * self.in_len()
    }
    /// The largest window extent along H and W.
    const fn max_window(&self) -> (usize, usize) {
        if self.adaptive {
            (
                self.h_in.div_ceil(self.h_out) + 1,
                self.w_in.div_ceil(self.w_out) + 1,
            )
        } else {
            (self.kh, self.kw)
        }
    }
    /// Upper bound on the loop iterations of one forward unit.
    pub const fn forward_loop_iterations(&self) -> usize {
        let (a, b) = self.max_window();
        a * (1 + b)
    }
    /// Upper bound on the loop iterations of one input-gradient unit.
    pub const fn input_grad_loop_iterations(&self) -> usize {
        if self.adaptive {
            self.h_out * (1 + self.w_out)
        } else {
            let rows = self.kh.div_ceil(self.sh) + 1;
            let cols = self.kw.div_ceil(self.sw) + 1;
            rows * (1 + cols)
        }
    }
}

/// Window `[start, end)` of output index `o` along one axis, the unclipped size for the
/// divisor, as `(start, end, size)`.
#[cube]
fn window(
    o: usize,
    #[comptime] len_in: usize,
    #[comptime] len_out: usize,
    #[comptime] k: usize,
    #[comptime] s: usize,
    #[comptime] p: usize,
    #[comptime] adaptive: bool,
    #[comptime] count_include_pad: bool,
) -> (usize, usize, usize) {
    let mut start = 0usize;
    let mut end = 0usize;
    let mut size = 0usize;
    if comptime!(adaptive) {
        start = (o * len_in) / len_out;
        end = ((o + 1) * len_in).div_ceil(len_out);
        size = end - start;
    } else {
        let a = (o * s) as i32 - comptime!(p as i32);
        let b = min(a + comptime!(k as i32), comptime!((len_in + p) as i32));
        let lo = max(a, 0i32);
        let hi = min(b, comptime!(len_in as i32));
        start = lo as usize;
        end = hi as usize;
        if comptime!(count_include_pad) {
            size = (b - a) as usize;
        } else {
            size = end - start;
        }
    }
    (start, end, size)
}

/// Forward unit `unit`: one output element (`((s * c + ch) * h_out + oy) * w_out + ox`).
#[cube]
pub fn avg_pool_forward_unit(
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: AvgPoolCfg,
    #[comptime] cap: usize,
) {
    let ox = unit % cfg.w_out;
    let oy = (unit / cfg.w_out) % cfg.h_out;
    let plane = unit / comptime!(cfg.h_out * cfg.w_out);
    let (y0, y1, sy) = window(
        oy,
        cfg.h_in,
        cfg.h_out,
        cfg.kh,
        cfg.sh,
        cfg.ph,
        cfg.adaptive,
        cfg.count_include_pad,
    );
    let (x0, x1, sx) = window(
        ox,
        cfg.w_in,
        cfg.w_out,
        cfg.kw,
        cfg.sw,
        cfg.pw,
        cfg.adaptive,
        cfg.count_include_pad,
    );
    let base = comptime!(cfg.in_act * cap) + plane * comptime!(cfg.h_in * cfg.w_in);
    let mut sum = 0.0f32;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += acts[base + y * cfg.w_in + x];
        }
    }
    let mut div = sy * sx;
    if comptime!(!cfg.adaptive && !cfg.count_include_pad) {
        div = (y1 - y0) * (x1 - x0);
    }
    acts[comptime!(cfg.out_act * cap) + unit] = sum / f32::cast_from(div as u32);
}

/// Input-gradient unit `unit`: one input element (`((s * c + ch) * h_in + iy) * w_in + ix`),
/// the sum of `g / divisor` over the output windows that contain it.
#[cube]
pub fn avg_pool_input_grad_unit(
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: AvgPoolCfg,
    #[comptime] cap: usize,
) {
    let ix = unit % cfg.w_in;
    let iy = (unit / cfg.w_in) % cfg.h_in;
    let plane = unit / comptime!(cfg.h_in * cfg.w_in);
    // Candidate output rows / columns.
    let mut oy0 = 0usize;
    let mut oy1 = 0usize;
    let mut ox0 = 0usize;
    let mut ox1 = 0usize;
    if comptime!(cfg.adaptive) {
        oy1 = cfg.h_out;
        ox1 = cfg.w_out;
    } else {
        // o * s - p <= i < o * s - p + k  <=>  (i + p - k) / s < o <= (i + p) / s.
        let yp = (iy + cfg.ph) as i32;
        let xp = (ix + cfg.pw) as i32;
        let sh = comptime!(cfg.sh as i32);
        let sw = comptime!(cfg.sw as i32);
        oy0 = max((yp - comptime!(cfg.kh as i32) + sh) / sh, 0i32) as usize;
        ox0 = max((xp - comptime!(cfg.kw as i32) + sw) / sw, 0i32) as usize;
        oy1 = min((yp / sh + 1) as usize, cfg.h_out);
        ox1 = min((xp / sw + 1) as usize, cfg.w_out);
    }
    let g_base = comptime!(cfg.out_grad * cap) + plane * comptime!(cfg.h_out * cfg.w_out);
    let mut acc = 0.0f32;
    for oy in oy0..oy1 {
        let (y0, y1, sy) = window(
            oy,
            cfg.h_in,
            cfg.h_out,
            cfg.kh,
            cfg.sh,
            cfg.ph,
            cfg.adaptive,
            cfg.count_include_pad,
        );
        if iy >= y0 && iy < y1 {
            for ox in ox0..ox1 {
                let (x0, x1, sx) = window(
                    ox,
                    cfg.w_in,
                    cfg.w_out,
                    cfg.kw,
                    cfg.sw,
                    cfg.pw,
                    cfg.adaptive,
                    cfg.count_include_pad,
                );
                if ix >= x0 && ix < x1 {
                    let mut div = sy * sx;
                    if comptime!(!cfg.adaptive && !cfg.count_include_pad) {
                        div = (y1 - y0) * (x1 - x0);
                    }
                    acc += acts[g_base + oy * cfg.w_out + ox] / f32::cast_from(div as u32);
                }
            }
        }
    }
    acts[comptime!(cfg.in_grad * cap) + unit] = acc;
}
