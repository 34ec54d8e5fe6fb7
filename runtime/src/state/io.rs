//! Reading and writing a [`NetState`]'s arenas: uploading a batch, reading regions back
//! (activations, indices, parameters, gradients, momentum, Adam moments, buffers), overwriting
//! them (for loading and resuming), and filling the scratch arenas.
use cubecl::bytes::Bytes;
use cubecl::prelude::*;
use cubecl::server::Handle;

use super::{AdamState, AdamValues, NetState};
use crate::error::{Error, Result};
use crate::targets::BatchTargets;

fn bytes_of(v: &[f32]) -> Bytes {
    Bytes::from_bytes_vec(f32::as_bytes(v).to_vec())
}

impl NetState {
    /// Every buffer (BatchNorm running statistics), flat, `Layout::buffers` order.
    pub fn read_buffers(&self) -> Result<Vec<f32>> {
        self.count_read();
        let b = self
            .client
            .read_one(self.bufs.clone())
            .map_err(|e| Error::Kernel {
                context: "reading buffers".into(),
                message: format!("{e:?}"),
            })?;
        let mut v = f32::from_bytes(&b).to_vec();
        v.truncate(self.layout.num_bufs);
        Ok(v)
    }

    /// Overwrites every buffer (flat).
    ///
    /// # Errors
    /// [`Error::Shape`] if the length is not the buffer arena's.
    pub fn write_buffers(&mut self, values: &[f32]) -> Result<()> {
        if values.len() != self.layout.num_bufs {
            return Err(Error::Shape(format!(
                "{} buffer values given, the network has {}",
                values.len(),
                self.layout.num_bufs
            )));
        }
        if !values.is_empty() {
            self.client.write(&self.bufs, bytes_of(values));
        }
        Ok(())
    }

    /// The seven arena arguments, in kernel order (params, velocity, grads, acts, idx, bufs,
    /// part).
    ///
    /// # Safety
    /// The lengths are the arenas' true lengths; the caller launches a kernel whose indices
    /// come from the same layout.
    pub unsafe fn args(&self) -> [BufferArg; 7] {
        let np = self.layout.num_params.max(1);
        unsafe {
            [
                BufferArg::from_raw_parts(self.params.clone(), np),
                BufferArg::from_raw_parts(self.velocity.clone(), np),
                BufferArg::from_raw_parts(self.grads.clone(), np),
                BufferArg::from_raw_parts(
                    self.acts.clone(),
                    self.layout.acts_per_sample * self.cap,
                ),
                BufferArg::from_raw_parts(self.idx.clone(), self.layout.idx_per_sample * self.cap),
                BufferArg::from_raw_parts(self.bufs.clone(), self.layout.num_bufs.max(1)),
                BufferArg::from_raw_parts(
                    self.part.clone(),
                    (self.layout.part_a * self.cap + self.layout.part_b).max(1),
                ),
            ]
        }
    }

    /// Copies a batch to the device: `images` is `n x C x H x W` (NCHW, already normalised),
    /// `targets` are what the network's loss takes ([`BatchTargets`]: `n` class indices, or
    /// `n x classes` f32 values), or `None` for inference.
    ///
    /// # Errors
    /// [`Error::Shape`] if the lengths disagree with the network or `n` is 0 or above the
    /// capacity, or the targets are of the wrong kind for the loss; [`Error::Label`] for a
    /// label that is not a class index (see [`BatchTargets::check`]).
    pub fn upload(&self, images: &[f32], targets: Option<BatchTargets<'_>>) -> Result<usize> {
        let n = self.layout.rows_of(images)?;
        if n > self.cap {
            return Err(Error::Shape(format!(
                "batch of {n} samples exceeds the capacity of {} this network was created with",
                self.cap
            )));
        }
        if let Some(targets) = targets {
            targets.check(self.layout.loss, n, self.layout.classes)?;
            match targets {
                BatchTargets::Classes(labels) => {
                    let total = self.layout.idx_per_sample * self.cap;
                    let region =
                        Self::region(&self.idx, total, self.layout.label_idx * self.cap, n);
                    self.client.write(
                        &region,
                        Bytes::from_bytes_vec(u32::as_bytes(labels).to_vec()),
                    );
                }
                BatchTargets::Values(values) => {
                    let total = self.layout.acts_per_sample * self.cap;
                    let start = self.layout.target_act * self.cap;
                    let region = Self::region(&self.acts, total, start, values.len());
                    self.client.write(&region, bytes_of(values));
                }
            }
        }
        let total = self.layout.acts_per_sample * self.cap;
        let start = self.layout.input_act * self.cap;
        let region = Self::region(&self.acts, total, start, images.len());
        self.client.write(&region, bytes_of(images));
        Ok(n)
    }

