//! The head: the last linear layer (outputs `z`, `C` per row) and the loss ([`Loss`]),
//! forward and backward, one unit per sample. Every loss is PyTorch's with reduction 'mean'.
//!
//! - Cross-entropy (torch.nn.CrossEntropyLoss, class index `t_i`, `label_smoothing` ε):
//!   `m = max z_i; lse = ln(sum exp(z_i - m))`, so that huge logits give neither inf nor NaN;
//!   `loss_i = lse - (1 - ε)(z_i[t_i] - m) - ε/C sum_c (z_i[c] - m)`, the mean over the `n` rows
//!   present, and `d(mean loss)/dz_i = (softmax(z_i) - (1 - ε) onehot(t_i) - ε/C) / n`.
//! - MSE (torch.nn.MSELoss, f32 targets `y`, `n x C`): mean of `(z - y)^2` over all `n C`
//!   elements; `d/dz = 2 (z - y) / (n C)`. The per-row loss is the row's mean.
//! - BCE with logits (torch.nn.BCEWithLogitsLoss, targets `y` in [0, 1], `n x C`):
//!   `l = max(z, 0) - z y + ln(1 + exp(-|z|))` (the max-subtracted form, finite for any `z`),
//!   mean over `n C`; `d/dz = (sigmoid(z) - y) / (n C)` with `sigmoid` evaluated through
//!   `exp(-|z|)`. The per-row loss is the row's mean.
use cubecl::prelude::*;

use crate::linear::LinearCfg;

pub mod reference;

/// The training objective of a head (`#[network(loss = ...)]`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy against a class index per row, with label smoothing ε (the f32
    /// bits of ε, in `[0, 1)`; 0 is plain cross-entropy).
    CrossEntropy {
        /// `f32::to_bits` of ε.
        label_smoothing_bits: u32,
    },
    /// Mean squared error against `C` f32 targets per row.
    Mse,
    /// Binary cross-entropy on the logits against `C` f32 targets in [0, 1] per row.
    BceWithLogits,
}

impl Loss {
    /// Cross-entropy with label smoothing `eps`.
    pub const fn cross_entropy(eps: f32) -> Loss {
        Loss::CrossEntropy {
            label_smoothing_bits: eps.to_bits(),
        }
    }
    /// ε of a cross-entropy loss (0 for the others).
    pub const fn label_smoothing(&self) -> f32 {
        match self {
            Loss::CrossEntropy {
                label_smoothing_bits,
            } => f32::from_bits(*label_smoothing_bits),
            _ => 0.0,
        }
    }
    /// Whether the targets are class indices (`idx` arena) rather than f32 values.
    pub const fn takes_classes(&self) -> bool {
        matches!(self, Loss::CrossEntropy { .. })
    }
    /// Whether an accuracy is defined (cross-entropy: of the rows; BCE: of the labels; MSE:
    /// none).
    pub const fn has_accuracy(&self) -> bool {
        !matches!(self, Loss::Mse)
    }
    /// Whether this is [`Loss::Mse`].
    pub const fn is_mse(&self) -> bool {
        matches!(self, Loss::Mse)
    }
}

/// Comptime description of the head.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct HeadCfg {
    /// The last linear layer (`out_f` = number of classes; `act` must be `Act::None`). Its
    /// `out_act` holds the logits and `out_grad` d(mean loss)/d(logits).
    pub linear: LinearCfg,
    /// Per-sample offset of the per-row loss (1 float) in `acts`.
    pub loss_act: usize,
    /// The loss.
    pub loss: Loss,
    /// Per-sample offset of the label (1 u32) in `idx` (class losses).
    pub label: usize,
    /// Per-sample offset of the f32 targets (`C` floats) in `acts` (value losses).
    pub target: usize,
    /// Per-sample offset of the correctness count (1 u32): cross-entropy 1 if argmax(logits)
    /// == label; BCE the number of outputs with `z > 0` exactly where `y > 0.5`; MSE 0.
    pub correct: usize,
    /// Whether the head also writes d(loss)/d(input of the last linear) (false when the
    /// last linear is the first layer, or for evaluation).
    pub input_grad: bool,
}

impl HeadCfg {
    /// Loop iterations of one `head_unit` invocation (the logits loop, and in training the
    /// input-gradient loop; see [`crate::LOOP_LIMIT`]).
    pub const fn loop_iterations(&self, train: bool) -> usize {
        self.linear.in_features * if train && self.input_grad { 2 } else { 1 }
    }
}

