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

/// A BatchNorm2d / BatchNorm1d (a 1x1 plane) with what is fused after it.
#[derive(Clone, Debug)]
pub struct NormBlock {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub eps: f32,
    pub momentum: f32,
    pub act: Option<Activation>,
    pub pool: Option<PoolWindow>,
    pub out_hw: (usize, usize),
}

#[derive(Clone, Debug)]
pub struct DropoutBlock {
    /// Floats per sample.
    pub len: usize,
    pub p: f32,
    /// Which Dropout of the network this is (from 0): it salts the mask.
    pub ordinal: u32,
}

#[derive(Clone, Debug)]
pub struct AvgPoolBlock {
    pub c: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub out_hw: (usize, usize),
    /// (kernel, stride, padding) of an AvgPool2d; unused when adaptive.
    pub window: PoolWindow,
    pub adaptive: bool,
    pub count_include_pad: bool,
}

#[derive(Clone, Debug)]
pub enum BlockKind {
    Conv(ConvBlock),
    Linear(LinearBlock),
    Norm(NormBlock),
    Dropout(DropoutBlock),
    AvgPool(AvgPoolBlock),
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
    /// Norm blocks: per-sample offsets of the forward partials (`2c`), the backward partials
    /// (`2c`) and `dy` (the input's length), and the running statistics' offsets in the
    /// buffer arena.
    pub stat: usize,
    pub gstat: usize,
    pub dy: usize,
    pub rm_off: usize,
    pub rv_off: usize,
    /// Where the block's input comes from.
    pub input: Src,
    /// A norm block's residual input (added before its activation).
    pub skip: Option<Src>,
    /// The input gradient is added to what is there (a second consumer of the same input,
    /// such as a projection shortcut).
    pub accumulate: bool,
    /// A conv block whose input is a residual's identity shortcut: the norm block (index)
    /// whose `dy` (the gradient of the residual sum) is added to the input gradient.
    pub skip_grad: Option<usize>,
    /// The output gradient is the `dy` of this norm block (a projection shortcut's output is
    /// added into that block's residual sum) instead of a region of its own.
    pub grad_alias: Option<usize>,
    /// Position in PyTorch's `state_dict` order: (layer index, position inside the layer).
    pub rank: (usize, usize),
    /// Resolved offsets: the residual input (`skip`) and the added gradient (`skip_grad`).
    pub skip_act: usize,
    pub skip_grad_off: usize,
}

/// Where a block's input (or residual input) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The block before it (the network input for the first block).
    Prev,
    /// The network input.
    Net,
    /// The output of block `i`.
    Block(usize),
}

impl Src {
    /// The block whose output it is (`None`: the network input), for block `i`.
    pub fn resolve(self, i: usize) -> Option<usize> {
        match self {
            Src::Prev => i.checked_sub(1),
            Src::Net => None,
            Src::Block(j) => Some(j),
        }
    }
}

impl Block {
    /// Whether the block computes the gradient with respect to its input (not for the
    /// network input).
    pub fn needs_input_grad(&self, i: usize) -> bool {
        self.input.resolve(i).is_some()
    }
    pub fn act(&self) -> Option<Activation> {
        match &self.kind {
            BlockKind::Conv(c) => c.act,
            BlockKind::Linear(l) => l.act,
            BlockKind::Norm(b) => b.act,
            BlockKind::Dropout(_) | BlockKind::AvgPool(_) => None,
        }
    }
    /// Whether the backward pass needs a stored pre-activation (GELU's derivative does; a
    /// norm block recomputes it).
    pub fn needs_pre(&self) -> bool {
        matches!(self.kind, BlockKind::Conv(_) | BlockKind::Linear(_))
            && matches!(self.act(), Some(Activation::Gelu { .. }))
    }
    pub fn out_len(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => c.c_out * c.out_hw.0 * c.out_hw.1,
            BlockKind::Linear(l) => l.out_f,
            BlockKind::Norm(b) => b.c * b.out_hw.0 * b.out_hw.1,
            BlockKind::Dropout(d) => d.len,
            BlockKind::AvgPool(a) => a.c * a.out_hw.0 * a.out_hw.1,
        }
    }
    /// Whether the block has parameters (a weight gradient job).
    pub fn has_params(&self) -> bool {
        matches!(
            self.kind,
            BlockKind::Conv(_) | BlockKind::Linear(_) | BlockKind::Norm(_)
        )
    }
    pub fn weight_shape(&self) -> Vec<usize> {
        match &self.kind {
            BlockKind::Conv(c) => vec![c.c_out, c.c_in, c.k.0, c.k.1],
            BlockKind::Linear(l) => vec![l.out_f, l.in_f],
            BlockKind::Norm(b) => vec![b.c],
            BlockKind::Dropout(_) | BlockKind::AvgPool(_) => vec![0],
        }
    }
    pub fn fan_in(&self) -> usize {
        match &self.kind {
            BlockKind::Conv(c) => c.c_in * c.k.0 * c.k.1,
            BlockKind::Linear(l) => l.in_f,
            _ => 0,
        }
    }
    pub fn has_bias(&self) -> bool {
        match &self.kind {
            BlockKind::Conv(c) => c.bias,
            BlockKind::Linear(l) => l.bias,
            BlockKind::Norm(_) => true,
            BlockKind::Dropout(_) | BlockKind::AvgPool(_) => false,
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
            _ => 0,
        }
    }
}

