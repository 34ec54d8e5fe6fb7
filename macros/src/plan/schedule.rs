//! The kernels of one training step and of one evaluation, for blocks `B0 .. Bk-1` (`Bk-1`
//! is the head). Kernels run in order; a kernel's units run in any order, so a job goes in
//! the first kernel after everything it reads has been written:
//! - forward: each block's forward phases (a BatchNorm's statistics, then its forward pass;
//!   a split-K linear's partial sums, then their sums), one kernel each; the head kernel also computes the loss, d(logits) and the gradient
//!   with respect to its input;
//! - backward, from block `k-2` down to block 0: each block's backward phases (a BatchNorm's
//!   `dy` and partial sums, a conv's d(conv output)), then its input gradient unless it reads
//!   the network input, one kernel each;
//! - a block's weight gradient: with a split reduction, the partial sums as soon as its
//!   output gradient is complete (usually beside its input gradient), and the final sums
//!   with the optimizer update in the first kernel after both the partial sums and the last
//!   read of its weights; these jobs ride along with the kernels above, and a last kernel
//!   or two run what is still pending.
use super::{Job, Kernel};
use crate::layers::block::{Block, Phase};

/// The kernels of a training step and of an evaluation.
pub struct Schedule {
    pub train: Vec<Kernel>,
    /// How many of `train`'s kernels are the forward pass (before the head).
    pub train_forward: usize,
    pub eval: Vec<Kernel>,
}

/// A job waiting for its earliest kernel; `then`: a job that may run only in a later kernel
/// than this one (and not before its own earliest).
struct Deferred {
    earliest: usize,
    job: Job,
    then: Option<(usize, Job)>,
}

/// The training kernels being built.
#[derive(Default)]
struct Builder {
    kernels: Vec<Kernel>,
    deferred: Vec<Deferred>,
}

impl Builder {
    /// Index of the next kernel.
    fn next(&self) -> usize {
        self.kernels.len()
    }
    /// Emits a kernel of `jobs` and whatever deferred job may run in it.
    fn emit(&mut self, name: String, mut jobs: Vec<Job>) {
        let at = self.next();
        let mut i = 0;
        while i < self.deferred.len() {
            if self.deferred[i].earliest <= at {
                let d = self.deferred.remove(i);
                jobs.push(d.job);
                if let Some((earliest, job)) = d.then {
                    self.deferred.push(Deferred {
                        earliest: earliest.max(at + 1),
                        job,
                        then: None,
                    });
                }
            } else {
                i += 1;
            }
        }
        self.kernels.push(Kernel { name, jobs });
    }
    /// Runs `job` in kernel `at` (already emitted, or the next), then `then` after it.
    fn place(&mut self, at: usize, job: Job, then: Option<(usize, Job)>) {
        if at < self.next() {
            self.kernels[at].jobs.push(job);
            if let Some((earliest, j)) = then {
                self.deferred.push(Deferred {
                    earliest: earliest.max(at + 1),
                    job: j,
                    then: None,
                });
            }
        } else {
            self.deferred.push(Deferred {
                earliest: at,
                job,
                then,
            });
        }
    }
}

/// The schedule of `blocks` (at least one; the last is the head).
pub fn kernels(blocks: &[Block]) -> Schedule {
    let k = blocks.len();
    let mut b = Builder::default();
    let mut eval = Vec::new();
    for (i, block) in blocks.iter().enumerate().take(k - 1) {
        let id = block.ident();
        for &phase in block.op.forward_phases() {
            b.emit(phase.kernel_name(&id), vec![Job::Block(i, phase)]);
        }
        // Blocks whose forward differs between training and eval mode get an eval kernel of
        // their own.
        let prefix = if block.op.mode_dependent() {
            "eval_"
        } else {
            ""
        };
        for &phase in block.op.forward_phases() {
            if phase != Phase::Stats {
                eval.push(Kernel {
                    name: format!("{prefix}{}", phase.kernel_name(&id)),
                    jobs: vec![Job::Block(i, phase)],
                });
            }
        }
    }
    let train_forward = b.next();
    let head = blocks[k - 1].ident();
    let head_kernel = b.next();
    b.emit(format!("head_{head}"), vec![Job::Head]);
    eval.push(Kernel {
        name: format!("eval_head_{head}"),
        jobs: vec![Job::Head],
    });
    for j in (0..k).rev() {
        let block = &blocks[j];
        let id = block.ident();
        // After which kernel the block's gradient source is complete, and the last kernel
        // reading its weights.
        let (mut grad_ready, mut last_read) = (b.next(), None);
        if j + 1 == k {
            grad_ready = head_kernel + 1;
            last_read = Some(head_kernel);
        } else {
            for phase in block.op.backward_phases() {
                b.emit(phase.kernel_name(&id), vec![Job::Block(j, phase)]);
                grad_ready = b.next();
                last_read = Some(b.next() - 1);
            }
            if block.needs_input_grad(j) {
                b.emit(
                    Phase::InputGrad.kernel_name(&id),
                    vec![Job::Block(j, Phase::InputGrad)],
                );
                last_read = Some(b.next() - 1);
            }
        }
        if block.op.params().is_none() {
            continue;
        }
        let after_read = last_read.map_or(0, |r| r + 1);
        let grad = Job::Block(j, Phase::WeightGrad);
        if block.op.split_weight_grad() {
            // The partial sums read the gradient source; the final sums read the partial
            // sums and (through the update) overwrite the weights.
            b.place(
                grad_ready,
                Job::Block(j, Phase::WeightPartial),
                Some((after_read, grad)),
            );
        } else {
            b.place(grad_ready.max(after_read), grad, None);
        }
    }
    let mut extra = 0;
    while !b.deferred.is_empty() {
        extra += 1;
        let name = if extra == 1 {
            "backward_update".to_string()
        } else {
            format!("backward_update_{extra}")
        };
        b.emit(name, Vec::new());
    }
    Schedule {
        train: b.kernels,
        train_forward,
        eval,
    }
}
