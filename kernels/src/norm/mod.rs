//! A norm block: `BatchNorm2d` / `BatchNorm1d` (+ residual addition) (+ activation)
//! (+ `MaxPool2d`), forward and backward.
//!
//! Semantics are torch.nn.BatchNorm2d's (a `BatchNorm1d` on `N x F` features is the same with
//! a 1x1 plane), PyTorch 2.x CPU kernels (`aten/src/ATen/native/cpu/batch_norm_kernel.cpp`):
//! - training: per channel, over the `M = n * h * w` values of the batch,
//!   `mean = sum(x) / M`, biased `var = sum((x - mean)^2) / M`, `invstd = 1 / sqrt(var + eps)`,
//!   `y = x * (gamma * invstd) + (beta - mean * gamma * invstd)`; running statistics
//!   `running_mean = momentum * mean + (1 - momentum) * running_mean` and likewise
//!   `running_var` with the unbiased `sum((x - mean)^2) / (M - 1)`;
//! - eval: the same `y` with `running_mean` / `running_var` in place of the batch statistics;
//! - backward (training): `dotp = sum((x - mean) * dy)`, `k = dotp * invstd^2 / M`,
//!   `dx = (dy - sum(dy) / M - (x - mean) * k) * invstd * gamma`, `dgamma = dotp * invstd`,
//!   `dbeta = sum(dy)`.
//!
//! Then, optionally, a residual input is added (`y + skip`, ResNet's basic block), the
//! activation applied and the max-pool taken ([`crate::max_pool`]), as in a conv block.
//!
//! The batch statistics are reduced deterministically in two stages: [`norm_stats_unit`]
//! stores each (sample, channel) plane's mean and `sum((x - mean_s)^2)` (each a plane sum
//! over [`LANES`] lanes: position `i` into lane `i % LANES`, in order, then the lanes in
//! order; independent chains instead of one, the same on every target), and every consumer
//! combines the `n` partials in sample order (`mean = sum(mean_s) / n`,
//! `M2 = sum(m2_s + hw * (mean_s - mean)^2)`, exact for equal plane sizes). The backward
//! sums (`sum(dy)`, `dotp`) are reduced the same way.
//!
//! Every unit is one channel's planes of a group of consecutive samples (`unit = g * c + ch`,
//! [`NormCfg::samples_per_unit`] samples per group, a per-target tile): the channel's batch
//! moments and backward sums are combined once per unit. The grouping never changes a
//! result: each plane is computed alone and the partials are combined in sample order.
// `#[cube]` needs a mutable binding assigned in both branches of a comptime `if`.
#![allow(unused_assignments)]
use cubecl::prelude::*;

use crate::act::{activate, Act};
use crate::max_pool::{replaces, window_element, MaxPoolCfg};

mod backward;
pub mod reference;

pub use backward::{grad_sums, norm_grad_unit, norm_input_grad_unit, norm_weight_grad_unit};

/// Lanes of a plane reduction (see the module docs).
pub const LANES: usize = 16;

