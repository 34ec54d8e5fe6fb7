//! One optimiser step on the device: the kernel arguments of the fused SGD update
//! ([`StepArgs`]), the separate update passes (Adam / AdamW and SGD after gradient clipping)
//! and the step logic that chooses between them.
use cubecl::prelude::*;
use cubenet_kernels::SgdFlags;

use crate::error::Result;
use crate::layout::Layout;
use crate::optim::{clip_coefficient, Adam, Optimizer, Sgd};
use crate::state::{AdamState, NetState};

/// Run-time values passed to the parameter-updating kernels of one step.
#[derive(Clone, Copy, Debug)]
pub struct StepArgs {
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// Dampening.
    pub dampening: f32,
    /// Weight decay.
    pub weight_decay: f32,
    /// [`SgdFlags`] bits.
    pub flags: u32,
}

impl StepArgs {
    /// Compute and store the gradients, leave the parameters unchanged
    /// ([`SgdFlags::NO_UPDATE`]).
    pub const NO_UPDATE: StepArgs = StepArgs {
        lr: 0.0,
        momentum: 0.0,
        dampening: 0.0,
        weight_decay: 0.0,
        flags: SgdFlags::NO_UPDATE,
    };
}

impl NetState {
    /// The run-time kernel arguments for one optimiser step with `sgd`.
    pub fn step_args(&self, sgd: &Sgd) -> StepArgs {
        let mut flags = 0;
        if self.steps() == 0 {
            flags |= SgdFlags::FIRST_STEP;
        }
        if sgd.nesterov {
            flags |= SgdFlags::NESTEROV;
        }
        StepArgs {
            lr: sgd.lr,
            momentum: sgd.momentum,
            dampening: sgd.dampening,
            weight_decay: sgd.weight_decay,
            flags,
        }
    }

    /// One Adam / AdamW step on the stored gradients times `grad_scale` (one
    /// [`adam_update`](cubenet_kernels::adam::adam_update()) launch over the arena); allocates
    /// the zeroed moments on the first call.
    pub fn launch_adam(&mut self, adam: &Adam, grad_scale: f32) {
        let np = self.layout().num_params.max(1);
        if self.adam.is_none() {
            let zeros = vec![0f32; np];
            self.adam = Some(AdamState {
                exp_avg: self.client().create_from_slice(f32::as_bytes(&zeros)),
                exp_avg_sq: self.client().create_from_slice(f32::as_bytes(&zeros)),
                step: 0,
            });
        }
        let state = self.adam.as_mut().expect("allocated above");
        state.step += 1;
        let s = adam.scalars(state.step, grad_scale);
        let len = self.layout().num_params;
        let units = cubenet_kernels::adam::pass_units(len);
        let (count, dim) = self.grid(units);
        let state = self.adam.as_ref().expect("allocated above");
        self.before_launch();
        // SAFETY: every arena holds `np >= len` floats and the kernel touches indices < len.
        unsafe {
            cubenet_kernels::adam::adam_update::launch_unchecked(
                self.client(),
                count,
                dim,
                BufferArg::from_raw_parts(self.params.clone(), np),
                BufferArg::from_raw_parts(self.grads.clone(), np),
                BufferArg::from_raw_parts(state.exp_avg.clone(), np),
                BufferArg::from_raw_parts(state.exp_avg_sq.clone(), np),
                len,
                units,
                s.grad_scale,
                s.weight_decay,
                s.decay_factor,
                s.lerp_weight,
                s.beta2,
                s.one_minus_beta2,
                s.neg_step_size,
                s.bias_correction2_sqrt,
                s.eps,
                s.flags,
            );
        }
        self.after_launch("adam_update");
    }

    /// One SGD step on the stored gradients times `grad_scale`, as a separate pass
    /// ([`sgd_pass`](cubenet_kernels::adam::sgd_pass())) with the same per-element update as the
    /// fused one.
    pub fn launch_sgd_pass(&self, sgd: &Sgd, grad_scale: f32) {
        let np = self.layout().num_params.max(1);
        let a = self.step_args(sgd);
        let len = self.layout().num_params;
        let units = cubenet_kernels::adam::pass_units(len);
        let (count, dim) = self.grid(units);
        self.before_launch();
        // SAFETY: every arena holds `np >= len` floats and the kernel touches indices < len.
        unsafe {
            cubenet_kernels::adam::sgd_pass::launch_unchecked(
                self.client(),
                count,
                dim,
                BufferArg::from_raw_parts(self.params.clone(), np),
                BufferArg::from_raw_parts(self.velocity.clone(), np),
                BufferArg::from_raw_parts(self.grads.clone(), np),
                len,
                units,
                grad_scale,
                a.lr,
                a.momentum,
                a.dampening,
                a.weight_decay,
                a.flags,
            );
        }
        self.after_launch("sgd_pass");
    }
}

/// [`Network::train_step_with`](crate::Network::train_step_with) without validating
/// `optimizer` (the trainer validates the base configuration once; a schedule may then reach a
/// learning rate of 0), on the network's `state` and `layout`, whose training kernels
/// `launch_train` launches ([`Network::launch_train`](crate::Network::launch_train)). Returns
/// the mean loss and, when clipping, the gradients it read back for the norm (before
/// clipping), so that the caller need not read them again.
pub(crate) fn step_unchecked(
    state: &mut NetState,
    layout: &Layout,
    launch_train: impl Fn(&NetState, usize, StepArgs),
    images: &[f32],
    labels: &[u32],
    optimizer: &Optimizer,
    clip_grad_norm: Option<f32>,
) -> Result<(f32, Option<Vec<f32>>)> {
    state.require_training()?;
    let n = state.upload(images, Some(labels))?;
    state.begin_forward(n)?;
    let mut grads = None;
    match (optimizer, clip_grad_norm) {
        // The update fused into the weight-gradient kernels.
        (Optimizer::Sgd(sgd), None) => {
            let args = state.step_args(sgd);
            launch_train(state, n, args);
        }
        // Gradients first, then one update pass over the arena.
        _ => {
            launch_train(state, n, StepArgs::NO_UPDATE);
            let scale = match clip_grad_norm {
                Some(max_norm) => {
                    let g = state.read_grads()?;
                    let (_, coef) = clip_coefficient(&g, layout.params, max_norm);
                    grads = Some(g);
                    coef
                }
                None => 1.0,
            };
            match optimizer {
                Optimizer::Sgd(sgd) => state.launch_sgd_pass(sgd, scale),
                Optimizer::Adam(adam) => state.launch_adam(adam, scale),
            }
        }
    }
    state.finish_step();
    let losses = state.read_acts(layout.loss_act, 1, n, "training step")?;
    Ok((mean_in_order(&losses), grads))
}

/// Mean of `v` accumulated in f64 in index order (deterministic).
pub fn mean_in_order(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64) as f32
}
