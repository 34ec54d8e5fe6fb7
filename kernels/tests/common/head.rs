//! The head (last linear + softmax cross-entropy) in the tests: spec, layout, f64 reference,
//! and a harness that runs it (and the last linear's weight gradient) and checks every arena.
use cubecl::client::Client;
use cubenet_kernels::reference::{self as r, LinearShape};
use cubenet_kernels::{HeadCfg, LinearCfg};

use super::blocks::{IDX_SENTINEL, PARAM_PAD, SENTINEL};
use super::launch::{Arenas, Gpu, SgdArgs};
use super::{abs, Expect};

/// A head: `in_f` features -> `classes` logits.
#[derive(Clone, Copy, Debug)]
pub struct HeadSpec {
    pub in_f: usize,
    pub classes: usize,
    pub bias: bool,
    /// Input features per weight-gradient unit of the last linear.
    pub ib: usize,
    /// Whether the head writes d(loss)/d(input).
    pub input_grad: bool,
}

impl HeadSpec {
    /// Layout per sample in `acts`: input (0), logits, d(logits), d(input), loss; in `idx`:
    /// label (0), correctness flag (1). Parameters as in `blocks::Layout`.
    pub fn cfg(&self) -> HeadCfg {
        let (i, c) = (self.in_f, self.classes);
        let linear = LinearCfg {
            in_features: i,
            out_features: c,
            act: cubenet_kernels::Act::None,
            bias: self.bias,
            w_off: PARAM_PAD,
            b_off: if self.bias { PARAM_PAD + i * c } else { 0 },
            in_act: 0,
            out_act: i,
            out_grad: i + c,
            in_grad: i + 2 * c,
            pre_act: 0,
            rb: 1,
            ob: 1,
            ib: self.ib,
            vector: false,
            k_splits: 1,
            part_a: 0,
            part_b: 0,
        };
        HeadCfg {
            linear,
            loss_act: 2 * i + 2 * c,
            loss: cubenet_kernels::head::Loss::cross_entropy(0.0),
            label: 0,
            target: 0,
            correct: 1,
            input_grad: self.input_grad,
        }
    }

    fn b_len(&self) -> usize {
        if self.bias {
            self.classes
        } else {
            0
        }
    }
}

/// The arenas before and after a [`run_head`].
pub struct HeadRun {
    pub init: Arenas,
    pub after: Arenas,
}

/// Runs the head on the first `n` of `cap` rows (`train` as the kernel's flag), then, if
/// `weight_grad`, the last linear's weight gradient (no update).
#[allow(clippy::too_many_arguments)]
pub fn run_head(
    client: &Client,
    spec: &HeadSpec,
    n: usize,
    cap: usize,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    labels: &[u32],
    train: bool,
    weight_grad: bool,
) -> HeadRun {
    let (i, c) = (spec.in_f, spec.classes);
    assert!(x.len() == n * i && w.len() == i * c && labels.len() == n && n <= cap);
    let mut params = vec![SENTINEL; PARAM_PAD + i * c + spec.b_len() + 2];
    params[PARAM_PAD..PARAM_PAD + i * c].copy_from_slice(w);
    if let Some(b) = b {
        params[PARAM_PAD + i * c..PARAM_PAD + i * c + c].copy_from_slice(b);
    }
    let mut acts = vec![SENTINEL; (2 * i + 2 * c + 1) * cap];
    acts[..x.len()].copy_from_slice(x);
    let mut idx = vec![IDX_SENTINEL; 2 * cap];
    idx[..n].copy_from_slice(labels);
    let init = Arenas {
        velocity: params.clone(),
        grads: vec![SENTINEL; params.len()],
        params,
        acts,
        idx,
        part: vec![0.0],
    };
    let gpu = Gpu::new(client, &init);
    let cfg = spec.cfg();
    gpu.head(cfg, train, n, cap);
    if weight_grad {
        gpu.linear_weight_grad(cfg.linear, n, cap, SgdArgs::NO_UPDATE);
    }
    HeadRun {
        after: gpu.read(),
        init,
    }
}

