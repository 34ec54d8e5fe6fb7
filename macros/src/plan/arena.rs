//! The arenas' layout: every parameter in `state_dict` order, the running statistics, and
//! per sample every block's output, output gradient and scratch regions (`acts`), the labels,
//! correctness flags and max-pool argmaxes (`idx`); then the wiring of each block's inputs
//! to the regions that hold them. See `cubenet_kernels`' crate docs for how kernels index them.
use proc_macro2::Span;

use super::param_order;
use crate::errors::Errors;
use crate::layers::block::Block;
use crate::shape::MAX_LEN;

/// The arena sizes and the network-level offsets.
pub struct Arenas {
    pub num_params: usize,
    /// Floats of the `part` arena (weight-gradient partial sums): `part_a * cap + part_b`.
    pub part_a: usize,
    pub part_b: usize,
    pub num_bufs: usize,
    pub acts_per_sample: usize,
    pub idx_per_sample: usize,
    pub input_act: usize,
    pub loss_act: usize,
    /// Per-sample offset of a value loss's targets (`classes` floats; unused otherwise).
    pub target_act: usize,
    pub label_idx: usize,
    pub correct_idx: usize,
}

/// Sums that stay within 32-bit offsets.
fn add(a: usize, b: usize) -> Option<usize> {
    a.checked_add(b).filter(|&s| s <= MAX_LEN)
}

/// Assigns every block its offsets; reports (on the struct) arenas beyond [`MAX_LEN`].
pub fn lay_out(
    blocks: &mut [Block],
    input_shape: [usize; 3],
    targets: usize,
    struct_span: Span,
    errors: &mut Errors,
) -> Option<Arenas> {
    // Checked sums: every term is at most `shape::MAX_LEN`, so only the totals can overflow.
    let mut too_large = |what: &str| {
        errors.push(struct_span, format!("the network is too large: its {what} exceed the {MAX_LEN} values a buffer may hold (32-bit offsets)"));
        None
    };
    let order = param_order(blocks);

    // Parameter arena, in state_dict order (`rank`); blocks without parameters take none.
    let mut off = 0usize;
    for &i in &order {
        let b = &mut blocks[i];
        b.w_off = off;
        b.b_off = off;
        let Some(p) = b.op.params() else { continue };
        let Some(end) = add(off, p.weight.iter().product::<usize>()) else {
            return too_large("parameters");
        };
        off = end;
        b.b_off = off;
        if let Some(len) = p.bias {
            let Some(end) = add(off, len) else {
                return too_large("parameters");
            };
            off = end;
        }
    }
    let num_params = off;

    // Buffer arena: each norm block's running mean, then running variance.
    let mut num_bufs = 0usize;
    for &i in &order {
        let b = &mut blocks[i];
        if let Some(c) = b.op.running_stats() {
            b.rm_off = num_bufs;
            b.rv_off = num_bufs + c;
            num_bufs += 2 * c;
        }
    }

    // acts arena (per-sample offsets): input, then for each block its output and output grad
    // (and, when needed, its pre-activation and its scratch regions).
    let input_act = 0;
    let mut a = input_shape.iter().product::<usize>();
    for b in blocks.iter_mut() {
        let mut region = |len: usize| -> Option<usize> {
            let at = a;
            a = add(a, len)?;
            Some(at)
        };
        let out_len = b.op.out_len();
        let scratch = b.op.scratch();
        let ok = (|| {
            b.out_act = region(out_len)?;
            if b.grad_alias.is_none() {
                b.out_grad = region(out_len)?;
            }
            if b.op.needs_pre() {
                b.pre_act = region(out_len)?;
            }
            if scratch.stat + scratch.gstat + scratch.dy > 0 {
                b.stat = region(scratch.stat)?;
                b.gstat = region(scratch.gstat)?;
                b.dy = region(scratch.dy)?;
            }
            if scratch.dconv > 0 {
                b.dconv = region(scratch.dconv)?;
            }
            Some(())
        })();
        if ok.is_none() {
            return too_large("activations per sample");
        }
    }
    wire(blocks, input_act);
    let loss_act = a;
    // A value loss's f32 targets (`targets` floats) after the per-row loss.
    let target_act = a + 1;
    let Some(acts_per_sample) = add(a, 1 + targets) else {
        return too_large("activations per sample");
    };

    // idx arena: label, correct flag, then pool argmaxes.
    let (label_idx, correct_idx) = (0, 1);
    let mut ix = 2usize;
    for b in blocks.iter_mut() {
        if b.op.pooled() {
            b.argmax = ix;
            let Some(end) = add(ix, b.op.out_len()) else {
                return too_large("pool indices per sample");
            };
            ix = end;
        }
    }
    // part arena: each block's weight-gradient partial sums, `a * cap + b` floats.
    let (mut part_a, mut part_b) = (0usize, 0usize);
    for b in blocks.iter_mut() {
        let (a, c) = b.op.part_len();
        b.part_a = part_a;
        b.part_b = part_b;
        let (Some(na), Some(nb)) = (add(part_a, a), add(part_b, c)) else {
            return too_large("weight-gradient partial sums per sample");
        };
        (part_a, part_b) = (na, nb);
    }
    Some(Arenas {
        num_params,
        part_a,
        part_b,
        num_bufs,
        acts_per_sample,
        idx_per_sample: ix,
        input_act,
        loss_act,
        target_act,
        label_idx,
        correct_idx,
    })
}

/// Aliased output gradients, then every input, residual input and added gradient.
fn wire(blocks: &mut [Block], input_act: usize) {
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
}
