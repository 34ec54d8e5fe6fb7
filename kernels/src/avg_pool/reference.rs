//! `torch.nn.functional.avg_pool2d` and `adaptive_avg_pool2d`, forward and backward.
use crate::reference::{out_size, pool_out_size_ceil};

/// The window of a 2-D average pool (torch.nn.AvgPool2d, `divisor_override=None`), or an
/// adaptive one (torch.nn.AdaptiveAvgPool2d). Pairs are `(along H, along W)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AvgPoolKind {
    /// torch.nn.AvgPool2d.
    Fixed {
        /// `kernel_size` (kh, kw).
        kernel: (usize, usize),
        /// `stride` (sh, sw).
        stride: (usize, usize),
        /// Implicit zero `padding` (ph, pw) on both sides; at most half the kernel.
        padding: (usize, usize),
        /// `ceil_mode` (see [`pool_out_size_ceil`]).
        ceil_mode: bool,
        /// `count_include_pad`: whether the zero padding counts in the divisor.
        count_include_pad: bool,
    },
    /// torch.nn.AdaptiveAvgPool2d with `output_size` (oh, ow).
    Adaptive {
        /// `output_size` (oh, ow).
        output: (usize, usize),
    },
}

/// Sizes and options of a 2-D average pool over a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AvgPool2dShape {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// The window.
    pub kind: AvgPoolKind,
}

/// One output's window along one axis: the input positions it sums over (`lo..hi`) and the
/// number of positions its divisor counts.
#[derive(Clone, Copy, Debug)]
struct Span {
    lo: usize,
    hi: usize,
    count: usize,
}

impl AvgPool2dShape {
    /// Output height: `floor((h_in + 2 ph - kh) / sh) + 1` ([`pool_out_size_ceil`] with
    /// `ceil_mode`), or the adaptive `output_size`.
    pub fn h_out(&self) -> usize {
        self.out_along(0)
    }
    /// Output width, as [`Self::h_out`].
    pub fn w_out(&self) -> usize {
        self.out_along(1)
    }
    /// Length of the input, `n x c x h_in x w_in`.
    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h_in * self.w_in
    }
    /// Length of the output, `n x c x h_out x w_out`.
    pub fn output_len(&self) -> usize {
        self.n * self.c * self.h_out() * self.w_out()
    }

    fn input_along(&self, axis: usize) -> usize {
        [self.h_in, self.w_in][axis]
    }

    fn out_along(&self, axis: usize) -> usize {
        let pick = |p: (usize, usize)| if axis == 0 { p.0 } else { p.1 };
        let input = self.input_along(axis);
        match self.kind {
            AvgPoolKind::Fixed {
                kernel,
                stride,
                padding,
                ceil_mode,
                ..
            } => {
                let (k, s, p) = (pick(kernel), pick(stride), pick(padding));
                assert!(
                    2 * p <= k,
                    "avg_pool2d: padding must be at most half the kernel size"
                );
                if ceil_mode {
                    pool_out_size_ceil(input, k, s, p)
                } else {
                    out_size(input, k, s, p, 1)
                }
            }
            AvgPoolKind::Adaptive { output } => {
                let o = pick(output);
                assert!(o > 0, "adaptive_avg_pool2d: output size must be positive");
                o
            }
        }
    }

    /// The window of output `o` along `axis`.
    ///
    /// AvgPool2d: the kernel taps `o * s + t - p`, `t < k`, of which those inside the input
    /// are summed; with `count_include_pad` the divisor counts the taps inside the padded
    /// input `[-p, in + p)` (a `ceil_mode` window running past it counts only that part),
    /// otherwise only those inside the input. AdaptiveAvgPool2d (its docs and
    /// `adaptive_avg_pool2d`'s `start_index` / `end_index`): `[floor(o * in / out),
    /// ceil((o + 1) * in / out))`, all counted.
    fn span(&self, axis: usize, o: usize) -> Span {
        let pick = |p: (usize, usize)| if axis == 0 { p.0 } else { p.1 };
        let input = self.input_along(axis) as isize;
        match self.kind {
            AvgPoolKind::Fixed {
                kernel,
                stride,
                padding,
                count_include_pad,
                ..
            } => {
                let (k, s, p) = (pick(kernel), pick(stride), pick(padding) as isize);
                let taps = (0..k).map(|t| (o * s + t) as isize - p);
                let inside: Vec<isize> = taps.clone().filter(|&i| 0 <= i && i < input).collect();
                let padded = taps.filter(|&i| -p <= i && i < input + p).count();
                let (lo, hi) = match (inside.first(), inside.last()) {
                    (Some(&a), Some(&b)) => (a as usize, b as usize + 1),
                    _ => (0, 0),
                };
                Span {
                    lo,
                    hi,
                    count: if count_include_pad {
                        padded
                    } else {
                        inside.len()
                    },
                }
            }
            AvgPoolKind::Adaptive { output } => {
                let (input, out) = (input as usize, pick(output));
                let lo = o * input / out;
                let hi = ((o + 1) * input).div_ceil(out);
                Span {
                    lo,
                    hi,
                    count: hi - lo,
                }
            }
        }
    }
}