/// The f64 reference of the head on `n` rows, with scales for the tolerances.
pub struct HeadRef {
    pub logits: Vec<f64>,
    pub logits_scale: Vec<f64>,
    pub loss: Vec<f64>,
    pub loss_scale: Vec<f64>,
    pub correct: Vec<u32>,
    pub grad_logits: Vec<f64>,
    pub grad_logits_scale: Vec<f64>,
    pub grad_x: Vec<f64>,
    pub grad_x_scale: Vec<f64>,
    pub grad_w: Vec<f64>,
    pub grad_w_scale: Vec<f64>,
    pub grad_b: Vec<f64>,
    pub grad_b_scale: Vec<f64>,
}

/// `cross_entropy(linear(x, w, b), labels)` (mean over `n`) and its gradients.
pub fn head_ref(
    spec: &HeadSpec,
    n: usize,
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    labels: &[usize],
) -> HeadRef {
    let (i, c) = (spec.in_f, spec.classes);
    let s = LinearShape {
        n,
        in_features: i,
        out_features: c,
    };
    let logits = r::linear_forward(&s, x, w, b);
    let logits_scale = r::linear_forward(&s, &abs(x), &abs(w), b.map(abs).as_deref());
    let ce = r::softmax_cross_entropy(&logits, labels, c);
    // An error e in the logits moves a loss by at most 2e and a gradient by at most e / n.
    let row_scale: Vec<f64> = logits_scale
        .chunks(c)
        .map(|r| r.iter().copied().fold(0.0, f64::max))
        .collect();
    let loss_scale = row_scale.iter().map(|s| 2.0 * s).collect();
    let grad_logits_scale = (0..n * c).map(|k| row_scale[k / c]).collect();
    let correct = logits
        .chunks(c)
        .zip(labels)
        .map(|(row, &t)| (r::argmax(row) == t) as u32)
        .collect();
    let g = r::linear_backward(&s, x, w, &ce.grad_logits);
    let gs = r::linear_backward(&s, &abs(x), &abs(w), &abs(&ce.grad_logits));
    HeadRef {
        logits,
        logits_scale,
        loss: ce.per_row,
        loss_scale,
        correct,
        grad_logits: ce.grad_logits,
        grad_logits_scale,
        grad_x: g.input,
        grad_x_scale: gs.input,
        grad_w: g.weight,
        grad_w_scale: gs.weight,
        grad_b: g.bias,
        grad_b_scale: gs.bias,
    }
}

/// Checks a [`run_head`] against `r`: logits, per-row loss and correctness flags always;
/// d(logits) and d(input) (if the spec asks) when `train`; the parameter gradients when
/// `weight_grad`; everything else (rows >= n included) untouched.
#[allow(clippy::too_many_arguments)]
pub fn check_head(
    what: &str,
    spec: &HeadSpec,
    run: &HeadRun,
    n: usize,
    cap: usize,
    r: &HeadRef,
    train: bool,
    weight_grad: bool,
) {
    let cfg = spec.cfg();
    let l = cfg.linear;
    let mut acts = Expect::new(&format!("{what}: acts"), &run.init.acts);
    acts.set(l.out_act * cap, &r.logits, &r.logits_scale);
    acts.set(cfg.loss_act * cap, &r.loss, &r.loss_scale);
    if train {
        acts.set(l.out_grad * cap, &r.grad_logits, &r.grad_logits_scale);
        if spec.input_grad {
            acts.set(l.in_grad * cap, &r.grad_x, &r.grad_x_scale);
        }
    }
    acts.check(&run.after.acts);
    let mut idx = run.init.idx.clone();
    idx[cfg.correct * cap..cfg.correct * cap + n].copy_from_slice(&r.correct);
    assert_eq!(
        run.after.idx, idx,
        "{what}: idx (labels and correctness flags)"
    );
    let mut grads = Expect::new(&format!("{what}: grads"), &run.init.grads);
    if weight_grad {
        grads.set(l.w_off, &r.grad_w, &r.grad_w_scale);
        if spec.bias {
            grads.set(l.b_off, &r.grad_b, &r.grad_b_scale);
        }
    }
    grads.check(&run.after.grads);
    assert_eq!(run.after.params, run.init.params, "{what}: params changed");
    assert_eq!(
        run.after.velocity, run.init.velocity,
        "{what}: velocity changed"
    );
}