/// One work item of a fused kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Forward(usize),
    /// A norm block's per-plane batch statistics (training only).
    Stats(usize),
    Head,
    /// A norm block's `dy` and backward partial sums.
    NormGrad(usize),
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
    /// How many of `train`'s kernels are the forward pass (before the head).
    pub train_forward: usize,
    pub eval: Vec<Kernel>,
    /// Floats of the buffer arena (running statistics).
    pub num_bufs: usize,
    /// The smallest batch a training-mode forward accepts (2 when a BatchNorm normalises
    /// single values per channel, as PyTorch requires).
    pub min_train_batch: usize,
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
    let mut dropouts = 0u32;
    for (layer_index, (layer, shaped)) in decl.layers.iter().zip(shapes).enumerate() {
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
            stat: 0,
            gstat: 0,
            dy: 0,
            rm_off: 0,
            rv_off: 0,
            input: Src::Prev,
            skip: None,
            accumulate: false,
            skip_grad: None,
            grad_alias: None,
            rank: (layer_index, 0),
            skip_act: 0,
            skip_grad_off: 0,
        };
        match &layer.kind {
            LayerKind::BasicBlock(bb) => {
                let (
                    Shape::Spatial { c, h, w },
                    Shape::Spatial {
                        c: oc,
                        h: oh,
                        w: ow,
                    },
                ) = (shaped.input, shaped.output)
                else {
                    return None;
                };
                let s = bb.stride.value;
                let entry = match blocks.len() {
                    0 => Src::Net,
                    e => Src::Block(e - 1),
                };
                let conv = |c_in: usize, hw: (usize, usize), k: usize, s: usize, p: usize| {
                    BlockKind::Conv(ConvBlock {
                        c_in,
                        h_in: hw.0,
                        w_in: hw.1,
                        c_out: oc,
                        k: (k, k),
                        s: (s, s),
                        p: (p, p),
                        d: (1, 1),
                        conv_hw: (oh, ow),
                        act: None,
                        pool: None,
                        out_hw: (oh, ow),
                        bias: false,
                    })
                };
                let norm = |act: Option<Activation>| {
                    BlockKind::Norm(NormBlock {
                        c: oc,
                        h: oh,
                        w: ow,
                        eps: 1e-5,
                        momentum: 0.1,
                        act,
                        pool: None,
                        out_hw: (oh, ow),
                    })
                };
                let mut part = |suffix: &str, rank: usize, kind: BlockKind| {
                    let mut b = new_block(kind);
                    b.name = format!("{name}.{suffix}");
                    b.layers = vec![b.name.clone()];
                    b.rank = (layer_index, rank);
                    blocks.push(b);
                    blocks.len() - 1
                };
                // Forward order: the projection shortcut first (its output is added in bn2),
                // then the main path; `rank` keeps torchvision's registration order.
                let shortcut = if bb.downsample {
                    let ds0 = part("downsample.0", 4, conv(c, (h, w), 1, s, 0));
                    let ds1 = part("downsample.1", 5, norm(None));
                    Some((ds0, ds1))
                } else {
                    None
                };
                let conv1 = part("conv1", 0, conv(c, (h, w), 3, s, 1));
                part("bn1", 1, norm(Some(Activation::Relu)));
                part("conv2", 2, conv(oc, (oh, ow), 3, 1, 1));
                let bn2 = part("bn2", 3, norm(Some(Activation::Relu)));
                blocks[conv1].input = entry;
                match shortcut {
                    Some((ds0, ds1)) => {
                        blocks[ds0].input = entry;
                        // ds0's input gradient is added after conv1's (which comes later in
                        // forward order, so earlier in the backward pass).
                        blocks[ds0].accumulate = true;
                        blocks[ds1].grad_alias = Some(bn2);
                        blocks[bn2].skip = Some(Src::Block(ds1));
                    }
                    None => {
                        blocks[bn2].skip = Some(entry);
                        blocks[conv1].skip_grad = Some(bn2);
                    }
                }
                open_act = false;
                open_pool = false;
            }
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
            LayerKind::BatchNorm(bn) => {
                let (c, h, w) = match shaped.input {
                    Shape::Spatial { c, h, w } => (c, h, w),
                    Shape::Flat(f) => (f, 1, 1),
                };
                blocks.push(new_block(BlockKind::Norm(NormBlock {
                    c,
                    h,
                    w,
                    eps: bn.eps,
                    momentum: bn.momentum,
                    act: None,
                    pool: None,
                    out_hw: (h, w),
                })));
                open_act = true;
                open_pool = bn.two_d;
            }
            LayerKind::Dropout(d) => {
                let len = shaped.input.len()?;
                blocks.push(new_block(BlockKind::Dropout(DropoutBlock {
                    len,
                    p: d.p,
                    ordinal: dropouts,
                })));
                dropouts += 1;
                open_act = false;
                open_pool = false;
            }
            LayerKind::AvgPool2d(p) => {
                let (Shape::Spatial { c, h, w }, Shape::Spatial { h: oh, w: ow, .. }) =
                    (shaped.input, shaped.output)
                else {
                    return None;
                };
                blocks.push(new_block(BlockKind::AvgPool(AvgPoolBlock {
                    c,
                    h_in: h,
                    w_in: w,
                    out_hw: (oh, ow),
                    window: (p.kernel_size.value, p.stride.value, p.padding.value),
                    adaptive: p.adaptive.is_some(),
                    count_include_pad: p.count_include_pad,
                })));
                open_act = false;
                open_pool = false;
            }
            // `order::check` has rejected any other sequence.
            LayerKind::Activation(a) => {
                let b = blocks.last_mut().filter(|_| open_act)?;
                match &mut b.kind {
                    BlockKind::Conv(c) => c.act = Some(*a),
                    BlockKind::Linear(l) => l.act = Some(*a),
                    BlockKind::Norm(n) => n.act = Some(*a),
                    _ => return None,
                }
                b.layers.push(name.clone());
                open_act = false;
            }
            LayerKind::MaxPool2d(p) => {
                let b = blocks.last_mut().filter(|_| open_pool)?;
                let Shape::Spatial { h, w, .. } = shaped.output else {
                    return None;
                };
                let window = Some((p.kernel_size.value, p.stride.value, p.padding.value));
                match &mut b.kind {
                    BlockKind::Conv(c) => {
                        c.pool = window;
                        c.out_hw = (h, w);
                    }
                    BlockKind::Norm(n) => {
                        n.pool = window;
                        n.out_hw = (h, w);
                    }
                    _ => return None,
                }
                b.layers.push(name.clone());
                open_pool = false;
            }
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

    // Parameter arena, in state_dict order (`rank`); blocks without parameters take none.
    let mut off = 0usize;
    for i in param_order(&blocks) {
        let b = &mut blocks[i];
        b.w_off = off;
        b.b_off = off;
        if !b.has_params() {
            continue;
        }
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

    // Buffer arena: each norm block's running mean, then running variance.
    let mut num_bufs = 0usize;
    let mut min_train_batch = 1usize;
    for i in param_order(&blocks) {
        let b = &mut blocks[i];
        if let BlockKind::Norm(nb) = &b.kind {
            b.rm_off = num_bufs;
            b.rv_off = num_bufs + nb.c;
            num_bufs += 2 * nb.c;
            if nb.h * nb.w == 1 {
                min_train_batch = 2;
            }
        }
    }

    // acts arena (per-sample offsets): input, then for each block its output and output grad
    // (and, for a GELU, its pre-activation; for a norm block its partial sums and `dy`).
    let input_act = 0;
    let mut a = decl.attr.input.iter().map(|d| d.value).product::<usize>();
    for b in &mut blocks {
        let mut region = |len: usize| -> Option<usize> {
            let at = a;
            a = add(a, len)?;
            Some(at)
        };
        let out_len = b.out_len();
        let aliased = b.grad_alias.is_some();
        let ok = (|| {
            b.out_act = region(out_len)?;
            if !aliased {
                b.out_grad = region(out_len)?;
            }
            if b.needs_pre() {
                b.pre_act = region(out_len)?;
            }
            if let BlockKind::Norm(nb) = &b.kind {
                let (c, len) = (nb.c, nb.c * nb.h * nb.w);
                b.stat = region(2 * c)?;
                b.gstat = region(2 * c)?;
                b.dy = region(len)?;
            }
            Some(())
        })();
        if ok.is_none() {
            too_large("activations per sample");
            return None;
        }
    }
    // Wiring: aliased output gradients, then every input, residual input and added gradient.
    for i in 0..blocks.len() {
        if let Some(j) = blocks[i].grad_alias {
            blocks[i].out_grad = blocks[j].dy;
        }
    }
    for i in 0..blocks.len() {
        let src = blocks[i].input.resolve(i);
        blocks[i].in_act = src.map_or(input_act, |j| blocks[j].out_act);
        blocks[i].in_grad = src.map_or(0, |j| blocks[j].out_grad);
        if let Some(skip) = blocks[i].skip {
            blocks[i].skip_act = skip.resolve(i).map_or(input_act, |j| blocks[j].out_act);
        }
        if let Some(j) = blocks[i].skip_grad {
            blocks[i].skip_grad_off = blocks[j].dy;
        }
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
        let pooled = match &b.kind {
            BlockKind::Conv(c) => c.pool.is_some(),
            BlockKind::Norm(nb) => nb.pool.is_some(),
            _ => false,
        };
        if pooled {
            b.argmax = ix;
            let Some(end) = add(ix, b.out_len()) else {
                too_large("pool indices per sample");
                return None;
            };
            ix = end;
        }
    }

    let k = blocks.len();
    let is_norm = |i: usize| matches!(blocks[i].kind, BlockKind::Norm(_));
    // Blocks whose forward differs between training and eval mode get an eval kernel of
    // their own.
    let mode_dependent =
        |i: usize| matches!(blocks[i].kind, BlockKind::Norm(_) | BlockKind::Dropout(_));
    let kernel = |name: String, jobs: Vec<Job>| Kernel { name, jobs };
    let mut train = Vec::new();
    let mut eval = Vec::new();
    for (i, b) in blocks.iter().enumerate().take(k - 1) {
        let id = b.ident();
        if is_norm(i) {
            train.push(kernel(format!("stats_{id}"), vec![Job::Stats(i)]));
        }
        train.push(kernel(format!("forward_{id}"), vec![Job::Forward(i)]));
        let prefix = if mode_dependent(i) { "eval_" } else { "" };
        eval.push(kernel(
            format!("{prefix}forward_{id}"),
            vec![Job::Forward(i)],
        ));
    }
    let train_forward = train.len();
    let head = blocks[k - 1].ident();
    train.push(kernel(format!("head_{head}"), vec![Job::Head]));
    eval.push(kernel(format!("eval_head_{head}"), vec![Job::Head]));
    // Backward, from the block before the head down: each block's phases (a norm block's
    // `dy` and partial sums, then the input gradient unless it is the first block), with the
    // weight gradients (and update) of the block after it fused into the first kernel that
    // runs once that block's weights have been read for the last time.
    let mut pending: Vec<Job> = Vec::new();
    for j in (0..k - 1).rev() {
        if blocks[j + 1].has_params() {
            pending.push(Job::WeightGrad(j + 1));
        }
        let name = blocks[j].ident();
        let mut phases = Vec::new();
        if is_norm(j) {
            phases.push((format!("backward_{name}_stats"), Job::NormGrad(j)));
        }
        if blocks[j].needs_input_grad(j) {
            phases.push((format!("backward_{name}"), Job::InputGrad(j)));
        }
        for (kname, job) in phases {
            let mut jobs = vec![job];
            jobs.append(&mut pending);
            train.push(kernel(kname, jobs));
        }
    }
    if blocks[0].has_params() {
        pending.push(Job::WeightGrad(0));
    }
    if !pending.is_empty() {
        train.push(kernel("backward_update".into(), pending));
    }

    Some(Plan {
        blocks,
        train,
        train_forward,
        eval,
        num_bufs,
        min_train_batch,
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
            BlockKind::Norm(b) => b.c,
            BlockKind::Dropout(d) => d.len,
            BlockKind::AvgPool(a) => a.c,
        }
    }
}

/// A Dropout's comptime `(threshold, scale bits, salt)` for drop probability `p` and its
/// ordinal among the network's Dropouts (see `cubenet_kernels::dropout`): the threshold is
/// `floor(p * 2^32)`, the scale `1 / (1 - p)` computed in f64 and rounded to f32, the salt
/// `(ordinal + 1) * 0x9E3779B9` (wrapping).
pub fn dropout_fields(p: f32, ordinal: u32) -> (u32, u32, u32) {
    // The f64 the user wrote (`0.3`, not the f32 nearest to it), as PyTorch's Python float.
    let p: f64 = p.to_string().parse().unwrap_or(p as f64);
    let threshold = (p * 4294967296.0).floor().min(u32::MAX as f64) as u32;
    let scale = ((1.0 / (1.0 - p)) as f32).to_bits();
    (
        threshold,
        scale,
        ordinal.wrapping_add(1).wrapping_mul(0x9E37_79B9),
    )
}

/// Block indices in PyTorch's `state_dict` order (forward order, except inside a residual
/// block, whose projection shortcut comes last as in torchvision).
pub fn param_order(blocks: &[Block]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| blocks[i].rank);
    order
}

impl Block {
    /// The block's name as an identifier part (`layer1.conv1` -> `layer1_conv1`).
    pub fn ident(&self) -> String {
        self.name.replace('.', "_")
    }
}
