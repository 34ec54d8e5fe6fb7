//! `torch.nn.functional.max_pool2d` (with `return_indices=True`) forward and backward.
use crate::reference::{out_size, pool_out_size_ceil};

/// Sizes and options of a 2-D max-pool over a batch (torch.nn.MaxPool2d with `dilation=1`).
/// Pairs are `(along H, along W)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaxPool2dShape {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// `kernel_size` (kh, kw).
    pub kernel: (usize, usize),
    /// `stride` (sh, sw).
    pub stride: (usize, usize),
    /// Implicit -inf `padding` (ph, pw) on both sides; at most half the kernel, as PyTorch
    /// requires.
    pub padding: (usize, usize),
    /// `ceil_mode`: the output size rounds up (see [`pool_out_size_ceil`]); the last window
    /// may then run past the input's end and covers fewer elements.
    pub ceil_mode: bool,
}

impl MaxPool2dShape {
    /// Output height: `floor((h_in + 2 ph - kh) / sh) + 1`, or with `ceil_mode`
    /// [`pool_out_size_ceil`].
    pub fn h_out(&self) -> usize {
        if self.ceil_mode {
            pool_out_size_ceil(self.h_in, self.kernel.0, self.stride.0, self.padding.0)
        } else {
            out_size(self.h_in, self.kernel.0, self.stride.0, self.padding.0, 1)
        }
    }
    /// Output width: `floor((w_in + 2 pw - kw) / sw) + 1`, or with `ceil_mode`
    /// [`pool_out_size_ceil`].
    pub fn w_out(&self) -> usize {
        if self.ceil_mode {
            pool_out_size_ceil(self.w_in, self.kernel.1, self.stride.1, self.padding.1)
        } else {
            out_size(self.w_in, self.kernel.1, self.stride.1, self.padding.1, 1)
        }
    }
    /// Length of the input, `n x c x h_in x w_in`.
    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h_in * self.w_in
    }
    /// Length of the output, `n x c x h_out x w_out`.
    pub fn output_len(&self) -> usize {
        self.n * self.c * self.h_out() * self.w_out()
    }
}

/// Result of [`max_pool2d_forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2dOutput {
    /// The pooled values, `n x c x h_out x w_out`.
    pub output: Vec<f64>,
    /// For each output, where its value came from, as PyTorch's `return_indices=True` gives
    /// it: the flat index `y * w_in + x` inside its own input plane.
    pub indices: Vec<usize>,
}

/// Forward of `torch.nn.functional.max_pool2d(x, kernel, stride, padding,
/// return_indices=True)` (torch.nn.MaxPool2d docs:
/// `out[n][c][y][x] = max_{wy, wx} xpad[n][c][y sh + wy][x sw + wx]`, `xpad` padded with -inf;
/// with `ceil_mode` a last window that runs past the input's end is clipped to it, as if
/// padded with -inf there too).
///
/// Ties keep the first maximum in row-major window order, as PyTorch's CPU kernel
/// (`aten/src/ATen/native/cpu/MaxPoolKernel.cpp`: the index starts at the window's first
/// in-bounds position, and a value replaces the maximum only if `val > max || isnan(val)`;
/// so a NaN propagates).
///
/// # Panics
/// If `x` has the wrong length or a padding exceeds half its kernel.
pub fn max_pool2d_forward(s: &MaxPool2dShape, x: &[f64]) -> MaxPool2dOutput {
    assert_eq!(x.len(), s.input_len(), "max_pool2d: input length");
    assert!(
        2 * s.padding.0 <= s.kernel.0 && 2 * s.padding.1 <= s.kernel.1,
        "max_pool2d: padding must be at most half the kernel size"
    );
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut out = MaxPool2dOutput {
        output: Vec::with_capacity(s.output_len()),
        indices: Vec::with_capacity(s.output_len()),
    };
    for plane in 0..s.n * s.c {
        let xp = &x[plane * s.h_in * s.w_in..(plane + 1) * s.h_in * s.w_in];
        for y in 0..ho {
            for xo in 0..wo {
                let y0 = (y * s.stride.0) as isize - s.padding.0 as isize;
                let x0 = (xo * s.stride.1) as isize - s.padding.1 as isize;
                let y1 = ((y0 + s.kernel.0 as isize) as usize).min(s.h_in);
                let x1 = ((x0 + s.kernel.1 as isize) as usize).min(s.w_in);
                let (y0, x0) = (y0.max(0) as usize, x0.max(0) as usize);
                let mut best = f64::NEG_INFINITY;
                let mut at = y0 * s.w_in + x0;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let v = xp[iy * s.w_in + ix];
                        if v > best || v.is_nan() {
                            best = v;
                            at = iy * s.w_in + ix;
                        }
                    }
                }
                out.output.push(best);
                out.indices.push(at);
            }
        }
    }
    out
}

/// Backward of [`max_pool2d_forward`]: each output's gradient goes whole to the input position
/// its index names; overlapping windows that picked the same position add up (as PyTorch's
/// `max_pool2d_with_indices_backward`). Returns `n x c x h_in x w_in`.
///
/// # Panics
/// If `indices` or `grad_out` does not have the output's length, or an index is out of range.
pub fn max_pool2d_backward(s: &MaxPool2dShape, indices: &[usize], grad_out: &[f64]) -> Vec<f64> {
    let plane_out = s.h_out() * s.w_out();
    let plane_in = s.h_in * s.w_in;
    assert_eq!(
        indices.len(),
        s.output_len(),
        "max_pool2d_backward: indices length"
    );
    assert_eq!(
        grad_out.len(),
        s.output_len(),
        "max_pool2d_backward: grad_out length"
    );
    let mut g = vec![0.0; s.input_len()];
    for (i, (&at, &go)) in indices.iter().zip(grad_out).enumerate() {
        assert!(
            at < plane_in,
            "max_pool2d_backward: index {at} out of range"
        );
        g[(i / plane_out) * plane_in + at] += go;
    }
    g
}
