//! The [`Network`] trait that `#[network]` implements: the generated layout and kernel
//! launches, and the provided methods that are the public API of a compiled network
//! (training steps, evaluation, inference, mode, `state_dict`).
use crate::device::{check_loop_limit, Device};
use crate::error::Result;
use crate::infer;
use crate::layout::Layout;
use crate::optim::step::{mean_in_order, step_unchecked, StepArgs};
use crate::optim::{validate_clip, Optimizer, Sgd};
use crate::plan::KernelPlan;
use crate::state::NetState;
use crate::state_dict::{self, NamedTensor};
use crate::targets::BatchTargets;

/// A network compiled by `#[network]`: its layout, its kernels, and the operations a trainer
/// needs. The required items are generated; the provided methods are the public API.
pub trait Network: Sized {
    /// Where every tensor lives.
    const LAYOUT: Layout;
    /// Kernel launches of one training step (forward, loss, backward and update).
    const KERNELS_PER_STEP: usize;
    /// Kernel launches of one evaluation batch.
    const KERNELS_PER_EVAL: usize;
    /// Multiply-adds of one training step per sample (forward + backward).
    const MACS_PER_SAMPLE: usize;
    /// Human-readable shapes and fusion plan.
    const SUMMARY: &'static str;

    /// Wraps device state (generated).
    fn from_state(state: NetState) -> Self;
    /// The device state.
    fn state(&self) -> &NetState;
    /// The device state, mutably.
    fn state_mut(&mut self) -> &mut NetState;
    /// The names of the training step's kernels, in launch order (`forward_conv1`, …,
    /// `backward_update`); `TRAIN_KERNELS.len() == KERNELS_PER_STEP`.
    const TRAIN_KERNELS: &'static [&'static str];
    /// Launches kernel `kernel` (an index into [`Network::TRAIN_KERNELS`]; others launch
    /// nothing) of one training step on a batch of `n` already uploaded (generated). Each
    /// kernel reads what the earlier ones wrote, so launching one alone is meaningful only after
    /// a whole step has run (benchmarks use it to time each kernel).
    fn launch_train_kernel(state: &NetState, n: usize, args: StepArgs, kernel: usize);
    /// Launches the kernels of one training step on a batch of `n` already uploaded.
    fn launch_train(state: &NetState, n: usize, args: StepArgs) {
        for kernel in 0..Self::TRAIN_KERNELS.len() {
            Self::launch_train_kernel(state, n, args, kernel);
        }
    }
    /// Launches the kernels of the forward pass plus loss and correctness flags, without
    /// gradients (generated).
    fn launch_eval(state: &NetState, n: usize);
    /// The launch plan of the training step (`train`) or of an evaluation batch for a batch
    /// of `n` on target `target` (a [`Target`](crate::device::Target) as `usize`): per
    /// kernel, in launch order, its units, the longest loop of one unit and its
    /// multiply-adds (generated).
    fn kernel_plan(n: usize, train: bool, target: usize) -> Vec<KernelPlan>;
    /// Upper bound on the loop iterations one shader invocation of the training (`train`) or
    /// evaluation kernels runs for a batch of `n` on target `target`, and which job runs them
    /// (see [`cubenet_kernels::LOOP_LIMIT`]).
    fn max_loop_iterations(n: usize, train: bool, target: usize) -> (usize, &'static str) {
        crate::plan::longest_loop(&Self::kernel_plan(n, train, target))
    }
    /// The `--plan` table: every training kernel's units and longest loop per unit on each
    /// target row, at a batch of `n`.
    fn plan_table(n: usize) -> String {
        let plans: Vec<Vec<KernelPlan>> = crate::device::Target::ALL
            .iter()
            .map(|&t| Self::kernel_plan(n, true, t as usize))
            .collect();
        crate::plan::table(n, &plans)
    }

    /// Allocates the network on `device` for batches of up to `batch_size` samples, with
    /// PyTorch's default initialisation drawn from `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] for `batch_size == 0`; [`Error::Device`] when the device cannot run
    /// the network's kernels correctly (Mesa's lavapipe and a kernel whose loops exceed
    /// [`cubenet_kernels::LOOP_LIMIT`]: the message names the layer and the largest batch
    /// size that fits).
    ///
    /// [`Error::Config`]: crate::Error::Config
    /// [`Error::Device`]: crate::Error::Device
    fn new(device: &Device, batch_size: usize, seed: u64) -> Result<Self> {
        let client = crate::device::client(device)?;
        check_loop_limit(
            &client.properties().identity.name,
            batch_size,
            crate::device::target(&client),
            Self::max_loop_iterations,
        )?;
        Ok(Self::from_state(NetState::new(
            client,
            Self::LAYOUT,
            batch_size,
            seed,
        )?))
    }

    /// One training step on `images` (`n x C x H x W`, normalised) and `targets` (`n` class
    /// indices as `&[u32]`, or `n x classes` f32 values as `&[f32]` for `loss = mse` /
    /// `bce_with_logits`; see [`BatchTargets`]): forward, the loss (mean, as PyTorch's), backward,
    /// SGD update. Returns the mean loss of the batch (before the update).
    ///
    /// # Errors
    /// Shape, label and target errors ([`NetState::upload`]), invalid `sgd` values, kernel
    /// errors.
    fn train_step<'t>(
        &mut self,
        images: &[f32],
        targets: impl Into<BatchTargets<'t>>,
        sgd: &Sgd,
    ) -> Result<f32> {
        sgd.validate()?;
        Ok(step_unchecked(
            self.state_mut(),
            &Self::LAYOUT,
            Self::launch_train,
            images,
            targets.into(),
            &Optimizer::Sgd(*sgd),
            None,
        )?
        .0)
    }

    /// One training step with any [`Optimizer`] and optional gradient clipping by global L2
    /// norm (`torch.nn.utils.clip_grad_norm_(params, max_norm)` before `optimizer.step()`).
    /// Returns the mean loss of the batch (before the update).
    ///
    /// SGD without clipping is [`Network::train_step`] (the update fused into the
    /// weight-gradient kernels). Otherwise the step computes the gradients
    /// ([`SgdFlags::NO_UPDATE`]), reads them back for the norm when clipping, and runs one
    /// update pass over the whole parameter arena.
    ///
    /// # Errors
    /// As [`Network::train_step`]; [`Error::Config`] for invalid optimizer values or a
    /// `clip_grad_norm` that is not a finite number > 0.
    ///
    /// [`SgdFlags::NO_UPDATE`]: cubenet_kernels::SgdFlags::NO_UPDATE
    /// [`Error::Config`]: crate::Error::Config
    fn train_step_with<'t>(
        &mut self,
        images: &[f32],
        targets: impl Into<BatchTargets<'t>>,
        optimizer: &Optimizer,
        clip_grad_norm: Option<f32>,
    ) -> Result<f32> {
        optimizer.validate()?;
        validate_clip(clip_grad_norm)?;
        Ok(step_unchecked(
            self.state_mut(),
            &Self::LAYOUT,
            Self::launch_train,
            images,
            targets.into(),
            optimizer,
            clip_grad_norm,
        )?
        .0)
    }

    /// Computes the gradients of the mean loss on a batch without updating the parameters
    /// (read them with [`NetState::read_grads`]). Returns the mean loss.
    fn compute_gradients<'t>(
        &mut self,
        images: &[f32],
        targets: impl Into<BatchTargets<'t>>,
    ) -> Result<f32> {
        self.state().require_training()?;
        let n = self.state().upload(images, Some(targets.into()))?;
        self.state_mut().begin_forward(n)?;
        Self::launch_train(self.state(), n, StepArgs::NO_UPDATE);
        let losses = self
            .state()
            .read_acts(Self::LAYOUT.loss_act, 1, n, "gradient computation")?;
        Ok(mean_in_order(&losses))
    }

    /// Evaluates a batch against its targets: returns (the correct count, the sum of the
    /// per-row losses). The count is, for cross-entropy, the rows whose argmax output is the
    /// label; for BCE with logits, the outputs whose sign agrees with `target > 0.5`
    /// (`n x classes` of them); for MSE, 0. The per-row loss of MSE and BCE is the row's mean.
    ///
    /// Any number of rows: more than the capacity are evaluated in chunks of the capacity, in
    /// order (in training mode a BatchNorm then normalises each chunk with its own batch
    /// statistics, as PyTorch would on each chunk; use [`Network::eval`] for inference).
    ///
    /// # Errors
    /// As [`NetState::upload`] (the targets are checked whole first).
    fn evaluate<'t>(
        &mut self,
        images: &[f32],
        targets: impl Into<BatchTargets<'t>>,
    ) -> Result<(usize, f64)> {
        let targets = targets.into();
        let rows = Self::LAYOUT.rows_of(images)?;
        targets.check(Self::LAYOUT.loss, rows, Self::LAYOUT.classes)?;
        let (len, cap, classes) = (
            Self::LAYOUT.input_len(),
            self.state().cap(),
            Self::LAYOUT.classes,
        );
        let (mut correct, mut loss) = (0usize, 0f64);
        for start in (0..rows).step_by(cap) {
            let end = (start + cap).min(rows);
            let chunk = match targets {
                BatchTargets::Classes(l) => BatchTargets::Classes(&l[start..end]),
                BatchTargets::Values(v) => BatchTargets::Values(&v[start * classes..end * classes]),
            };
            let n = self
                .state()
                .upload(&images[start * len..end * len], Some(chunk))?;
            self.state_mut().begin_forward(n)?;
            Self::launch_eval(self.state(), n);
            let counts = self
                .state()
                .read_idx(Self::LAYOUT.correct_idx, n, "evaluation")?;
            let losses = self
                .state()
                .read_acts(Self::LAYOUT.loss_act, 1, n, "evaluation")?;
            correct += counts.iter().map(|&c| c as usize).sum::<usize>();
            loss += losses.iter().map(|&l| l as f64).sum::<f64>();
        }
        Ok((correct, loss))
    }

    /// The logits (`n x classes`, row-major) of a batch of images, in the current mode: in
    /// training mode (the default) BatchNorm uses the batch statistics and updates its
    /// running ones and Dropout is on, as PyTorch's `model(x)`; call [`Network::eval`] first
    /// for inference.
    ///
    /// Any number of rows: more than the capacity run in chunks of the capacity, in order,
    /// and their outputs are concatenated (in eval mode the same values as one row at a time;
    /// in training mode each chunk has its own BatchNorm statistics and Dropout masks).
    ///
    /// # Errors
    /// [`Error::Shape`](crate::Error::Shape) if `images` is not a whole number of samples;
    /// device errors.
    fn forward(&mut self, images: &[f32]) -> Result<Vec<f32>> {
        let rows = Self::LAYOUT.rows_of(images)?;
        let (len, cap, classes) = (
            Self::LAYOUT.input_len(),
            self.state().cap(),
            Self::LAYOUT.classes,
        );
        let mut out = Vec::with_capacity(rows * classes);
        for start in (0..rows).step_by(cap) {
            let end = (start + cap).min(rows);
            let n = self.state().upload(&images[start * len..end * len], None)?;
            self.state_mut().begin_forward(n)?;
            // Labels are left as they were; logits do not depend on them.
            Self::launch_eval(self.state(), n);
            out.extend(
                self.state()
                    .read_acts(Self::LAYOUT.logits_act, classes, n, "forward")?,
            );
        }
        Ok(out)
    }

    /// Class probabilities (`n x classes`, row-major) of a batch of images: the softmax of
    /// [`Network::forward`]'s logits ([`crate::infer::softmax`], as
    /// `torch.softmax(model(x), dim=1)`).
    ///
    /// # Errors
    /// As [`Network::forward`].
    fn predict_proba(&mut self, images: &[f32]) -> Result<Vec<f32>> {
        let logits = self.forward(images)?;
        Ok(infer::softmax(&logits, Self::LAYOUT.classes))
    }

    /// The predicted class of each image of a batch (the argmax of its logits, the first on
    /// ties).
    ///
    /// # Errors
    /// As [`Network::forward`].
    fn predict(&mut self, images: &[f32]) -> Result<Vec<usize>> {
        let logits = self.forward(images)?;
        Ok(infer::argmax(&logits, Self::LAYOUT.classes))
    }

    /// Switches to training mode (PyTorch's `model.train()`): BatchNorm normalises with the
    /// batch statistics and updates its running ones, Dropout zeroes elements. A new network
    /// is in training mode.
    fn train(&mut self) {
        self.state_mut().set_training(true);
    }

    /// Switches to eval mode (PyTorch's `model.eval()`): BatchNorm normalises with its running
    /// statistics, Dropout is the identity. Training steps need training mode.
    fn eval(&mut self) {
        self.state_mut().set_training(false);
    }

    /// Whether the network is in training mode.
    fn training(&self) -> bool {
        self.state().training()
    }

    /// The `state_dict`: every parameter, then every buffer (BatchNorm `running_mean`,
    /// `running_var`) and each BatchNorm's `num_batches_tracked` (a count, held as an f32 value
    /// here and written as I64 by [`crate::checkpoint::save`]), with PyTorch's keys and shapes.
    fn state_dict(&self) -> Result<Vec<NamedTensor>> {
        state_dict::state_dict(self.state(), &Self::LAYOUT)
    }

    /// Loads parameters and buffers by `state_dict` key. Every key of the network must be
    /// present with its exact shape; every mismatch is listed in one error.
    fn load_state_dict(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        state_dict::load_state_dict(self.state_mut(), &Self::LAYOUT, tensors)
    }
}
