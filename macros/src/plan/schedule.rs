//! The kernels of one training step and of one evaluation, for blocks `B0 .. Bk-1` (`Bk-1`
//! is the head):
//! - forward: each block's forward phases (a BatchNorm's statistics, then its forward pass),
//!   one kernel each; the head kernel also computes the loss, d(logits) and the gradient
//!   with respect to its input;
//! - backward: for `j = k-2 .. 0`, block `j`'s backward phases (a BatchNorm's `dy` and
//!   partial sums, then its input gradient unless it reads the network input), the weight
//!   gradient (+ update) of block `j + 1` riding along with the first of them: block
//!   `j + 1`'s weights were last read by the kernel before, so updating them is safe; a last
//!   kernel runs what is still pending.
//!
//! LeNet-5 is `2k - 1` launches.
use super::{Job, Kernel};
use crate::layers::block::{Block, Phase};

/// The kernels of a training step and of an evaluation.
pub struct Schedule {
    pub train: Vec<Kernel>,
    /// How many of `train`'s kernels are the forward pass (before the head).
    pub train_forward: usize,
    pub eval: Vec<Kernel>,
}

/// The schedule of `blocks` (at least one; the last is the head).
pub fn kernels(blocks: &[Block]) -> Schedule {
    let k = blocks.len();
    let kernel = |name: String, jobs: Vec<Job>| Kernel { name, jobs };
    let mut train = Vec::new();
    let mut eval = Vec::new();
    for (i, b) in blocks.iter().enumerate().take(k - 1) {
        let id = b.ident();
        for &phase in b.op.forward_phases() {
            train.push(kernel(phase.kernel_name(&id), vec![Job::Block(i, phase)]));
        }
        // Blocks whose forward differs between training and eval mode get an eval kernel of
        // their own.
        let prefix = if b.op.mode_dependent() { "eval_" } else { "" };
        let name = format!("{prefix}{}", Phase::Forward.kernel_name(&id));
        eval.push(kernel(name, vec![Job::Block(i, Phase::Forward)]));
    }
    let train_forward = train.len();
    let head = blocks[k - 1].ident();
    train.push(kernel(format!("head_{head}"), vec![Job::Head]));
    eval.push(kernel(format!("eval_head_{head}"), vec![Job::Head]));
    let mut pending: Vec<Job> = Vec::new();
    let weight_grad = |i: usize| {
        blocks[i]
            .op
            .params()
            .map(|_| Job::Block(i, Phase::WeightGrad))
    };
    for j in (0..k - 1).rev() {
        pending.extend(weight_grad(j + 1));
        let b = &blocks[j];
        let id = b.ident();
        let input_grad = b.needs_input_grad(j).then_some(Phase::InputGrad);
        for &phase in b.op.backward_phases().iter().chain(&input_grad) {
            let mut jobs = vec![Job::Block(j, phase)];
            jobs.append(&mut pending);
            train.push(kernel(phase.kernel_name(&id), jobs));
        }
    }
    pending.extend(weight_grad(0));
    if !pending.is_empty() {
        train.push(kernel("backward_update".into(), pending));
    }
    Schedule {
        train,
        train_forward,
        eval,
    }
}