/// Calls `f(out_index, in_index, divisor)` for every input element of every output window.
fn for_each_tap(s: &AvgPool2dShape, mut f: impl FnMut(usize, usize, f64)) {
    let (ho, wo) = (s.h_out(), s.w_out());
    for plane in 0..s.n * s.c {
        for y in 0..ho {
            let sy = s.span(0, y);
            for x in 0..wo {
                let sx = s.span(1, x);
                let div = (sy.count * sx.count) as f64;
                let out_i = (plane * ho + y) * wo + x;
                for iy in sy.lo..sy.hi {
                    for ix in sx.lo..sx.hi {
                        f(out_i, (plane * s.h_in + iy) * s.w_in + ix, div);
                    }
                }
            }
        }
    }
}

/// Forward of `avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad)` or
/// `adaptive_avg_pool2d(x, output_size)`: each output is the sum of its window's input
/// elements divided by the window's divisor (see the window rules on [`AvgPool2dShape`]'s
/// kinds). Returns `n x c x h_out x w_out`.
///
/// # Panics
/// If `x` has the wrong length, or a padding exceeds half its kernel.
pub fn avg_pool2d_forward(s: &AvgPool2dShape, x: &[f64]) -> Vec<f64> {
    assert_eq!(x.len(), s.input_len(), "avg_pool2d: input length");
    let mut out = vec![0.0; s.output_len()];
    for_each_tap(s, |o, i, div| out[o] += x[i] / div);
    out
}

/// Backward of [`avg_pool2d_forward`]: every output's gradient, divided by its divisor, goes
/// to each input element of its window (overlapping windows add up). Returns
/// `n x c x h_in x w_in`.
///
/// # Panics
/// If `grad_out` does not have the output's length.
pub fn avg_pool2d_backward(s: &AvgPool2dShape, grad_out: &[f64]) -> Vec<f64> {
    assert_eq!(
        grad_out.len(),
        s.output_len(),
        "avg_pool2d_backward: grad_out length"
    );
    let mut g = vec![0.0; s.input_len()];
    for_each_tap(s, |o, i, div| g[i] += grad_out[o] / div);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(h_in: usize, w_in: usize, kind: AvgPoolKind) -> AvgPool2dShape {
        AvgPool2dShape {
            n: 1,
            c: 1,
            h_in,
            w_in,
            kind,
        }
    }

    /// A 1x3 row, kernel (1, 2), stride (1, 2), padding (0, 1): windows {pad, x0} and
    /// {x1, x2}.
    #[test]
    fn padding_and_count_include_pad_by_hand() {
        let kind = |count_include_pad| AvgPoolKind::Fixed {
            kernel: (1, 2),
            stride: (1, 2),
            padding: (0, 1),
            ceil_mode: false,
            count_include_pad,
        };
        let x = [2.0, 4.0, 8.0];
        assert_eq!(
            avg_pool2d_forward(&shape(1, 3, kind(true)), &x),
            vec![1.0, 6.0]
        );
        assert_eq!(
            avg_pool2d_forward(&shape(1, 3, kind(false)), &x),
            vec![2.0, 6.0]
        );
        assert_eq!(
            avg_pool2d_backward(&shape(1, 3, kind(true)), &[2.0, 4.0]),
            vec![1.0, 2.0, 2.0]
        );
    }

    /// Adaptive 5 -> 3: windows [0, 2), [1, 4), [3, 5).
    #[test]
    fn adaptive_uneven_windows_by_hand() {
        let s = shape(1, 5, AvgPoolKind::Adaptive { output: (1, 3) });
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(avg_pool2d_forward(&s, &x), vec![1.5, 3.0, 4.5]);
        let g = avg_pool2d_backward(&s, &[6.0, 3.0, 2.0]);
        assert_eq!(g, vec![3.0, 4.0, 1.0, 2.0, 1.0]);
    }

    /// `ceil_mode`, 1x5 row, kernel 2, stride 2, padding 1: 3 outputs over {pad, x0},
    /// {x1, x2}, {x3, x4}; with 1x4 the last window {x3, pad} counts the right padding.
    #[test]
    fn ceil_mode_last_window() {
        let kind = AvgPoolKind::Fixed {
            kernel: (1, 2),
            stride: (1, 2),
            padding: (0, 1),
            ceil_mode: true,
            count_include_pad: true,
        };
        let s = shape(1, 4, kind);
        assert_eq!(s.w_out(), 3);
        assert_eq!(
            avg_pool2d_forward(&s, &[2.0, 4.0, 6.0, 8.0]),
            vec![1.0, 5.0, 4.0]
        );
    }
}