/// One sample of the head: logits, loss, correctness flag and, when `train`, the gradients.
///
/// A label `>= classes` gives a NaN loss and zero gradients (the host rejects such labels
/// before launching, naming the sample).
#[cube]
pub fn head_unit(
    params: &mut [f32],
    acts: &mut [f32],
    idx: &mut [u32],
    s: usize,
    #[comptime] cfg: HeadCfg,
    #[comptime] train: bool,
    #[comptime] n: usize,
    #[comptime] cap: usize,
) {
    let lin = comptime!(cfg.linear);
    let classes = comptime!(cfg.linear.out_features);
    let mut z = Array::<f32>::new(comptime!(cfg.linear.out_features));
    let x_base = comptime!(lin.in_act * cap) + s * lin.in_features;
    #[unroll]
    for o in 0..classes {
        let mut b = 0.0f32;
        if comptime!(lin.bias) {
            b = params[lin.b_off + o];
        }
        z[o] = b;
    }
    for i in 0..lin.in_features {
        let xv = acts[x_base + i];
        #[unroll]
        for o in 0..classes {
            z[o] += xv * params[lin.w_off + o * lin.in_features + i];
        }
    }
    let z_base = comptime!(lin.out_act * cap) + s * classes;
    #[unroll]
    for o in 0..classes {
        acts[z_base + o] = z[o];
    }
    let loss_at = comptime!(cfg.loss_act * cap) + s;
    let correct_at = comptime!(cfg.correct * cap) + s;
    if comptime!(cfg.loss.takes_classes()) {
        let label = idx[comptime!(cfg.label * cap) + s];
        let mut m = z[0];
        let mut arg = 0u32;
        #[unroll]
        for o in 1..classes {
            if z[o] > m {
                m = z[o];
                arg = o as u32;
            }
        }
        let mut sum = 0.0f32;
        // A quiet-NaN bit pattern built from the run-time label: WGSL has no NaN literal
        // (`f32(NaN)` fails shader validation), and a constant NaN could be folded away.
        let mut zt = f32::reinterpret(label | 0x7fc0_0000u32);
        #[unroll]
        for o in 0..classes {
            sum += f32::exp(z[o] - m);
            if label == o as u32 {
                zt = z[o];
            }
        }
        let lse = f32::ln(sum);
        let eps = comptime!(cfg.loss.label_smoothing());
        if comptime!(eps == 0.0) {
            acts[loss_at] = lse - (zt - m);
        } else {
            let mut sum_z = 0.0f32;
            #[unroll]
            for o in 0..classes {
                sum_z += z[o] - m;
            }
            acts[loss_at] = lse
                - f32::new(comptime!(1.0 - eps)) * (zt - m)
                - f32::new(comptime!(eps / classes as f32)) * sum_z;
        }
        let mut ok = 0u32;
        if arg == label {
            ok = 1u32;
        }
        idx[correct_at] = ok;
        if comptime!(train) {
            let valid = label < classes as u32;
            let inv_n = comptime!(1.0f32 / n as f32);
            #[unroll]
            for o in 0..classes {
                let mut g = f32::exp(z[o] - m) / sum;
                if comptime!(eps != 0.0) {
                    g -= f32::new(comptime!(eps / classes as f32));
                }
                if label == o as u32 {
                    g -= f32::new(comptime!(1.0 - eps));
                }
                if !valid {
                    g = 0.0;
                }
                z[o] = g * inv_n;
            }
        }
    } else {
        let t_base = comptime!(cfg.target * cap) + s * classes;
        let mut sum = 0.0f32;
        let mut ok = 0u32;
        #[unroll]
        for o in 0..classes {
            let y = acts[t_base + o];
            let x = z[o];
            if comptime!(cfg.loss.is_mse()) {
                let d = x - y;
                sum += d * d;
                if comptime!(train) {
                    z[o] = d * f32::new(comptime!(2.0 / (n * classes) as f32));
                }
            } else {
                // BCE with logits: e = exp(-|x|) never overflows.
                let e = f32::exp(-f32::abs(x));
                let mut pos = 0.0f32;
                let mut sig = e / (1.0 + e);
                if x > 0.0 {
                    pos = x;
                    sig = 1.0 / (1.0 + e);
                }
                sum += pos - x * y + f32::ln(1.0 + e);
                if (x > 0.0) == (y > 0.5) {
                    ok += 1;
                }
                if comptime!(train) {
                    z[o] = (sig - y) * f32::new(comptime!(1.0 / (n * classes) as f32));
                }
            }
        }
        acts[loss_at] = sum * f32::new(comptime!(1.0 / classes as f32));
        idx[correct_at] = ok;
    }
    if comptime!(train) {
        let g_base = comptime!(lin.out_grad * cap) + s * classes;
        #[unroll]
        for o in 0..classes {
            acts[g_base + o] = z[o];
        }
        if comptime!(cfg.input_grad) {
            let d_base = comptime!(lin.in_grad * cap) + s * lin.in_features;
            for i in 0..lin.in_features {
                let mut acc = 0.0f32;
                #[unroll]
                for o in 0..classes {
                    acc += z[o] * params[lin.w_off + o * lin.in_features + i];
                }
                acts[d_base + i] = acc;
            }
        }
    }
}
