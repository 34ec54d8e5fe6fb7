//! `MaxPool2d` as a building block of the conv and norm blocks, which apply it after their
//! activation and keep the argmax (u32) for the backward pass.
//!
//! Semantics are torch.nn.MaxPool2d's: output size `floor((in + 2p - k)/s) + 1` (a
//! `ceil_mode` pool rounds up; its last window may then run past the input's end and covers
//! fewer elements; the sizes come from the macro's shape inference), padding is -inf (padded
//! and past-the-end positions are skipped), the first maximum in row-major window order wins,
//! and the backward pass routes the whole gradient to it (overlapping windows accumulate).
//!
//! A block without a pool is treated as one with a 1x1 window of stride 1
//! ([`MaxPoolCfg::pooled`] false): its "argmax" is the position itself and is not stored.
use cubecl::prelude::*;

pub mod reference;

/// Comptime description of a max-pool over one `in_h x in_w` plane.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct MaxPoolCfg {
    /// Whether there is a pool (the fields below are a 1x1 window of stride 1 otherwise).
    pub pooled: bool,
    /// Window height.
    pub kernel_h: usize,
    /// Window width.
    pub kernel_w: usize,
    /// Stride along H.
    pub stride_h: usize,
    /// Stride along W.
    pub stride_w: usize,
    /// Padding along H (implicit -inf).
    pub padding_h: usize,
    /// Padding along W.
    pub padding_w: usize,
    /// Height of the plane it pools.
    pub in_h: usize,
    /// Width of the plane it pools.
    pub in_w: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
}

impl MaxPoolCfg {
    /// Whether every input position is covered by at most one window: stride equal to the
    /// kernel, no padding (the windows tile the plane; a position past the last window is
    /// covered by none).
    pub const fn disjoint(&self) -> bool {
        self.stride_h == self.kernel_h
            && self.stride_w == self.kernel_w
            && self.padding_h == 0
            && self.padding_w == 0
    }
    /// No pool over an `h x w` plane.
    pub const fn none(h: usize, w: usize) -> Self {
        MaxPoolCfg {
            pooled: false,
            kernel_h: 1,
            kernel_w: 1,
            stride_h: 1,
            stride_w: 1,
            padding_h: 0,
            padding_w: 0,
            in_h: h,
            in_w: w,
            out_h: h,
            out_w: w,
        }
    }
    /// Elements of one window.
    pub const fn window(&self) -> usize {
        self.kernel_h * self.kernel_w
    }
    /// Whether every window ends inside the padded plane:
    /// `(out_h - 1) * stride_h + kernel_h <= in_h + 2 * padding_h`, and likewise along W.
    /// Always true in floor mode; a `ceil_mode` pool's last window may run past the end.
    pub const fn fits(&self) -> bool {
        (self.out_h - 1) * self.stride_h + self.kernel_h <= self.in_h + 2 * self.padding_h
            && (self.out_w - 1) * self.stride_w + self.kernel_w <= self.in_w + 2 * self.padding_w
    }
    /// Whether some window element can be padding or past the end (so positions must be
    /// checked).
    pub const fn needs_checks(&self) -> bool {
        self.padding_h > 0 || self.padding_w > 0 || !self.fits()
    }
    /// At most how many outputs' windows cover one row of the plane, given that the conv
    /// rows reaching one input row span `rows` rows (for loop bounds).
    pub const fn outputs_per_span(&self, rows: usize, cols: usize) -> (usize, usize) {
        let r = rows.div_ceil(self.stride_h) + self.kernel_h;
        let c = cols.div_ceil(self.stride_w) + self.kernel_w;
        (
            if r < self.out_h { r } else { self.out_h },
            if c < self.out_w { c } else { self.out_w },
        )
    }
}

/// Window element `wi` (row-major) of output `(py, px)`: whether it lies inside the plane
/// (not in the padding, not past the end), and its plane index `y * in_w + x`.
#[cube]
pub fn window_element(
    py: usize,
    px: usize,
    #[comptime] wi: usize,
    #[comptime] cfg: MaxPoolCfg,
) -> (bool, usize) {
    let yy = py * cfg.stride_h + comptime!(wi / cfg.kernel_w);
    let xx = px * cfg.stride_w + comptime!(wi % cfg.kernel_w);
    let inside = yy >= cfg.padding_h
        && xx >= cfg.padding_w
        && yy - cfg.padding_h < cfg.in_h
        && xx - cfg.padding_w < cfg.in_w;
    let mut pos = 0usize;
    if inside {
        pos = (yy - cfg.padding_h) * cfg.in_w + (xx - cfg.padding_w);
    }
    (inside, pos)
}

/// Whether window value `v` replaces the running maximum `best` (`found`: there is one):
/// the first maximum in row-major window order wins, as PyTorch's index does. (WGSL has no
/// infinity literal, so the maximum starts at the window's first inside value; a window always
/// holds one, since padding <= k/2 and, in ceil mode, a window starts inside the plane or its
/// left padding.)
#[cube]
pub fn replaces(found: bool, v: f32, best: f32) -> bool {
    !found || v > best
}

/// The outputs whose windows can cover plane rows `lo ..= hi` (or columns, with the W
/// fields): `(first, last)`, clamped to the output; empty when `first > last`.
#[cube]
pub fn outputs_covering(
    lo: i32,
    hi: i32,
    #[comptime] rows: bool,
    #[comptime] cfg: MaxPoolCfg,
) -> (i32, i32) {
    let k = comptime!((if rows { cfg.kernel_h } else { cfg.kernel_w }) as i32);
    let s = comptime!((if rows { cfg.stride_h } else { cfg.stride_w }) as i32);
    let p = comptime!((if rows { cfg.padding_h } else { cfg.padding_w }) as i32);
    let out = comptime!((if rows { cfg.out_h } else { cfg.out_w }) as i32);
    let first = max((lo + p - k + 1 + s - 1) / s, 0i32);
    let last = min((hi + p) / s, out - 1);
    (first, last)
}
