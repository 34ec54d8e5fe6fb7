//! The fusion plan: the layers lowered to blocks (each kind's [`crate::layers::Layer::lower`]),
//! the arenas' layout ([`arena`]) and the kernels of a training step and of an evaluation
//! ([`schedule`]).
use proc_macro2::Span;

use crate::errors::Errors;
use crate::ir::LossDecl;
use crate::layers::block::{Block, Phase};
use crate::layers::{At, LayerType, Lowering, NetDecl};
use crate::shape::Shaped;

pub mod arena;
pub mod schedule;

/// One work item of a fused kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// A phase of block `.0`.
    Block(usize, Phase),
    /// The head: the last linear layer with softmax cross-entropy, its loss, d(logits) and
    /// (training) the gradient flowing into the layer before.
    Head,
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
    /// Floats of the `part` arena: `part_a * cap + part_b`.
    pub part_a: usize,
    pub part_b: usize,
    pub acts_per_sample: usize,
    pub idx_per_sample: usize,
    pub input_act: usize,
    pub loss_act: usize,
    /// Per-sample offset of a value loss's f32 targets (`classes` floats).
    pub target_act: usize,
    /// The training objective.
    pub loss: LossDecl,
    pub label_idx: usize,
    pub correct_idx: usize,
    pub classes: usize,
    /// `[C, H, W]` of one input sample.
    pub input_shape: [usize; 3],
}

/// Groups the shaped layers into blocks and lays out the buffers. Runs only on a network
/// without errors (so `None` is an internal error), except that a network whose buffers
/// exceed [`crate::shape::MAX_LEN`] is reported here.
pub fn plan(
    decl: &NetDecl,
    shapes: &[Option<Shaped>],
    struct_span: Span,
    errors: &mut Errors,
) -> Option<Plan> {
    let mut lw = Lowering::default();
    for (index, (layer, shaped)) in decl.layers.iter().zip(shapes).enumerate() {
        let at = At {
            name: layer.name.to_string(),
            index,
            shaped: shaped.as_ref()?,
        };
        // `order::check` has rejected every sequence that does not lower.
        layer.kind.layer().ok()?.lower(&at, &mut lw)?;
    }
    let mut blocks = lw.blocks;
    // `order::check` has made sure the network ends with a Linear without activation.
    let last = blocks.last()?;
    if last.op.act().is_some()
        || decl.layers.last()?.kind.ty() != Some(LayerType::Linear)
        || last.op.params().is_none()
    {
        return None;
    }
    let classes = last.op.out_len();
    let input_shape = decl.attr.input.map(|d| d.value);
    let loss = decl.attr.loss;
    let targets = if loss.takes_values() { classes } else { 0 };
    let layout = arena::lay_out(&mut blocks, input_shape, targets, struct_span, errors)?;
    let schedule = schedule::kernels(&blocks);
    Some(Plan {
        train: schedule.train,
        train_forward: schedule.train_forward,
        eval: schedule.eval,
        num_bufs: layout.num_bufs,
        min_train_batch: blocks
            .iter()
            .map(|b| b.op.min_train_batch())
            .max()
            .unwrap_or(1),
        num_params: layout.num_params,
        part_a: layout.part_a,
        part_b: layout.part_b,
        acts_per_sample: layout.acts_per_sample,
        idx_per_sample: layout.idx_per_sample,
        input_act: layout.input_act,
        loss_act: layout.loss_act,
        target_act: layout.target_act,
        loss,
        label_idx: layout.label_idx,
        correct_idx: layout.correct_idx,
        classes,
        input_shape,
        blocks,
    })
}

/// Block indices in PyTorch's `state_dict` order (forward order, except inside a residual
/// block, whose projection shortcut comes last as in torchvision).
pub fn param_order(blocks: &[Block]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| blocks[i].rank);
    order
}
