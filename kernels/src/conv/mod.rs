//! A conv block: `Conv2d` (+ bias) (+ activation) (+ `MaxPool2d`), forward ([`forward`]),
//! the gradient with respect to the conv's output ([`out_grad`]), input ([`input_grad`]) and
//! weights ([`weight_grad`]).
//!
//! Semantics are PyTorch's: NCHW, weights OIHW (`out_channels x in_channels / groups x kh x
//! kw`), cross-correlation, output size `floor((in + 2p - d(k-1) - 1)/s) + 1` (torch.nn.Conv2d
//! docs); relu'(0) = 0. The activation ([`Act`]) is applied before the max-pool
//! ([`crate::max_pool`]; pool(act(x)) = act(pool(x)) for the monotonic ones).
//!
//! # Tiles and summation order
//! Each unit computes a register tile whose inner axis is contiguous in memory (a run of
//! output columns, of input columns, of reduction lanes), so that the CPU's compiler
//! vectorises it and a GPU gets many small units. The tile sizes come per target from the
//! macro ([`ConvTiles`]); they never change a result: every output element is summed in the
//! same order whatever the tile (forward: input channel, kernel row, kernel column; input
//! gradient: output channel, kernel row, kernel column; weight gradient: the fixed chunks and
//! lanes of [`weight_grad`]), with `fma`.
use crate::act::Act;
use crate::max_pool::MaxPoolCfg;

pub mod forward;
pub mod input_grad;
pub mod out_grad;
pub mod reference;
pub mod weight_grad;

pub use forward::{conv_forward_tiled_unit, conv_forward_unit};
pub use input_grad::conv_input_grad_unit;
pub use out_grad::conv_out_grad_unit;
pub use weight_grad::{conv_weight_final_unit, conv_weight_partial_unit};

/// Lanes of every fixed-order reduction over positions or samples: element `i` of a chunk
/// is added to lane `i % LANES`, and the lanes are summed in order at the end of the chunk.
/// The same on every target, so results do not depend on the device.
pub const LANES: usize = 16;

/// The register tiles of one target (see the module docs): they change how work is split
/// into units, never a result.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ConvTiles {
    /// Forward: output channels per unit (divides `out_channels / groups`).
    pub oc: usize,
    /// Forward: block-output rows per unit (divides `out_h`; 1 without the fast path).
    pub rows: usize,
    /// Forward: block-output columns per unit (divides `out_w`; 1 without the fast path).
    pub cols: usize,
    /// Input gradient: input channels per unit (divides `in_channels / groups`).
    pub in_c: usize,
    /// Input gradient: input rows per unit (divides `in_h`).
    pub in_rows: usize,
    /// Input gradient: input columns per unit (divides `in_w`).
    pub in_cols: usize,
    /// Weight gradient: output channels per unit (divides `out_channels`).
    pub wg_oc: usize,
    /// Weight gradient: kernel columns per unit (`kernel_w` or 1).
    pub wg_kx: usize,
    /// d(conv output): conv rows per unit (1 or `conv_h`: a whole plane, which a disjoint
    /// pool fills by zeroing it and scattering each window's gradient to its argmax).
    pub og_rows: usize,
    /// Weight gradient: keep the [`LANES`] lanes in one explicit 16-wide vector (cubecl's
    /// cpu runtime; WGSL and CUDA have no such vector) rather than 16 scalars.
    pub vector: bool,
}