/// Comptime description of one norm block: shapes, options and where its tensors live.
///
/// Per-sample offsets are multiplied by the batch capacity `cap` (see the crate docs).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct NormCfg {
    /// `num_features` (channels).
    pub num_features: usize,
    /// Plane height (1 for `BatchNorm1d`).
    pub h: usize,
    /// Plane width (1 for `BatchNorm1d`).
    pub w: usize,
    /// `eps` as `f32::to_bits`.
    pub eps: u32,
    /// `momentum` as `f32::to_bits`.
    pub momentum: u32,
    /// The activation applied after the normalisation (and the residual addition).
    pub act: Act,
    /// The max-pool after the activation (over the `h x w` plane).
    pub pool: MaxPoolCfg,
    /// Block output height (after the pool).
    pub out_h: usize,
    /// Block output width.
    pub out_w: usize,
    /// Offset of `weight` (gamma, `c`) in the parameter arenas.
    pub w_off: usize,
    /// Offset of `bias` (beta, `c`) in the parameter arenas.
    pub b_off: usize,
    /// Offset of `running_mean` (`c`) in the buffer arena.
    pub rm_off: usize,
    /// Offset of `running_var` (`c`) in the buffer arena.
    pub rv_off: usize,
    /// Per-sample offset of the block input (`c x h x w`) in `acts`.
    pub in_act: usize,
    /// Per-sample offset of the block output (`c x h_out x w_out`) in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(loss)/d(input) in `acts` (unused when `!input_grad`).
    pub in_grad: usize,
    /// Per-sample offset of d(loss)/d(output) in `acts`.
    pub out_grad: usize,
    /// Per-sample offset of the pool argmax (plane index `y * w + x`) in `idx`.
    pub argmax: usize,
    /// Per-sample offset in `acts` of the `2c` forward partials (plane means, then plane
    /// `sum((x - mean_s)^2)`).
    pub stat: usize,
    /// Per-sample offset in `acts` of the `2c` backward partials (plane `sum(dy)`, then
    /// plane `sum((x - mean) * dy)`).
    pub gstat: usize,
    /// Per-sample offset in `acts` of `dy` (`c x h x w`): d(loss)/d(normalised output), after
    /// the pool and activation backward; also the gradient of the residual input.
    pub dy: usize,
    /// Whether a residual input is added before the activation.
    pub skip: bool,
    /// Per-sample offset in `acts` of the residual input (`c x h x w`).
    pub skip_act: usize,
    /// Whether d(loss)/d(input) is computed (false for a network's first block).
    pub input_grad: bool,
    /// Samples per unit (0: the whole batch): the cpu target's units take a channel's whole
    /// batch, the gpu target's one plane each.
    pub samples_per_unit: usize,
}

impl NormCfg {
    /// Values per plane (`h * w`).
    pub const fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Floats per sample of the block input (`c * h * w`).
    pub const fn in_len(&self) -> usize {
        self.num_features * self.h * self.w
    }
    /// Floats per sample of the block output (`c * h_out * w_out`).
    pub const fn out_len(&self) -> usize {
        self.num_features * self.out_h * self.out_w
    }
    /// Samples per unit for a batch of `n` (see `samples_per_unit`).
    pub const fn group(&self, n: usize) -> usize {
        if self.samples_per_unit == 0 || self.samples_per_unit > n {
            if n == 0 {
                1
            } else {
                n
            }
        } else {
            self.samples_per_unit
        }
    }
    /// Units of every norm job but the weight gradient for a batch of `n`: one per channel
    /// and group of samples.
    pub const fn units(&self, n: usize) -> usize {
        n.div_ceil(self.group(n)) * self.num_features
    }
    /// Units of [`norm_forward_unit`].
    pub const fn forward_units(&self, n: usize) -> usize {
        self.units(n)
    }
    /// Units of [`norm_input_grad_unit`].
    pub const fn input_grad_units(&self, n: usize) -> usize {
        self.units(n)
    }
    /// Units of [`norm_weight_grad_unit`] (one per weight, one per bias).
    pub const fn weight_grad_units(&self) -> usize {
        2 * self.num_features
    }
    /// Upper bound on the loop iterations of one [`norm_stats_unit`] for a batch of `n`.
    pub const fn stats_loop_iterations(&self, n: usize) -> usize {
        self.group(n) * (1 + 2 * self.hw())
    }
    /// Upper bound on the loop iterations of one [`norm_forward_unit`].
    pub const fn forward_loop_iterations(&self, n: usize, train: bool) -> usize {
        (if train { 2 * n } else { 0 }) + self.group(n) * (1 + self.out_h * (1 + self.out_w))
    }
    /// Upper bound on the loop iterations of one [`norm_grad_unit`].
    pub const fn grad_loop_iterations(&self, n: usize) -> usize {
        2 * n
            + self.group(n)
                * (1 + if self.pool.pooled {
                    2 * self.hw() + self.out_h * self.out_w
                } else {
                    self.hw()
                })
    }
    /// Upper bound on the loop iterations of one [`norm_input_grad_unit`].
    pub const fn input_grad_loop_iterations(&self, n: usize) -> usize {
        3 * n + self.group(n) * (1 + self.hw())
    }
    /// Upper bound on the loop iterations of one [`norm_weight_grad_unit`].
    pub const fn weight_grad_loop_iterations(&self, n: usize) -> usize {
        3 * n
    }
}

