//! `torch.nn.functional.conv2d` forward and backward.
use crate::reference::out_size;

/// Sizes and options of a 2-D convolution over a batch (torch.nn.Conv2d, zero padding).
/// Pairs are `(along H, along W)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dShape {
    /// Batch size.
    pub n: usize,
    /// `in_channels`.
    pub c_in: usize,
    /// Input height.
    pub h_in: usize,
    /// Input width.
    pub w_in: usize,
    /// `out_channels`.
    pub c_out: usize,
    /// `kernel_size` (kh, kw).
    pub kernel: (usize, usize),
    /// `stride` (sh, sw).
    pub stride: (usize, usize),
    /// Zero `padding` (ph, pw) on both sides.
    pub padding: (usize, usize),
    /// Zero rows and columns after the input beyond `padding` (eh, ew): PyTorch's
    /// `padding='same'` puts `total / 2` of an odd total `d (k - 1)` before and one more after
    /// (`torch.nn.Conv2d._conv_forward` pads with `F.pad` first), so 1 there, else 0.
    pub padding_extra: (usize, usize),
    /// `dilation` (dh, dw).
    pub dilation: (usize, usize),
    /// `groups`: input and output channels are split into `groups` equal groups, and output
    /// channel `o` reads only the input channels of its group, `o / (c_out / groups)` (1: every
    /// output reads every input; `c_in`: depthwise). Divides `c_in` and `c_out`.
    pub groups: usize,
}

