//! One optimiser step on the device: the kernel arguments of the fused SGD update
//! ([`StepArgs`]), the separate update passes (Adam / AdamW and SGD after gradient clipping),
//! the device-side finite check of the gradients and the step logic that chooses between
//! them.
use cubecl::prelude::*;
use cubenet_kernels::SgdFlags;

use crate::error::Result;
use crate::layout::Layout;
use crate::optim::{clip_coefficient, Adam, Optimizer, Sgd};
use crate::state::{AdamState, NetState};
use crate::targets::BatchTargets;

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

impl NetState {
    /// Checks the gradient arena on the device for NaN and infinities: one
    /// [`flag_non_finite`](cubenet_kernels::finite::flag_non_finite()) launch with a new stamp,
    /// which it returns. The flag (read by `read_losses_and_flag`) equals the stamp after the
    /// launch if and only if some gradient is not finite.
    pub(crate) fn launch_finite_check(&mut self) -> u32 {
        let mut stamp = self.finite_stamp.wrapping_add(1);
        if stamp == 0 {
            // 2^32 checks: clear the flag so that an old stamp cannot match again.
            self.client().write(
                &self.finite_flag,
                cubecl::bytes::Bytes::from_bytes_vec(u32::as_bytes(&[0u32]).to_vec()),
            );
            stamp = 1;
        }
        self.finite_stamp = stamp;
        let np = self.layout().num_params.max(1);
        let len = self.layout().num_params;
        let units = cubenet_kernels::finite::pass_units(len);
        let (count, dim) = self.grid(units);
        self.before_launch();
        // SAFETY: the gradient arena holds `np >= len` 4-byte values (read as their bits) and
        // the flag one u32; the kernel touches indices < len and flag[0].
        unsafe {
            cubenet_kernels::finite::flag_non_finite::launch_unchecked(
                self.client(),
                count,
                dim,
                BufferArg::from_raw_parts(self.grads.clone(), np),
                BufferArg::from_raw_parts(self.finite_flag.clone(), 1),
                len,
                units,
                stamp,
            );
        }
        self.after_launch("flag_non_finite");
        stamp
    }
}

/// What [`step_checked`] found: the mean loss, the gradients when the step read them back
/// (clipping; before the clip) and whether every gradient is finite.
pub(crate) struct CheckedStep {
    /// Mean loss of the batch.
    pub(crate) loss: f32,
    /// The gradients read back for clipping (before the clip), else `None`.
    pub(crate) grads: Option<Vec<f32>>,
    /// Whether every gradient of the step is finite.
    pub(crate) grads_finite: bool,
}

/// [`step_unchecked`] that also checks the step's gradients for NaN and infinities, reading
/// back nothing but the per-sample losses and the flag of the device-side check (one read),
/// or, when clipping, the gradients it reads anyway (checked on the host) and the losses.
/// The gradients are checked as the weight-gradient kernels stored them, before any separate
/// update pass (which, with clipping, scales them).
pub(crate) fn step_checked(
    state: &mut NetState,
    layout: &Layout,
    launch_train: impl Fn(&NetState, usize, StepArgs),
    images: &[f32],
    targets: BatchTargets<'_>,
    optimizer: &Optimizer,
    clip_grad_norm: Option<f32>,
) -> Result<CheckedStep> {
    step_inner(
        state,
        layout,
        launch_train,
        images,
        targets,
        optimizer,
        clip_grad_norm,
        true,
    )
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
    targets: BatchTargets<'_>,
    optimizer: &Optimizer,
    clip_grad_norm: Option<f32>,
) -> Result<(f32, Option<Vec<f32>>)> {
    let step = step_inner(
        state,
        layout,
        launch_train,
        images,
        targets,
        optimizer,
        clip_grad_norm,
        false,
    )?;
    Ok((step.loss, step.grads))
}

/// The step of [`step_unchecked`] and, with `check`, [`step_checked`]. Without `check`,
/// `grads_finite` is `true` (nothing was checked).
#[allow(clippy::too_many_arguments)]
fn step_inner(
    state: &mut NetState,
    layout: &Layout,
    launch_train: impl Fn(&NetState, usize, StepArgs),
    images: &[f32],
    targets: BatchTargets<'_>,
    optimizer: &Optimizer,
    clip_grad_norm: Option<f32>,
    check: bool,
) -> Result<CheckedStep> {
    state.require_training()?;
    let n = state.upload(images, Some(targets))?;
    state.begin_forward(n)?;
    let mut grads = None;
    // The stamp of the device-side finite check, when one was launched.
    let mut stamp = None;
    match (optimizer, clip_grad_norm) {
        // The update fused into the weight-gradient kernels.
        (Optimizer::Sgd(sgd), None) => {
            let args = state.step_args(sgd);
            state.launch_step(n, args, &launch_train)?;
            if check {
                stamp = Some(state.launch_finite_check());
            }
        }
        // Gradients first, then one update pass over the arena.
        _ => {
            state.launch_step(n, StepArgs::NO_UPDATE, &launch_train)?;
            let scale = match clip_grad_norm {
                Some(max_norm) => {
                    let g = state.read_grads()?;
                    let (_, coef) = clip_coefficient(&g, layout.params, max_norm);
                    grads = Some(g);
                    coef
                }
                None => {
                    if check {
                        stamp = Some(state.launch_finite_check());
                    }
                    1.0
                }
            };
            match optimizer {
                Optimizer::Sgd(sgd) => state.launch_sgd_pass(sgd, scale),
                Optimizer::Adam(adam) => state.launch_adam(adam, scale),
            }
        }
    }
    state.finish_step();
    let (losses, grads_finite) = match stamp {
        Some(stamp) => {
            let (losses, flag) = state.read_losses_and_flag(layout.loss_act, n, "training step")?;
            (losses, flag != stamp)
        }
        None => {
            let losses = state.read_acts(layout.loss_act, 1, n, "training step")?;
            let finite = !check || grads.iter().flatten().all(|g| g.is_finite());
            (losses, finite)
        }
    };
    Ok(CheckedStep {
        loss: mean_in_order(&losses),
        grads,
        grads_finite,
    })
}

/// Mean of `v` accumulated in f64 in index order (deterministic).
pub fn mean_in_order(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64) as f32
}
