//! A conv block: `Conv2d` (+ bias) (+ activation) (+ `MaxPool2d`), forward
//! ([`forward`]) and backward ([`backward`]).
//!
//! Semantics are PyTorch's: NCHW, weights OIHW, cross-correlation, output size
//! `floor((in + 2p - d(k-1) - 1)/s) + 1` (torch.nn.Conv2d docs); relu'(0) = 0. The activation
//! ([`Act`]) is applied before the max-pool ([`crate::max_pool`]; pool(act(x)) = act(pool(x))
//! for the monotonic ones).
use crate::act::Act;
use crate::max_pool::MaxPoolCfg;

pub mod backward;
pub mod forward;
pub mod reference;

pub use backward::{conv_input_grad_unit, conv_weight_grad_unit};
pub use forward::conv_forward_unit;

/// Comptime description of one conv block: shapes, options (PyTorch's names, per axis) and
/// where its tensors live.
///
/// Per-sample offsets (`*_act`, `argmax`) are multiplied by the batch capacity `cap` to
/// get the offset in the `acts` / `idx` arena (see the crate docs).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ConvCfg {
    /// `in_channels`.
    pub in_channels: usize,
    /// `out_channels`.
    pub out_channels: usize,
    /// `groups`: output channel `o` reads only the `in_channels / groups` input channels of
    /// its group `o / (out_channels / groups)` (1: all of them; `in_channels`: depthwise).
    pub groups: usize,
    /// Input height (rows).
    pub in_h: usize,
    /// Input width (columns).
    pub in_w: usize,
    /// `kernel_size` along H.
    pub kernel_h: usize,
    /// `kernel_size` along W.
    pub kernel_w: usize,
    /// `stride` along H.
    pub stride_h: usize,
    /// `stride` along W.
    pub stride_w: usize,
    /// Zero `padding` along H.
    pub padding_h: usize,
    /// Zero `padding` along W.
    pub padding_w: usize,
    /// `dilation` along H.
    pub dilation_h: usize,
    /// `dilation` along W.
    pub dilation_w: usize,
    /// Conv output height (before the pool).
    pub conv_h: usize,
    /// Conv output width.
    pub conv_w: usize,
    /// The activation that follows the conv (before the pool).
    pub act: Act,
    /// The max-pool after the activation (over the `conv_h x conv_w` plane).
    pub pool: MaxPoolCfg,
    /// Block output height (after the pool).
    pub out_h: usize,
    /// Block output width.
    pub out_w: usize,
    /// Whether the conv has a bias.
    pub bias: bool,
    /// Offset of the weight (`out_channels x in_channels / groups x kernel_h x kernel_w`) in
    /// the parameter arenas.
    pub w_off: usize,
    /// Offset of the bias (`out_channels`) in the parameter arenas.
    pub b_off: usize,
    /// Per-sample offset of the block input in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the block output in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts` (unused for the first block).
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
    /// Per-sample offset in `acts` of the pre-activation (`out_len` floats: the conv value
    /// the block output was computed from), stored only when `act.needs_pre()`.
    pub pre_act: usize,
    /// Per-sample offset of the pool argmax (conv-plane index `y * conv_w + x`) in `idx`.
    pub argmax: usize,
    /// Output channels computed by one forward unit (divides `out_channels`).
    pub ocb: usize,
    /// The input gradient is added to what `in_grad` holds (a second consumer of the same
    /// input, e.g. a residual block's projection shortcut) instead of overwriting it.
    pub accumulate: bool,
    /// The tensor at `skip_grad` (same layout as the input) is added to the input gradient:
    /// the gradient reaching the input through a residual block's identity shortcut.
    pub add_skip_grad: bool,
    /// Per-sample offset in `acts` of that tensor.
    pub skip_grad: usize,
}

impl ConvCfg {
    /// Input channels per group: the weight's second dimension.
    pub const fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }
    /// Output channels per group.
    pub const fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    /// Floats per sample of the block input (`in_channels * in_h * in_w`).
    pub const fn in_len(&self) -> usize {
        self.in_channels * self.in_h * self.in_w
    }
    /// Floats per sample of the block output (`out_channels * out_h * out_w`).
    pub const fn out_len(&self) -> usize {
        self.out_channels * self.out_h * self.out_w
    }
    /// Number of parameters (weight and bias).
    pub const fn num_params(&self) -> usize {
        self.out_channels * self.in_per_group() * self.kernel_h * self.kernel_w
            + if self.bias { self.out_channels } else { 0 }
    }
    /// Units of `conv_forward_unit` for a batch of `n`.
    pub const fn forward_units(&self, n: usize) -> usize {
        n * (self.out_channels / self.ocb) * self.out_h * self.out_w
    }
    /// Units of `conv_input_grad_unit` for a batch of `n`: one per (sample, group, input
    /// position).
    pub const fn input_grad_units(&self, n: usize) -> usize {
        n * self.groups * self.in_h * self.in_w
    }
    /// Units of `conv_weight_grad_unit`: one per (out channel, in channel of its group,
    /// kernel row), plus one per bias.
    pub const fn weight_grad_units(&self) -> usize {
        self.out_channels * self.in_per_group() * self.kernel_h
            + if self.bias { self.out_channels } else { 0 }
    }
    /// Upper bound on the loop iterations one `conv_forward_unit` invocation runs (every
    /// iteration of every runtime loop, nested ones included; see [`crate::LOOP_LIMIT`]).
    pub const fn forward_loop_iterations(&self) -> usize {
        self.in_per_group() * (1 + self.kernel_h * (1 + self.kernel_w))
    }
    /// Upper bound on the loop iterations of one `conv_input_grad_unit` invocation: per
    /// output channel, the pooled rows x columns whose windows reach the input pixel.
    pub const fn input_grad_loop_iterations(&self) -> usize {
        let ext_h = (self.kernel_h - 1) * self.dilation_h + 1;
        let ext_w = (self.kernel_w - 1) * self.dilation_w + 1;
        let (rows, cols) = self
            .pool
            .outputs_per_span(ext_h.div_ceil(self.stride_h), ext_w.div_ceil(self.stride_w));
        self.out_per_group() * (1 + rows * (1 + cols))
    }
    /// Upper bound on the loop iterations of one `conv_weight_grad_unit` invocation for a
    /// batch of `n` (the batch loop and, inside it, the loop over output positions).
    pub const fn weight_grad_loop_iterations(&self, n: usize) -> usize {
        n * (1 + self.out_h * self.out_w)
    }
    /// Per-sample offset in `acts` of the value the activation's derivative is computed
    /// from: the pre-activation for GELU, else the block output.
    pub const fn act_src(&self) -> usize {
        if self.act.needs_pre() {
            self.pre_act
        } else {
            self.out_act
        }
    }
    /// Multiply-adds of the forward pass per sample (conv only).
    pub const fn forward_macs(&self) -> usize {
        self.out_channels
            * self.conv_h
            * self.conv_w
            * self.in_per_group()
            * self.kernel_h
            * self.kernel_w
    }
}