    /// Elements `start..start + len` of an arena of `total` 4-byte elements. A write must name
    /// exactly the bytes it writes: the `cpu` runtime copies into the whole region it is given
    /// (and panics on a length mismatch), where wgpu writes a prefix.
    fn region(handle: &Handle, total: usize, start: usize, len: usize) -> Handle {
        handle
            .clone()
            .offset_start((start * 4) as u64)
            .offset_end(((total - start - len) * 4) as u64)
    }

    fn read_region(
        &self,
        handle: &Handle,
        total: usize,
        start: usize,
        len: usize,
        context: &str,
    ) -> Result<Vec<u8>> {
        self.count_read();
        let h = handle
            .clone()
            .offset_start((start * 4) as u64)
            .offset_end(((total - start - len) * 4) as u64);
        let bytes = self.client.read_one(h).map_err(|e| Error::Kernel {
            context: context.to_string(),
            message: format!("{e:?}"),
        })?;
        Ok(bytes.to_vec())
    }

    /// Reads `len` floats per sample for the first `n` samples of the tensor at per-sample
    /// offset `act` of the `acts` arena.
    pub fn read_acts(&self, act: usize, len: usize, n: usize, context: &str) -> Result<Vec<f32>> {
        let total = self.layout.acts_per_sample * self.cap;
        let b = self.read_region(&self.acts, total, act * self.cap, len * n, context)?;
        Ok(f32::from_bytes(&b).to_vec())
    }

    /// In one read from the device (one `client.read` of two buffers): the per-sample losses
    /// of the first `n` samples (the tensor at per-sample offset `act` of the `acts` arena, one
    /// float per sample) and the finite-check flag (see
    /// [`cubenet_kernels::finite::flag_non_finite()`]).
    pub(crate) fn read_losses_and_flag(
        &self,
        act: usize,
        n: usize,
        context: &str,
    ) -> Result<(Vec<f32>, u32)> {
        self.count_read();
        let total = self.layout.acts_per_sample * self.cap;
        let losses = Self::region(&self.acts, total, act * self.cap, n);
        let bytes = self
            .client
            .read(vec![losses, self.finite_flag.clone()])
            .map_err(|e| Error::Kernel {
                context: context.to_string(),
                message: format!("{e:?}"),
            })?;
        let losses = f32::from_bytes(&bytes[0]).to_vec();
        let flag = u32::from_bytes(&bytes[1])[0];
        Ok((losses, flag))
    }

    /// Reads `n` u32 at per-sample offset `at` of the `idx` arena.
    pub fn read_idx(&self, at: usize, n: usize, context: &str) -> Result<Vec<u32>> {
        let total = self.layout.idx_per_sample * self.cap;
        let b = self.read_region(&self.idx, total, at * self.cap, n, context)?;
        Ok(u32::from_bytes(&b).to_vec())
    }

    fn read_arena(&self, h: &Handle, context: &str) -> Result<Vec<f32>> {
        self.count_read();
        let b = self.client.read_one(h.clone()).map_err(|e| Error::Kernel {
            context: context.to_string(),
            message: format!("{e:?}"),
        })?;
        let mut v = f32::from_bytes(&b).to_vec();
        v.truncate(self.layout.num_params);
        Ok(v)
    }