/// Comptime description of one conv block: shapes, options (PyTorch's names, per axis),
/// where its tensors live, and the tiles of the target it was compiled for.
///
/// Per-sample offsets (`*_act`, `*_grad`, `dconv`, `argmax`) are multiplied by the batch
/// capacity `cap` to get the offset in the `acts` / `idx` arena (see the crate docs).
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
    /// Zero rows after the input beyond `padding_h`: 1 for PyTorch's `padding = "same"` with
    /// an odd total `dilation_h * (kernel_h - 1)` (`total / 2` before, the rest after), else
    /// 0. Only `conv_h` and the bounds checks see it: every tap past the input reads zero.
    pub padding_extra_h: usize,
    /// Zero columns after the input beyond `padding_w` (see `padding_extra_h`).
    pub padding_extra_w: usize,
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
    /// Per-sample offset in `acts` of d(loss)/d(conv output) (`out_channels x conv_h x
    /// conv_w`, dense), written by [`conv_out_grad_unit`] when the block has an activation or
    /// a pool; otherwise the same as `out_grad`.
    pub dconv: usize,
    /// The forward pass is the tiled one ([`conv_forward_tiled_unit`]): no pool, or a pool
    /// whose windows tile the plane (stride = kernel, no padding, none past the end).
    pub fast_forward: bool,
    /// Conv rows per weight-gradient chunk (divides `conv_h`): a chunk is this many rows of
    /// one sample.
    pub chunk_rows: usize,
    /// Samples per weight-gradient chunk (more than 1 only when `chunk_rows == conv_h`): a
    /// chunk is `chunk_rows` rows of `chunk_samples` consecutive samples (the last chunk
    /// takes what is left of the batch).
    pub chunk_samples: usize,
    /// Offset of this block's weight-gradient partial sums in the `part` arena (`chunks x
    /// num_params`, chunk-major): `part_a * cap + part_b`.
    pub part_a: usize,
    /// See `part_a`.
    pub part_b: usize,
    /// The input gradient is added to what `in_grad` holds (a second consumer of the same
    /// input, e.g. a residual block's projection shortcut) instead of overwriting it.
    pub accumulate: bool,
    /// The tensor at `skip_grad` (same layout as the input) is added to the input gradient:
    /// the gradient reaching the input through a residual block's identity shortcut.
    pub add_skip_grad: bool,
    /// Per-sample offset in `acts` of that tensor.
    pub skip_grad: usize,
    /// The target's tiles.
    pub tiles: ConvTiles,
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
    /// Floats per sample of the conv output (`out_channels * conv_h * conv_w`).
    pub const fn conv_len(&self) -> usize {
        self.out_channels * self.conv_h * self.conv_w
    }
    /// Weights per output channel (`in_channels / groups * kernel_h * kernel_w`).
    pub const fn weights_per_oc(&self) -> usize {
        self.in_per_group() * self.kernel_h * self.kernel_w
    }
    /// Number of parameters (weight and bias).
    pub const fn num_params(&self) -> usize {
        self.out_channels * self.weights_per_oc() + if self.bias { self.out_channels } else { 0 }
    }
    /// Whether the block has an activation or a pool, so that d(conv output) is a tensor of
    /// its own (`dconv`).
    pub const fn has_dconv(&self) -> bool {
        self.act.is_some() || self.pool.pooled
    }
    /// Per-sample offset in `acts` of the value the activation's derivative is computed
    /// from: the pre-activation for GELU and SiLU, else the block output.
    pub const fn act_src(&self) -> usize {
        if self.act.needs_pre() {
            self.pre_act
        } else {
            self.out_act
        }
    }
    /// Multiply-adds of the forward pass per sample (conv only).
    pub const fn forward_macs(&self) -> usize {
        self.conv_len() * self.weights_per_oc()
    }

    // ---- forward ----

    /// Units of the forward pass for a batch of `n`.
    pub const fn forward_units(&self, n: usize) -> usize {
        let t = self.tiles;
        n * (self.out_channels / t.oc) * (self.out_h / t.rows) * (self.out_w / t.cols)
    }
    /// Upper bound on the loop iterations one forward unit runs (every iteration of every
    /// runtime loop, nested ones included; see [`crate::LOOP_LIMIT`]).
    pub const fn forward_loop_iterations(&self) -> usize {
        if self.fast_forward {
            self.in_per_group() * (1 + self.kernel_h)
        } else {
            self.in_per_group() * (1 + self.kernel_h * (1 + self.kernel_w))
        }
    }

    // ---- d(conv output) ----

    /// Units of [`conv_out_grad_unit`] (one per (sample, channel, band of `tiles.og_rows`
    /// conv rows)).
    pub const fn out_grad_units(&self, n: usize) -> usize {
        n * self.out_channels * (self.conv_h / self.tiles.og_rows)
    }
    /// A unit of [`conv_out_grad_unit`] takes a whole plane and scatters to the argmaxes of
    /// a disjoint pool.
    pub const fn out_grad_scatters_plane(&self) -> bool {
        self.pool.pooled && self.pool.disjoint() && self.tiles.og_rows == self.conv_h
    }
    /// Loop iterations of one [`conv_out_grad_unit`]: per column, the pool windows that
    /// cover it, per row; a plane scatter zeroes the plane and visits each pool output once.
    pub const fn out_grad_loop_iterations(&self) -> usize {
        if self.out_grad_scatters_plane() {
            self.conv_h * self.conv_w + self.out_h * self.out_w
        } else {
            let (rows, cols) = self.pool.outputs_per_span(1, 1);
            self.tiles.og_rows * (1 + self.conv_w * (1 + rows * (1 + cols)))
        }
    }

    // ---- input gradient ----

    /// Units of [`conv_input_grad_unit`] for a batch of `n`.
    pub const fn input_grad_units(&self, n: usize) -> usize {
        let t = self.tiles;
        n * self.groups
            * (self.in_per_group() / t.in_c)
            * (self.in_h / t.in_rows)
            * (self.in_w / t.in_cols)
    }
    /// Loop iterations of one [`conv_input_grad_unit`]: per output channel of the group,
    /// the kernel rows.
    pub const fn input_grad_loop_iterations(&self) -> usize {
        self.out_per_group() * (1 + self.kernel_h)
    }

    // ---- weight gradient ----

    /// Whether every tap of every conv position lies inside the input (no padding on any
    /// side, and the last position's window ends inside): the `cpu` weight-gradient unit
    /// then reads its taps straight from the input rows, skipping the bound-checked staging.
    pub const fn taps_inside(&self) -> bool {
        self.padding_h == 0
            && self.padding_w == 0
            && self.padding_extra_h == 0
            && self.padding_extra_w == 0
            && (self.conv_h - 1) * self.stride_h + (self.kernel_h - 1) * self.dilation_h < self.in_h
            && (self.conv_w - 1) * self.stride_w + (self.kernel_w - 1) * self.dilation_w < self.in_w
    }

    /// Conv rows side by side in one group of [`LANES`] weight-gradient lanes: for a plane
    /// narrower than `LANES`, the largest divisor of `chunk_rows` whose rows fit `LANES`
    /// lanes, else 1.
    pub const fn rows_per_lane_group(&self) -> usize {
        if self.conv_w >= LANES {
            return 1;
        }
        let mut r = LANES / self.conv_w;
        while !self.chunk_rows.is_multiple_of(r) {
            r -= 1;
        }
        r
    }
    /// Groups of [`LANES`] lanes one row group spans.
    pub const fn lane_groups(&self) -> usize {
        (self.rows_per_lane_group() * self.conv_w).div_ceil(LANES)
    }
    /// The lane of column `x` of row `r` of a row group.
    pub const fn lane(&self, r: usize, x: usize) -> usize {
        (r * self.conv_w + x) % LANES
    }
    /// The (row, column) of lane `l` of lane group `g` of a row group; the row is
    /// `rows_per_lane_group()` (past the end) for a lane no position maps to.
    pub const fn lane_position(&self, g: usize, l: usize) -> (usize, usize) {
        let p = g * LANES + l;
        if p >= self.rows_per_lane_group() * self.conv_w {
            (self.rows_per_lane_group(), 0)
        } else {
            (p / self.conv_w, p % self.conv_w)
        }
    }
    /// Weight-gradient chunks of a batch of `n`: `chunk_rows` conv rows of `chunk_samples`
    /// samples each.
    pub const fn chunks(&self, n: usize) -> usize {
        n.div_ceil(self.chunk_samples) * (self.conv_h / self.chunk_rows)
    }
    /// Units of [`conv_weight_partial_unit`]: per chunk, one per (output-channel tile, input
    /// channel of the group, kernel row, kernel-column tile), then one per bias tile.
    pub const fn weight_partial_units(&self, n: usize) -> usize {
        let t = self.tiles;
        let tiles = self.out_channels / t.wg_oc;
        let bias = if self.bias { tiles } else { 0 };
        self.chunks(n)
            * (tiles * self.in_per_group() * self.kernel_h * (self.kernel_w / t.wg_kx) + bias)
    }
    /// Loop iterations of one [`conv_weight_partial_unit`] (the chunk's samples and their
    /// row groups).
    pub const fn weight_partial_loop_iterations(&self) -> usize {
        self.chunk_samples * (1 + self.chunk_rows / self.rows_per_lane_group())
    }
    /// Units of [`conv_weight_final_unit`] (one per parameter).
    pub const fn weight_final_units(&self) -> usize {
        self.num_params()
    }
    /// Loop iterations of one [`conv_weight_final_unit`] (the chunks).
    pub const fn weight_final_loop_iterations(&self, n: usize) -> usize {
        self.chunks(n)
    }
    /// Floats of the partial sums for a batch of `n` (`chunks x num_params`).
    pub const fn part_len(&self, n: usize) -> usize {
        self.chunks(n) * self.num_params()
    }
    /// Offset of the partial sums in the `part` arena for a batch capacity `cap`.
    pub const fn part_off(&self, cap: usize) -> usize {
        self.part_a * cap + self.part_b
    }
}
