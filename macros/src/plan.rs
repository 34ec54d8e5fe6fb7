//! The fusion plan: layers grouped into blocks (conv [+ activation] [+ max-pool], linear
//! [+ activation],
//! and the head: last linear + softmax cross-entropy), the arena layout, and the kernels of
//! one training step.
//!
//! Schedule for blocks `B0 .. Bk-1` (`Bk-1` is the head):
//! - forward: one kernel per block; the head kernel also computes the loss, d(logits) and
//!   the gradient with respect to its input;
//! - backward: for `j = k-2 .. 1` one kernel runs `Bj`'s input gradient together with
//!   `Bj+1`'s weight gradient + SGD update (`Bj+1`'s weights were last read by the kernel
//!   before, so updating them is safe); a last kernel runs the weight gradients + SGD of
//!   `B1` and `B0`.
//!
//! So a step is `2k - 1` launches.
use proc_macro2::Span;

use crate::ir::*;
use crate::parse::Errors;
use crate::shape::{Shape, Shaped, MAX_LEN};

/// A max-pool's (kernel, stride, padding), each (height, width).
pub type PoolWindow = ((usize, usize), (usize, usize), (usize, usize));

#[derive(Clone, Debug)]
pub struct ConvBlock {
    pub c_in: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub c_out: usize,
    pub k: (usize, usize),
    pub s: (usize, usize),
    pub p: (usize, usize),
    pub d: (usize, usize),
    pub conv_hw: (usize, usize),
    /// The fused activation (applied before the pool).
    pub act: Option<Activation>,
    /// The fused pool's (kernel, stride, padding).
    pub pool: Option<PoolWindow>,
    pub out_hw: (usize, usize),
    pub bias: bool,
}

#[derive(Clone, Debug)]
pub struct LinearBlock {
    pub in_f: usize,
    pub out_f: usize,
    pub act: Option<Activation>,
    pub bias: bool,
}

#[derive(Clone, Debug)]
pub enum BlockKind {
    Conv(ConvBlock),
    Linear(LinearBlock),
}

#[derive(Clone, Debug)]
pub struct Block {
    /// Names of the layers fused into this block (for the printout).
    pub layers: Vec<String>,
    /// The parametric layer's name (`state_dict` prefix).
    pub name: String,
    pub kind: BlockKind,
    /// Parameter offsets (weight, bias) in the parameter arena.
    pub w_off: usize,
    pub b_off: usize,
    /// Per-sample offsets in `acts` / `idx`.
    pub in_act: usize,
    pub out_act: usize,
    pub in_grad: usize,
    pub out_grad: usize,
    /// The pre-activation (`out_len` floats), kept for the backward pass of a GELU (0 when
    /// the block has none).
    pub pre_act: usize,
    pub argmax: usize,
}

impl Block {
    pub fn act(&self) -> Option<Activation> {
        match &self.kind {
            BlockKind::Conv(c) => c.act,
            BlockKind::Linear(l) => l.act,
        }
    }
    /// Whether the backward pass needs the pre-activation (GELU's derivative does).
    pub fn needs_pre(&self) -> bool {
        matches!(self.act(), Some(Activation::Gelu { .. }))
    }
    pub fn out_len(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => c.c_out * c.out_hw.0 * c.out_hw.1,
            BlockKind::Linear(l) => l.out_f,
        }
    }
    pub fn weight_shape(&self) -> Vec<usize> {
        match &self.kind {
            BlockKind::Conv(c) => vec![c.c_out, c.c_in, c.k.0, c.k.1],
            BlockKind::Linear(l) => vec![l.out_f, l.in_f],
        }
    }
    pub fn fan_in(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => c.c_in * c.k.0 * c.k.1,
            BlockKind::Linear(l) => l.in_f,
        }
    }
    pub fn has_bias(&self) -> bool {
        match &self.kind {
            BlockKind::Conv(c) => c.bias,
            BlockKind::Linear(l) => l.bias,
        }
    }
    pub fn out_features(&self) -> usize {
        self.out_len()
    }
    /// Multiply-adds of the forward pass per sample (saturating: it is only reported).
    pub fn forward_macs(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => [c.c_out, c.conv_hw.0, c.conv_hw.1, c.c_in, c.k.0, c.k.1]
                .iter()
                .fold(1usize, |a, &b| a.saturating_mul(b)),
            BlockKind::Linear(l) => l.in_f.saturating_mul(l.out_f),
        }
    }
}