/// The channel and the samples `s0 .. s1` of norm unit `unit` (batch of `n`).
#[cube]
pub fn unit_samples(
    unit: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
) -> (usize, usize, usize) {
    let g = comptime!(cfg.group(n));
    let ch = unit % cfg.num_features;
    let s0 = (unit / cfg.num_features) * g;
    (ch, s0, min(s0 + g, n))
}

/// The mean and `M2 = sum((x - mean)^2)` of channel `ch` over the batch, combined from the
/// per-plane partials of [`norm_stats_unit`] in sample order.
#[cube]
pub fn batch_moments(
    acts: &mut [f32],
    ch: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) -> (f32, f32) {
    let base = comptime!(cfg.stat * cap) + ch;
    let per = comptime!(2 * cfg.num_features);
    let mut sum = 0.0f32;
    for s in 0..n {
        sum += acts[base + s * per];
    }
    let mean = sum / f32::new(comptime!(n as f32));
    let mut m2 = 0.0f32;
    for s in 0..n {
        let d = acts[base + s * per] - mean;
        m2 +=
            acts[base + s * per + cfg.num_features] + f32::new(comptime!(cfg.hw() as f32)) * d * d;
    }
    (mean, m2)
}

/// `invstd = 1 / sqrt(var + eps)`.
#[cube]
pub fn inv_std(var: f32, #[comptime] cfg: NormCfg) -> f32 {
    1.0f32 / f32::sqrt(var + f32::new(comptime!(f32::from_bits(cfg.eps))))
}

/// Forward statistics unit: the mean and `sum((x - mean_s)^2)` of each (sample, channel)
/// plane of the unit's samples (two passes per plane).
#[cube]
pub fn norm_stats_unit(
    acts: &mut [f32],
    unit: usize,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let (ch, s0, s1) = unit_samples(unit, cfg, n);
    let hw = comptime!(cfg.hw());
    for s in s0..s1 {
        let base = comptime!(cfg.in_act * cap) + s * comptime!(cfg.in_len()) + ch * hw;
        let mut acc = Array::<f32>::new(LANES);
        #[unroll]
        for l in 0..LANES {
            acc[l] = 0.0;
        }
        for b in 0..comptime!(hw / LANES) {
            #[unroll]
            for l in 0..LANES {
                acc[l] += acts[base + b * LANES + l];
            }
        }
        #[unroll]
        for l in 0..comptime!(hw % LANES) {
            acc[l] += acts[base + comptime!(hw / LANES * LANES) + l];
        }
        let mean = lanes_total(&acc, hw) / f32::new(comptime!(hw as f32));
        #[unroll]
        for l in 0..LANES {
            acc[l] = 0.0;
        }
        for b in 0..comptime!(hw / LANES) {
            #[unroll]
            for l in 0..LANES {
                let d = acts[base + b * LANES + l] - mean;
                acc[l] += d * d;
            }
        }
        #[unroll]
        for l in 0..comptime!(hw % LANES) {
            let d = acts[base + comptime!(hw / LANES * LANES) + l] - mean;
            acc[l] += d * d;
        }
        let m2 = lanes_total(&acc, hw);
        let out = comptime!(cfg.stat * cap) + s * comptime!(2 * cfg.num_features) + ch;
        acts[out] = mean;
        acts[out + cfg.num_features] = m2;
    }
}

/// The lanes of a plane reduction (see [`LANES`]) added in lane order; only the lanes that
/// received a value when the plane is narrower than `LANES` (so that a `BatchNorm1d`'s
/// one-value planes add nothing).
#[cube]
pub fn lanes_total(acc: &Array<f32>, #[comptime] hw: usize) -> f32 {
    let mut t = acc[0];
    #[unroll]
    for l in 1..comptime!(if hw < LANES { hw } else { LANES }) {
        t += acc[l];
    }
    t
}

