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

pub mod reference;

/// Comptime description of one average pool.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AvgPoolCfg {
    /// Channels.
    pub channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Kernel height (`AvgPool2d`).
    pub kernel_h: usize,
    /// Kernel width.
    pub kernel_w: usize,
    /// Stride along H.
    pub stride_h: usize,
    /// Stride along W.
    pub stride_w: usize,
    /// Zero padding along H.
    pub padding_h: usize,
    /// Zero padding along W.
    pub padding_w: usize,
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
        self.channels * self.in_h * self.in_w
    }
    /// Floats per sample of the output.
    pub const fn out_len(&self) -> usize {
        self.channels * self.out_h * self.out_w
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
                self.in_h.div_ceil(self.out_h) + 1,
                self.in_w.div_ceil(self.out_w) + 1,
            )
        } else {
            (self.kernel_h, self.kernel_w)
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
            self.out_h * (1 + self.out_w)
        } else {
            let rows = self.kernel_h.div_ceil(self.stride_h) + 1;
            let cols = self.kernel_w.div_ceil(self.stride_w) + 1;
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
    let ox = unit % cfg.out_w;
    let oy = (unit / cfg.out_w) % cfg.out_h;
    let plane = unit / comptime!(cfg.out_h * cfg.out_w);
    let (y0, y1, sy) = window(
        oy,
        cfg.in_h,
        cfg.out_h,
        cfg.kernel_h,
        cfg.stride_h,
        cfg.padding_h,
        cfg.adaptive,
        cfg.count_include_pad,
    );
    let (x0, x1, sx) = window(
        ox,
        cfg.in_w,
        cfg.out_w,
        cfg.kernel_w,
        cfg.stride_w,
        cfg.padding_w,
        cfg.adaptive,
        cfg.count_include_pad,
    );
    let base = comptime!(cfg.in_act * cap) + plane * comptime!(cfg.in_h * cfg.in_w);
    let mut sum = 0.0f32;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += acts[base + y * cfg.in_w + x];
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
    let ix = unit % cfg.in_w;
    let iy = (unit / cfg.in_w) % cfg.in_h;
    let plane = unit / comptime!(cfg.in_h * cfg.in_w);
    // Candidate output rows / columns.
    let mut oy0 = 0usize;
    let mut oy1 = 0usize;
    let mut ox0 = 0usize;
    let mut ox1 = 0usize;
    if comptime!(cfg.adaptive) {
        oy1 = cfg.out_h;
        ox1 = cfg.out_w;
    } else {
        // o * s - p <= i < o * s - p + k  <=>  (i + p - k) / s < o <= (i + p) / s.
        let yp = (iy + cfg.padding_h) as i32;
        let xp = (ix + cfg.padding_w) as i32;
        let sh = comptime!(cfg.stride_h as i32);
        let sw = comptime!(cfg.stride_w as i32);
        oy0 = max((yp - comptime!(cfg.kernel_h as i32) + sh) / sh, 0i32) as usize;
        ox0 = max((xp - comptime!(cfg.kernel_w as i32) + sw) / sw, 0i32) as usize;
        oy1 = min((yp / sh + 1) as usize, cfg.out_h);
        ox1 = min((xp / sw + 1) as usize, cfg.out_w);
    }
    let g_base = comptime!(cfg.out_grad * cap) + plane * comptime!(cfg.out_h * cfg.out_w);
    let mut acc = 0.0f32;
    for oy in oy0..oy1 {
        let (y0, y1, sy) = window(
            oy,
            cfg.in_h,
            cfg.out_h,
            cfg.kernel_h,
            cfg.stride_h,
            cfg.padding_h,
            cfg.adaptive,
            cfg.count_include_pad,
        );
        if iy >= y0 && iy < y1 {
            for ox in ox0..ox1 {
                let (x0, x1, sx) = window(
                    ox,
                    cfg.in_w,
                    cfg.out_w,
                    cfg.kernel_w,
                    cfg.stride_w,
                    cfg.padding_w,
                    cfg.adaptive,
                    cfg.count_include_pad,
                );
                if ix >= x0 && ix < x1 {
                    let mut div = sy * sx;
                    if comptime!(!cfg.adaptive && !cfg.count_include_pad) {
                        div = (y1 - y0) * (x1 - x0);
                    }
                    acc += acts[g_base + oy * cfg.out_w + ox] / f32::cast_from(div as u32);
                }
            }
        }
    }
    acts[comptime!(cfg.in_grad * cap) + unit] = acc;
}