/// One work item of a fused kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Forward(usize),
    Head,
    InputGrad(usize),
    WeightGrad(usize),
}

/// One kernel launch.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub name: String,
    pub jobs: Vec<Job>,
}

#[derive(Debug)]
pub struct Plan {
    pub blocks: Vec<Block>,
    pub train: Vec<Kernel>,
    pub eval: Vec<Kernel>,
    pub num_params: usize,
    pub acts_per_sample: usize,
    pub idx_per_sample: usize,
    pub input_act: usize,
    pub loss_act: usize,
    pub label_idx: usize,
    pub correct_idx: usize,
    pub classes: usize,
    /// `[C, H, W]` of one input sample.
    pub input_shape: [usize; 3],
}

/// Groups the shaped layers into blocks and lays out the buffers. Runs only on a network
/// without errors (so `None` is an internal error), except that a network whose buffers
/// exceed [`MAX_LEN`] is reported here.
pub fn plan(
    decl: &NetDecl,
    shapes: &[Option<Shaped>],
    struct_span: Span,
    errors: &mut Errors,
) -> Option<Plan> {
    let mut blocks: Vec<Block> = Vec::new();
    // Whether the last block can still take an activation / pool.
    let mut open_act = false;
    let mut open_pool = false;
    for (layer, shaped) in decl.layers.iter().zip(shapes) {
        let shaped = shaped.as_ref()?;
        let name = layer.name.to_string();
        let new_block = |kind: BlockKind| Block {
            layers: vec![name.clone()],
            name: name.clone(),
            kind,
            w_off: 0,
            b_off: 0,
            in_act: 0,
            out_act: 0,
            in_grad: 0,
            out_grad: 0,
            pre_act: 0,
            argmax: 0,
        };
        match &layer.kind {
            LayerKind::Conv2d(cv) => {
                let (Shape::Spatial { c, h, w }, Shape::Spatial { h: oh, w: ow, .. }) =
                    (shaped.input, shaped.output)
                else {
                    return None;
                };
                blocks.push(new_block(BlockKind::Conv(ConvBlock {
                    c_in: c,
                    h_in: h,
                    w_in: w,
                    c_out: cv.out_channels.value,
                    k: cv.kernel_size.value,
                    s: cv.stride.value,
                    p: cv.padding.value,
                    d: cv.dilation.value,
                    conv_hw: (oh, ow),
                    act: None,
                    pool: None,
                    out_hw: (oh, ow),
                    bias: cv.bias,
                })));
                open_act = true;
                open_pool = true;
            }
            LayerKind::Linear(l) => {
                blocks.push(new_block(BlockKind::Linear(LinearBlock {
                    in_f: l.in_features.value,
                    out_f: l.out_features.value,
                    act: None,
                    bias: l.bias,
                })));
                open_act = true;
                open_pool = false;
            }
            // `order::check` has rejected any other sequence.
            LayerKind::Activation(a) => {
                let b = blocks.last_mut().filter(|_| open_act)?;
                match &mut b.kind {
                    BlockKind::Conv(c) => c.act = Some(*a),
                    BlockKind::Linear(l) => l.act = Some(*a),
                }
                b.layers.push(name.clone());
                open_act = false;
            }
            LayerKind::MaxPool2d(p) => match blocks.last_mut() {
                Some(Block {
                    kind: BlockKind::Conv(c),
                    layers,
                    ..
                }) if open_pool => {
                    let Shape::Spatial { h, w, .. } = shaped.output else {
                        return None;
                    };
                    c.pool = Some((p.kernel_size.value, p.stride.value, p.padding.value));
                    c.out_hw = (h, w);
                    layers.push(name.clone());
                    open_pool = false;
                }
                _ => return None,
            },
            LayerKind::Invalid(_) => return None,
            LayerKind::Flatten => {
                open_act = false;
                open_pool = false;
            }
        }
    }
    // `order::check` has made sure the network ends with a Linear without activation.
    let last = blocks.last()?;
    let BlockKind::Linear(LinearBlock { act: None, .. }) = last.kind else {
        return None;
    };
    if !decl
        .layers
        .last()
        .is_some_and(|l| matches!(l.kind, LayerKind::Linear(_)))
    {
        return None;
    }
    let classes = last.out_features();

    // Checked sums: every term is at most `shape::MAX_LEN`, so only the totals can overflow.
    let mut too_large = |what: &str| {
        errors.push(struct_span, format!("the network is too large: its {what} exceed the {MAX_LEN} values a buffer may hold (32-bit offsets)"));
    };
    let add = |a: usize, b: usize| a.checked_add(b).filter(|&s| s <= MAX_LEN);

    // Parameter arena, in state_dict order.
    let mut off = 0usize;
    for b in &mut blocks {
        b.w_off = off;
        let Some(end) = add(off, b.weight_shape().iter().product::<usize>()) else {
            too_large("parameters");
            return None;
        };
        off = end;
        b.b_off = off;
        if b.has_bias() {
            let Some(end) = add(off, b.out_len_channels()) else {
                too_large("parameters");
                return None;
            };
            off = end;
        }
    }
    let num_params = off;

    // acts arena (per-sample offsets): input, then for each block its output and output grad
    // (and, for a GELU, its pre-activation).
    let input_act = 0;
    let mut a = decl.attr.input.iter().map(|d| d.value).product::<usize>();
    let mut prev_out = input_act;
    let mut prev_grad = usize::MAX;
    for b in &mut blocks {
        b.in_act = prev_out;
        b.in_grad = prev_grad;
        b.out_act = a;
        let regions = if b.needs_pre() { 3 } else { 2 };
        let (Some(out_end), Some(end)) = (
            add(a, b.out_len()),
            b.out_len().checked_mul(regions).and_then(|len| add(a, len)),
        ) else {
            too_large("activations per sample");
            return None;
        };
        b.out_grad = out_end;
        if b.needs_pre() {
            b.pre_act = out_end + b.out_len();
        }
        a = end;
        prev_out = b.out_act;
        prev_grad = b.out_grad;
    }
    let loss_act = a;
    let Some(a) = add(a, 1) else {
        too_large("activations per sample");
        return None;
    };
    // idx arena: label, correct flag, then pool argmaxes.
    let label_idx = 0;
    let correct_idx = 1;
    let mut ix = 2usize;
    for b in &mut blocks {
        if let BlockKind::Conv(c) = &b.kind {
            if c.pool.is_some() {
                b.argmax = ix;
                let Some(end) = add(ix, b.out_len()) else {
                    too_large("pool indices per sample");
                    return None;
                };
                ix = end;
            }
        }
        if b.in_grad == usize::MAX {
            b.in_grad = 0;
        }
    }

    let k = blocks.len();
    let mut train = Vec::new();
    let mut eval = Vec::new();
    for (i, b) in blocks.iter().enumerate().take(k - 1) {
        train.push(Kernel {
            name: format!("forward_{}", b.name),
            jobs: vec![Job::Forward(i)],
        });
    }
    eval.extend(train.iter().cloned());
    train.push(Kernel {
        name: format!("head_{}", blocks[k - 1].name),
        jobs: vec![Job::Head],
    });
    eval.push(Kernel {
        name: format!("eval_head_{}", blocks[k - 1].name),
        jobs: vec![Job::Head],
    });
    for j in (1..k.saturating_sub(1)).rev() {
        train.push(Kernel {
            name: format!("backward_{}", blocks[j].name),
            jobs: vec![Job::InputGrad(j), Job::WeightGrad(j + 1)],
        });
    }
    let mut last_jobs = Vec::new();
    if k >= 2 {
        last_jobs.push(Job::WeightGrad(1));
    }
    last_jobs.push(Job::WeightGrad(0));
    train.push(Kernel {
        name: "backward_update".into(),
        jobs: last_jobs,
    });

    Some(Plan {
        blocks,
        train,
        eval,
        num_params,
        acts_per_sample: a,
        idx_per_sample: ix,
        input_act,
        loss_act,
        label_idx,
        correct_idx,
        classes,
        input_shape: [
            decl.attr.input[0].value,
            decl.attr.input[1].value,
            decl.attr.input[2].value,
        ],
    })
}

impl Block {
    /// Channels (conv) or features (linear) of the output: the bias length.
    pub fn out_len_channels(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => c.c_out,
            BlockKind::Linear(l) => l.out_f,
        }
    }
}