    /// All parameters, flat, in `state_dict` order.
    pub fn read_params(&self) -> Result<Vec<f32>> {
        self.read_arena(&self.params, "reading parameters")
    }
    /// The gradient of the last step's mean loss for every parameter, flat.
    pub fn read_grads(&self) -> Result<Vec<f32>> {
        self.read_arena(&self.grads, "reading gradients")
    }
    /// The SGD momentum buffers, flat.
    pub fn read_velocity(&self) -> Result<Vec<f32>> {
        self.read_arena(&self.velocity, "reading momentum buffers")
    }

    /// Overwrites every parameter (flat, `state_dict` order).
    ///
    /// # Errors
    /// [`Error::Shape`] if the length is not the number of parameters.
    pub fn write_params(&mut self, values: &[f32]) -> Result<()> {
        if values.len() != self.layout.num_params {
            return Err(Error::Shape(format!(
                "{} parameter values given, the network has {}",
                values.len(),
                self.layout.num_params
            )));
        }
        self.client.write(&self.params, bytes_of(values));
        Ok(())
    }

    /// Overwrites the momentum buffers and the step count (for resuming).
    pub fn write_velocity(&mut self, values: &[f32], steps: u64) -> Result<()> {
        if values.len() != self.layout.num_params {
            return Err(Error::Shape(format!(
                "{} momentum values given, the network has {}",
                values.len(),
                self.layout.num_params
            )));
        }
        self.client.write(&self.velocity, bytes_of(values));
        self.steps = steps;
        Ok(())
    }

    /// Overwrites the scratch arenas: every float of `acts` (inputs, activations, their
    /// gradients, losses) and of `grads` with `value`, and every u32 of `idx` (labels,
    /// correctness flags, max-pool indices) with `u32::MAX`. Parameters and momentum buffers
    /// are kept.
    ///
    /// Kernels never read a scratch value they did not write in the same step, so this changes
    /// no result; tests fill with NaN to show that every kernel writes all of its outputs.
    pub fn fill_scratch(&mut self, value: f32) {
        let np = self.layout.num_params.max(1);
        self.client.write(&self.grads, bytes_of(&vec![value; np]));
        let acts = self.layout.acts_per_sample * self.cap;
        self.client.write(&self.acts, bytes_of(&vec![value; acts]));
        let part = (self.layout.part_a * self.cap + self.layout.part_b).max(1);
        self.client.write(&self.part, bytes_of(&vec![value; part]));
        let idx = vec![u32::MAX; self.layout.idx_per_sample * self.cap];
        self.client.write(
            &self.idx,
            Bytes::from_bytes_vec(u32::as_bytes(&idx).to_vec()),
        );
    }

    /// The Adam state, if an Adam step was taken or restored: (`exp_avg`, `exp_avg_sq`, flat in
    /// `state_dict` order, and the Adam step count).
    pub fn read_adam_state(&self) -> Result<Option<AdamValues>> {
        match &self.adam {
            None => Ok(None),
            Some(a) => Ok(Some((
                self.read_arena(&a.exp_avg, "reading Adam exp_avg")?,
                self.read_arena(&a.exp_avg_sq, "reading Adam exp_avg_sq")?,
                a.step,
            ))),
        }
    }

    /// Overwrites the Adam state (for resuming): both moments (flat) and the Adam step count.
    ///
    /// # Errors
    /// [`Error::Shape`] if a length is not the number of parameters.
    pub fn write_adam_state(
        &mut self,
        exp_avg: &[f32],
        exp_avg_sq: &[f32],
        step: u64,
    ) -> Result<()> {
        for v in [exp_avg, exp_avg_sq] {
            if v.len() != self.layout.num_params {
                return Err(Error::Shape(format!(
                    "{} Adam state values given, the network has {} parameters",
                    v.len(),
                    self.layout.num_params
                )));
            }
        }
        let np = self.layout.num_params.max(1);
        let pad = |v: &[f32]| {
            let mut v = v.to_vec();
            v.resize(np, 0.0);
            self.client.create_from_slice(f32::as_bytes(&v))
        };
        let (exp_avg, exp_avg_sq) = (pad(exp_avg), pad(exp_avg_sq));
        self.adam = Some(AdamState {
            exp_avg,
            exp_avg_sq,
            step,
        });
        Ok(())
    }
}