/// The normalised (and residual-added) value at plane position `pos` of sample `s`, channel
/// `ch`, before the activation: `x * scale + shift (+ skip)`.
#[cube]
pub(crate) fn normalised(
    acts: &mut [f32],
    s: usize,
    ch: usize,
    pos: usize,
    scale: f32,
    shift: f32,
    #[comptime] cfg: NormCfg,
    #[comptime] cap: usize,
) -> f32 {
    let at = s * comptime!(cfg.in_len()) + ch * comptime!(cfg.hw()) + pos;
    let mut v = acts[comptime!(cfg.in_act * cap) + at] * scale + shift;
    if comptime!(cfg.skip) {
        v += acts[comptime!(cfg.skip_act * cap) + at];
    }
    v
}

/// Forward unit: normalises the unit's (sample, channel) planes with the batch (`train`) or
/// running statistics, adds the residual, applies the activation and the max-pool (storing
/// its argmax). In training, the unit of sample 0 also updates the channel's running
/// statistics.
#[cube]
// `if comptime!(train)` is resolved when the kernel is expanded; it cannot merge with the
// run-time `if s0 == 0`.
#[allow(clippy::too_many_arguments, clippy::collapsible_if)]
pub fn norm_forward_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    bufs: &mut [f32],
    unit: usize,
    #[comptime] train: bool,
    #[comptime] cfg: NormCfg,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let (ch, s0, s1) = unit_samples(unit, cfg, n);
    let mut mean = 0.0f32;
    let mut m2 = 0.0f32;
    let mut var = 0.0f32;
    if comptime!(train) {
        let (bm, bm2) = batch_moments(acts, ch, cfg, n, cap);
        mean = bm;
        m2 = bm2;
        var = m2 / f32::new(comptime!((n * cfg.hw()) as f32));
    } else {
        mean = bufs[cfg.rm_off + ch];
        var = bufs[cfg.rv_off + ch];
    }
    let invstd = inv_std(var, cfg);
    let scale = params[cfg.w_off + ch] * invstd;
    let shift = params[cfg.b_off + ch] - mean * scale;

    let win = comptime!(cfg.pool.window());
    if comptime!(!cfg.pool.pooled) {
        // Without a pool: one pass over each plane (the same values as the window loop
        // below, of one element).
        let hw = comptime!(cfg.hw());
        for s in s0..s1 {
            let out_base = comptime!(cfg.out_act * cap) + s * comptime!(cfg.out_len()) + ch * hw;
            for pos in 0..hw {
                acts[out_base + pos] = activate(
                    normalised(acts, s, ch, pos, scale, shift, cfg, cap),
                    cfg.act,
                );
            }
        }
    } else {
        for s in s0..s1 {
            let out_base = comptime!(cfg.out_act * cap)
                + s * comptime!(cfg.out_len())
                + ch * comptime!(cfg.out_h * cfg.out_w);
            let am_base = comptime!(cfg.argmax * cap)
                + s * comptime!(cfg.out_len())
                + ch * comptime!(cfg.out_h * cfg.out_w);
            for py in 0..cfg.out_h {
                for px in 0..cfg.out_w {
                    // The first maximum in row-major window order; padding and positions past the
                    // end are skipped (see `conv_forward_unit`).
                    let mut best = 0.0f32;
                    let mut best_at = 0u32;
                    let mut found = false;
                    #[unroll]
                    for wi in 0..win {
                        let (inside, pos) = window_element(py, px, wi, cfg.pool);
                        if inside {
                            let v = activate(
                                normalised(acts, s, ch, pos, scale, shift, cfg, cap),
                                cfg.act,
                            );
                            if replaces(found, v, best) {
                                best = v;
                                best_at = pos as u32;
                                found = true;
                            }
                        }
                    }
                    let at = py * cfg.out_w + px;
                    acts[out_base + at] = best;
                    if comptime!(cfg.pool.pooled) {
                        idx[am_base + at] = best_at;
                    }
                }
            }
        }
    }
    if comptime!(train) {
        if s0 == 0 {
            let m = f32::new(comptime!(f32::from_bits(cfg.momentum)));
            let unbiased =
                m2 / f32::new(comptime!(((n * cfg.hw()).saturating_sub(1).max(1)) as f32));
            bufs[cfg.rm_off + ch] = m * mean + (1.0f32 - m) * bufs[cfg.rm_off + ch];
            bufs[cfg.rv_off + ch] = m * unbiased + (1.0f32 - m) * bufs[cfg.rv_off + ch];
        }
    }
}