impl Conv2dShape {
    /// Output height: `floor((h_in + 2 ph + eh - dh (kh - 1) - 1) / sh) + 1`.
    pub fn h_out(&self) -> usize {
        out_size(
            self.h_in + self.padding_extra.0,
            self.kernel.0,
            self.stride.0,
            self.padding.0,
            self.dilation.0,
        )
    }
    /// Output width: `floor((w_in + 2 pw + ew - dw (kw - 1) - 1) / sw) + 1`.
    pub fn w_out(&self) -> usize {
        out_size(
            self.w_in + self.padding_extra.1,
            self.kernel.1,
            self.stride.1,
            self.padding.1,
            self.dilation.1,
        )
    }
    /// Length of the input, `n x c_in x h_in x w_in`.
    pub fn input_len(&self) -> usize {
        self.n * self.c_in * self.h_in * self.w_in
    }
    /// Length of the output, `n x c_out x h_out x w_out`.
    pub fn output_len(&self) -> usize {
        self.n * self.c_out * self.h_out() * self.w_out()
    }
    /// Input channels per group (`c_in / groups`): the weight's second dimension.
    pub fn c_in_group(&self) -> usize {
        self.c_in / self.groups
    }
    /// Length of the weight, `c_out x (c_in / groups) x kh x kw`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in_group() * self.kernel.0 * self.kernel.1
    }

    /// Calls `f(out_index, in_index, weight_index)` for every product
    /// `out[n][o][y][x] += w[o][c][ky][kx] * in[n][g cg + c][y sh + ky dh - ph][x sw + kx dw - pw]`
    /// (`cg = c_in / groups` input channels per group, `g = o / (c_out / groups)` the group of
    /// output `o`, `c < cg`) whose input position lies inside the input (padding is zero, so
    /// the rest contribute nothing).
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (ph, pw) = self.padding;
        let (dh, dw) = self.dilation;
        let (ho, wo) = (self.h_out(), self.w_out());
        let (cg, og) = (self.c_in_group(), self.c_out / self.groups);
        for n in 0..self.n {
            for o in 0..self.c_out {
                let first = (o / og) * cg;
                for y in 0..ho {
                    for x in 0..wo {
                        let out_i = ((n * self.c_out + o) * ho + y) * wo + x;
                        for c in 0..cg {
                            for ky in 0..kh {
                                let iy = (y * sh + ky * dh).wrapping_sub(ph);
                                if iy >= self.h_in {
                                    continue;
                                }
                                for kx in 0..kw {
                                    let ix = (x * sw + kx * dw).wrapping_sub(pw);
                                    if ix >= self.w_in {
                                        continue;
                                    }
                                    let in_i = ((n * self.c_in + first + c) * self.h_in + iy)
                                        * self.w_in
                                        + ix;
                                    let w_i = ((o * cg + c) * kh + ky) * kw + kx;
                                    f(out_i, in_i, w_i);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn check(&self, x: &[f64], weight: &[f64]) {
        assert!(
            self.groups > 0
                && self.c_in.is_multiple_of(self.groups)
                && self.c_out.is_multiple_of(self.groups),
            "conv2d: groups must divide in_channels and out_channels"
        );
        assert_eq!(x.len(), self.input_len(), "conv2d: input length");
        assert_eq!(weight.len(), self.weight_len(), "conv2d: weight length");
    }
}

/// Forward of `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation)` (the
/// formula of the torch.nn.Conv2d docs; a cross-correlation):
/// `out[n][o][y][x] = bias[o] + sum_{c, ky, kx} weight[o][c][ky][kx] *
/// xpad[n][c][y sh + ky dh][x sw + kx dw]`, where `xpad` is `x` with `ph` / `pw` zeros on each
/// side. Returns `n x c_out x h_out x w_out`.
///
/// # Panics
/// If a slice length does not match `s` (`bias`: `c_out`).
pub fn conv2d_forward(
    s: &Conv2dShape,
    x: &[f64],
    weight: &[f64],
    bias: Option<&[f64]>,
) -> Vec<f64> {
    s.check(x, weight);
    let plane = s.h_out() * s.w_out();
    let mut out = vec![0.0; s.output_len()];
    if let Some(b) = bias {
        assert_eq!(b.len(), s.c_out, "conv2d: bias length");
        for (i, v) in out.iter_mut().enumerate() {
            *v = b[(i / plane) % s.c_out];
        }
    }
    s.for_each_tap(|o, i, w| out[o] += weight[w] * x[i]);
    out
}

/// Gradients of a scalar loss with respect to the inputs of [`conv2d_forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dGrads {
    /// d(loss)/d(x), `n x c_in x h_in x w_in`.
    pub input: Vec<f64>,
    /// d(loss)/d(weight), `c_out x (c_in / groups) x kh x kw` (summed over the batch).
    pub weight: Vec<f64>,
    /// d(loss)/d(bias), `c_out`: `grad_out` summed over `n`, `y`, `x` (meaningful only for a
    /// conv with a bias).
    pub bias: Vec<f64>,
}

/// Backward of [`conv2d_forward`] (what autograd computes for `conv2d`, i.e.
/// `torch.nn.grad.conv2d_input` / `conv2d_weight`): every product
/// `out[o_i] += weight[w_i] * x[x_i]` contributes `grad_out[o_i] * weight[w_i]` to
/// `grad_x[x_i]` and `grad_out[o_i] * x[x_i]` to `grad_weight[w_i]`; the bias gradient sums
/// `grad_out` over the batch and positions of each channel.
///
/// # Panics
/// If a slice length does not match `s`.
pub fn conv2d_backward(
    s: &Conv2dShape,
    x: &[f64],
    weight: &[f64],
    grad_out: &[f64],
) -> Conv2dGrads {
    s.check(x, weight);
    assert_eq!(
        grad_out.len(),
        s.output_len(),
        "conv2d_backward: grad_out length"
    );
    let mut g = Conv2dGrads {
        input: vec![0.0; x.len()],
        weight: vec![0.0; weight.len()],
        bias: vec![0.0; s.c_out],
    };
    s.for_each_tap(|o, i, w| {
        g.input[i] += grad_out[o] * weight[w];
        g.weight[w] += grad_out[o] * x[i];
    });
    let plane = s.h_out() * s.w_out();
    for (i, v) in grad_out.iter().enumerate() {
        g.bias[(i / plane) % s.c_out] += v;
    }
    g
}
