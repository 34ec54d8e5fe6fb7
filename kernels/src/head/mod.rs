//! The head: the last linear layer (logits) + softmax + cross-entropy, forward and backward,
//! one unit per sample.
//!
//! Loss (torch.nn.CrossEntropyLoss, reduction 'mean'): `loss_i = logsumexp(z_i) - z_i[t_i]`
//! computed as `m = max z_i; lse = ln(sum exp(z_i - m)); loss_i = lse - (z_i[t_i] - m)`, so
//! that huge logits give neither inf nor NaN; the mean is over the `n` rows present, and
//! `d(mean loss)/dz_i = (softmax(z_i) - onehot(t_i)) / n`.
use cubecl::prelude::*;

use crate::linear::LinearCfg;

pub mod reference;

/// Comptime description of the head.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct HeadCfg {
    /// The last linear layer (`out_f` = number of classes; `act` must be `Act::None`). Its
    /// `out_act` holds the logits and `out_grad` d(mean loss)/d(logits).
    pub linear: LinearCfg,
    /// Per-sample offset of the per-row loss (1 float) in `acts`.
    pub loss_act: usize,
    /// Per-sample offset of the label (1 u32) in `idx`.
    pub label: usize,
    /// Per-sample offset of the correctness flag (1 u32: 1 if argmax(logits) == label).
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
    acts[comptime!(cfg.loss_act * cap) + s] = lse - (zt - m);
    let mut ok = 0u32;
    if arg == label {
        ok = 1u32;
    }
    idx[comptime!(cfg.correct * cap) + s] = ok;
    let z_base = comptime!(lin.out_act * cap) + s * classes;
    #[unroll]
    for o in 0..classes {
        acts[z_base + o] = z[o];
    }
    if comptime!(train) {
        let valid = label < classes as u32;
        let inv_n = comptime!(1.0f32 / n as f32);
        let g_base = comptime!(lin.out_grad * cap) + s * classes;
        #[unroll]
        for o in 0..classes {
            let mut g = f32::exp(z[o] - m) / sum;
            if label == o as u32 {
                g -= 1.0;
            }
            if !valid {
                g = 0.0;
            }
            z[o] = g * inv_n;
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
