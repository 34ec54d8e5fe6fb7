//! A compiled network's device state and the [`Network`] trait that `#[network]` implements.
use cubecl::bytes::Bytes;
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::optim::{clip_coefficient, Adam, Optimizer, Sgd};
use cubenet_kernels::SgdFlags;

/// One parameter tensor of a network, named as its PyTorch `state_dict` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `state_dict` key, e.g. `conv1.weight` (OIHW) or `fc1.weight` (out x in).
    pub name: &'static str,
    /// Shape, PyTorch order.
    pub shape: &'static [usize],
    /// Offset (in floats) in the parameter arena.
    pub offset: usize,
    /// Fan-in of the layer (`in_channels * kh * kw` or `in_features`), for the default init.
    pub fan_in: usize,
    /// How the parameter is initialised.
    pub init: Init,
}

/// The initial value of a parameter, as PyTorch's `reset_parameters`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Conv2d and Linear weights and biases).
    Uniform,
    /// 1 (a BatchNorm's weight).
    Ones,
    /// 0 (a BatchNorm's bias).
    Zeros,
}

/// A buffer of a network: state that is not trained by gradients but saved in the
/// `state_dict` (a BatchNorm's `running_mean` and `running_var`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BufferInfo {
    /// `state_dict` key, e.g. `bn1.running_mean`.
    pub name: &'static str,
    /// Shape (`[num_features]`).
    pub shape: &'static [usize],
    /// Offset (in floats) in the buffer arena.
    pub offset: usize,
    /// Initial value of every element (0 for a running mean, 1 for a running variance).
    pub init: f32,
}

impl BufferInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

impl ParamInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Where one block's output lives (a block is a conv or linear layer together with the relu
/// and max-pool fused after it; see the network's `SUMMARY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's parametric layer, e.g. `conv1` (its `state_dict` prefix).
    pub name: &'static str,
    /// Per-sample offset of the block's output (after its activation / pool) in `acts`.
    pub out_act: usize,
    /// Per-sample offset of d(mean loss)/d(output) in `acts` (written by training steps only).
    pub out_grad: usize,
    /// Floats of the output per sample.
    pub out_len: usize,
    /// Per-sample offset of the max-pool argmax (one u32 per output) in `idx`, if the block
    /// ends with a max-pool.
    pub argmax_idx: Option<usize>,
}

/// Where a network's tensors live in its arenas (see `cubenet_kernels` crate docs), as
/// inferred by `#[network]`. Per-sample offsets are multiplied by the batch capacity.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Input shape of one sample, `[C, H, W]`.
    pub input_shape: [usize; 3],
    /// Number of classes (features of the last linear layer).
    pub classes: usize,
    /// Every parameter, in `state_dict` order.
    pub params: &'static [ParamInfo],
    /// Total number of parameters.
    pub num_params: usize,
    /// Every block, in forward order (the last one's output is the logits).
    pub blocks: &'static [BlockInfo],
    /// Floats per sample in the `acts` arena.
    pub acts_per_sample: usize,
    /// u32 per sample in the `idx` arena.
    pub idx_per_sample: usize,
    /// Per-sample offset of the input batch in `acts`.
    pub input_act: usize,
    /// Per-sample offset of the per-row loss in `acts`.
    pub loss_act: usize,
    /// Per-sample offset of the logits in `acts`.
    pub logits_act: usize,
    /// Per-sample offset of the label in `idx`.
    pub label_idx: usize,
    /// Per-sample offset of the correctness flag in `idx`.
    pub correct_idx: usize,
    /// Every buffer (BatchNorm running statistics), in `state_dict` order.
    pub buffers: &'static [BufferInfo],
    /// Floats of the buffer arena.
    pub num_bufs: usize,
    /// The BatchNorm layers, in order: each has a `<name>.num_batches_tracked` entry in the
    /// `state_dict`.
    pub batch_norms: &'static [&'static str],
    /// The smallest batch a training-mode forward pass accepts: 2 when a BatchNorm sees a
    /// single value per channel and sample (BatchNorm1d, or a 1x1 plane), as PyTorch
    /// requires more than one value per channel to compute a variance.
    pub min_train_batch: usize,
}

impl Layout {
    /// The parameter whose elements include flat index `i` of the parameter arena.
    pub fn param_at(&self, i: usize) -> Option<&'static ParamInfo> {
        self.params
            .iter()
            .find(|p| (p.offset..p.offset + p.numel()).contains(&i))
    }

    /// Floats of one input sample (`C * H * W`).
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }
}

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

/// The device buffers of one network instance, allocated once for a batch capacity.
pub struct NetState {
    client: Client,
    layout: Layout,
    cap: usize,
    params: Handle,
    velocity: Handle,
    grads: Handle,
    acts: Handle,
    idx: Handle,
    bufs: Handle,
    steps: u64,
    seed: u64,
    training: bool,
    /// Training-mode forward passes run so far (each draws new Dropout masks).
    forward_count: u64,
    /// The Dropout seed of the current forward pass.
    launch_seed: u32,
    /// `num_batches_tracked` of each BatchNorm (`Layout::batch_norms`).
    batches_tracked: Vec<u64>,
    adam: Option<AdamState>,
    cube_dim: u32,
    profile: Option<std::cell::RefCell<Profile>>,
}

/// The Adam state of a network: the moment arenas (flat, like `params`) and the number of
/// Adam steps taken (torch's `state["step"]`, the `t` of the bias corrections).
struct AdamState {
    exp_avg: Handle,
    exp_avg_sq: Handle,
    step: u64,
}

/// Adam state read back to the host: `exp_avg`, `exp_avg_sq` (flat, `state_dict` order) and
/// the Adam step count.
pub type AdamValues = (Vec<f32>, Vec<f32>, u64);

/// Per-kernel wall-clock times, collected when `CUBENET_PROFILE=1` (each launch is then
/// followed by a device sync, so the total is slower than an unprofiled step).
#[derive(Debug, Default)]
pub struct Profile {
    last: Option<std::time::Instant>,
    /// (kernel name, total seconds, launches).
    pub kernels: Vec<(&'static str, f64, usize)>,
}

impl Profile {
    /// One line per kernel, in first-launch order: name, milliseconds per launch and share of
    /// the total, under a heading.
    pub fn table(&self) -> String {
        let total: f64 = self.kernels.iter().map(|k| k.1).sum();
        let width = self.kernels.iter().map(|k| k.0.len()).max().unwrap_or(0);
        let mut out = String::from("kernel profile (CUBENET_PROFILE=1; each launch synced):\n");
        for (name, secs, launches) in &self.kernels {
            out.push_str(&format!(
                "  {name:<width$} {:>9.3} ms/launch {:>5.1}%\n",
                1e3 * secs / (*launches).max(1) as f64,
                100.0 * secs / total.max(1e-12)
            ));
        }
        out
    }
}

fn bytes_of(v: &[f32]) -> Bytes {
    Bytes::from_bytes_vec(f32::as_bytes(v).to_vec())
}

impl NetState {
    /// Allocates the arenas of `layout` for batches of up to `cap` samples and initialises the
    /// parameters as PyTorch's default (`kaiming_uniform_(a=sqrt(5))` for weights, i.e.
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases), drawn from a
    /// ChaCha8 stream seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] if `cap` is 0.
    pub fn new(client: Client, layout: Layout, cap: usize, seed: u64) -> Result<Self> {
        if cap == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        let np = layout.num_params.max(1);
        let mut init = vec![0f32; np];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for p in layout.params {
            let values = &mut init[p.offset..p.offset + p.numel()];
            match p.init {
                Init::Uniform => {
                    let bound = 1.0 / (p.fan_in as f64).sqrt();
                    for v in values {
                        *v = rng.random_range(-bound..bound) as f32;
                    }
                }
                Init::Ones => values.fill(1.0),
                Init::Zeros => values.fill(0.0),
            }
        }
        let mut buf_init = vec![0f32; layout.num_bufs.max(1)];
        for b in layout.buffers {
            buf_init[b.offset..b.offset + b.numel()].fill(b.init);
        }
        let zeros = vec![0f32; np];
        let params = client.create_from_slice(f32::as_bytes(&init));
        let velocity = client.create_from_slice(f32::as_bytes(&zeros));
        let grads = client.create_from_slice(f32::as_bytes(&zeros));
        let acts =
            client.create_from_slice(f32::as_bytes(&vec![0f32; layout.acts_per_sample * cap]));
        let idx = client.create_from_slice(u32::as_bytes(&vec![0u32; layout.idx_per_sample * cap]));
        let bufs = client.create_from_slice(f32::as_bytes(&buf_init));
        let max_dim = client.properties().hardware.max_units_per_cube;
        Ok(Self {
            client,
            layout,
            cap,
            params,
            velocity,
            grads,
            acts,
            idx,
            bufs,
            steps: 0,
            seed,
            training: true,
            forward_count: 0,
            launch_seed: 0,
            batches_tracked: vec![0; layout.batch_norms.len()],
            adam: None,
            cube_dim: 64.min(max_dim).max(1),
            profile: std::env::var_os("CUBENET_PROFILE")
                .filter(|v| v == "1")
                .map(|_| Default::default()),
        })
    }

    /// The compute client the network runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }
    /// Batch capacity (the largest batch a step accepts).
    pub fn cap(&self) -> usize {
        self.cap
    }
    /// The network's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Training steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Launch geometry for `units` units: 1-D cubes of up to `cube_dim` units, smaller when
    /// there are few units so that at least ~16 cubes share the work (a CPU driver such as
    /// lavapipe runs each cube on one thread).
    pub fn grid(&self, units: usize) -> (CubeCount, CubeDim) {
        let mut dim = self.cube_dim;
        while dim > 8 && (units as u32) < dim * 16 {
            dim /= 2;
        }
        let cubes = units.div_ceil(dim as usize).max(1) as u32;
        if cubes <= 65535 {
            (CubeCount::Static(cubes, 1, 1), CubeDim::new_1d(dim))
        } else {
            let y = cubes.div_ceil(65535);
            (CubeCount::Static(65535, y, 1), CubeDim::new_1d(dim))
        }
    }

    /// Whether the network is in training mode (the default; see [`Network::train`]).
    pub fn training(&self) -> bool {
        self.training
    }

    /// Sets training (`true`) or eval mode.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The Dropout seed of the current training-mode forward pass
    /// ([`cubenet_kernels::dropout::launch_seed`]).
    pub fn launch_seed(&self) -> u32 {
        self.launch_seed
    }

    /// Called before the kernels of a forward pass over a batch of `n` run: in training
    /// mode, checks that the batch is large enough for the BatchNorms, counts the batch in
    /// every BatchNorm's `num_batches_tracked` and draws the Dropout seed.
    ///
    /// # Errors
    /// [`Error::Shape`] for a training-mode batch of 1 when a BatchNorm would normalise a
    /// single value per channel.
    pub fn begin_forward(&mut self, n: usize) -> Result<()> {
        if !self.training {
            return Ok(());
        }
        if n < self.layout.min_train_batch {
            return Err(Error::Shape(format!(
                "a batch of {n} in training mode: BatchNorm needs more than 1 value per channel \
                 to compute a batch variance (as in PyTorch). Use a batch of at least {}, or call \
                 `eval()` first to use the running statistics",
                self.layout.min_train_batch
            )));
        }
        self.launch_seed = cubenet_kernels::dropout::launch_seed(self.seed, self.forward_count);
        self.forward_count += 1;
        for t in &mut self.batches_tracked {
            *t += 1;
        }
        Ok(())
    }

    /// `num_batches_tracked` of each BatchNorm (`Layout::batch_norms` order).
    pub fn batches_tracked(&self) -> &[u64] {
        &self.batches_tracked
    }

    /// Overwrites `num_batches_tracked` of each BatchNorm.
    ///
    /// # Errors
    /// [`Error::Shape`] if the count is not the number of BatchNorms.
    pub fn set_batches_tracked(&mut self, values: &[u64]) -> Result<()> {
        if values.len() != self.batches_tracked.len() {
            return Err(Error::Shape(format!(
                "{} num_batches_tracked values given, the network has {} BatchNorm layers",
                values.len(),
                self.batches_tracked.len()
            )));
        }
        self.batches_tracked.copy_from_slice(values);
        Ok(())
    }

    /// Training-mode forward passes run so far (the Dropout stream's position).
    pub fn forward_count(&self) -> u64 {
        self.forward_count
    }

    /// Sets the Dropout stream's position (for resuming).
    pub fn set_forward_count(&mut self, count: u64) {
        self.forward_count = count;
    }

    /// Every buffer (BatchNorm running statistics), flat, `Layout::buffers` order.
    pub fn read_buffers(&self) -> Result<Vec<f32>> {
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

    /// The six arena arguments, in kernel order (params, velocity, grads, acts, idx, bufs).
    ///
    /// # Safety
    /// The lengths are the arenas' true lengths; the caller launches a kernel whose indices
    /// come from the same layout.
    pub unsafe fn args(&self) -> [BufferArg; 6] {
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
            ]
        }
    }

    /// Copies a batch to the device: `images` is `n x C x H x W` (NCHW, already normalised),
    /// `labels` has `n` class indices (or is empty for inference).
    ///
    /// # Errors
    /// [`Error::Shape`] if the lengths disagree with the network or `n` is 0 or above the
    /// capacity; [`Error::Label`] for a label that is not a class index.
    pub fn upload(&self, images: &[f32], labels: Option<&[u32]>) -> Result<usize> {
        let len = self.layout.input_len();
        if images.is_empty() || images.len() % len != 0 {
            return Err(Error::Shape(format!(
                "the batch holds {} floats, which is not a positive multiple of one sample's {} ({:?}, NCHW)",
                images.len(),
                len,
                self.layout.input_shape
            )));
        }
        let n = images.len() / len;
        if n > self.cap {
            return Err(Error::Shape(format!(
                "batch of {n} samples exceeds the capacity of {} this network was created with",
                self.cap
            )));
        }
        if let Some(labels) = labels {
            if labels.len() != n {
                return Err(Error::Shape(format!(
                    "{} labels for {n} images",
                    labels.len()
                )));
            }
            if let Some((sample, &label)) = labels
                .iter()
                .enumerate()
                .find(|(_, &l)| l as usize >= self.layout.classes)
            {
                return Err(Error::Label {
                    sample,
                    label,
                    classes: self.layout.classes,
                });
            }
            let total = self.layout.idx_per_sample * self.cap;
            let region = Self::region(&self.idx, total, self.layout.label_idx * self.cap, n);
            self.client.write(
                &region,
                Bytes::from_bytes_vec(u32::as_bytes(labels).to_vec()),
            );
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

    /// Reads `n` u32 at per-sample offset `at` of the `idx` arena.
    pub fn read_idx(&self, at: usize, n: usize, context: &str) -> Result<Vec<u32>> {
        let total = self.layout.idx_per_sample * self.cap;
        let b = self.read_region(&self.idx, total, at * self.cap, n, context)?;
        Ok(u32::from_bytes(&b).to_vec())
    }

    fn read_arena(&self, h: &Handle, context: &str) -> Result<Vec<f32>> {
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
        let idx = vec![u32::MAX; self.layout.idx_per_sample * self.cap];
        self.client.write(
            &self.idx,
            Bytes::from_bytes_vec(u32::as_bytes(&idx).to_vec()),
        );
    }

    /// The run-time kernel arguments for one optimiser step with `sgd`.
    pub fn step_args(&self, sgd: &Sgd) -> StepArgs {
        let mut flags = 0;
        if self.steps == 0 {
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

    /// Waits until every kernel launched so far has finished (benchmarks stop their clock
    /// after this).
    ///
    /// # Errors
    /// [`Error::Device`] when the device reports a failed launch.
    pub fn sync(&self) -> Result<()> {
        cubecl::future::block_on(self.client.sync())
            .map_err(|e| Error::Device(format!("waiting for the device: {e:?}")))
    }

    /// Called by generated code before a kernel is launched, when profiling.
    pub fn before_launch(&self) {
        if let Some(p) = &self.profile {
            let _ = cubecl::future::block_on(self.client.sync());
            p.borrow_mut().last = Some(std::time::Instant::now());
        }
    }

    /// Called by generated code after kernel `name` is launched: when profiling
    /// (`CUBENET_PROFILE=1`), waits for it and records its time.
    pub fn after_launch(&self, name: &'static str) {
        if let Some(p) = &self.profile {
            let _ = cubecl::future::block_on(self.client.sync());
            let mut p = p.borrow_mut();
            let dt = p.last.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            match p.kernels.iter_mut().find(|k| k.0 == name) {
                Some(k) => {
                    k.1 += dt;
                    k.2 += 1;
                }
                None => p.kernels.push((name, dt, 1)),
            }
        }
    }

    /// The per-kernel profile, if `CUBENET_PROFILE=1` was set when the network was created.
    pub fn profile(&self) -> Option<std::cell::Ref<'_, Profile>> {
        self.profile.as_ref().map(|p| p.borrow())
    }

    /// Records that one optimiser step was taken.
    pub fn finish_step(&mut self) {
        self.steps += 1;
    }

    /// Adam steps taken (or restored), `None` before the first.
    pub fn adam_step(&self) -> Option<u64> {
        self.adam.as_ref().map(|a| a.step)
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

    /// One Adam / AdamW step on the stored gradients times `grad_scale` (one
    /// [`adam_update`](cubenet_kernels::adam::adam_update()) launch over the arena); allocates
    /// the zeroed moments on the first call.
    pub fn launch_adam(&mut self, adam: &Adam, grad_scale: f32) {
        let np = self.layout.num_params.max(1);
        if self.adam.is_none() {
            let zeros = vec![0f32; np];
            self.adam = Some(AdamState {
                exp_avg: self.client.create_from_slice(f32::as_bytes(&zeros)),
                exp_avg_sq: self.client.create_from_slice(f32::as_bytes(&zeros)),
                step: 0,
            });
        }
        let state = self.adam.as_mut().expect("allocated above");
        state.step += 1;
        let s = adam.scalars(state.step, grad_scale);
        let len = self.layout.num_params;
        let units = cubenet_kernels::adam::pass_units(len);
        let (count, dim) = self.grid(units);
        let state = self.adam.as_ref().expect("allocated above");
        self.before_launch();
        // SAFETY: every arena holds `np >= len` floats and the kernel touches indices < len.
        unsafe {
            cubenet_kernels::adam::adam_update::launch_unchecked(
                &self.client,
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
        let np = self.layout.num_params.max(1);
        let a = self.step_args(sgd);
        let len = self.layout.num_params;
        let units = cubenet_kernels::adam::pass_units(len);
        let (count, dim) = self.grid(units);
        self.before_launch();
        // SAFETY: every arena holds `np >= len` floats and the kernel touches indices < len.
        unsafe {
            cubenet_kernels::adam::sgd_pass::launch_unchecked(
                &self.client,
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

/// A named tensor of a state dict: PyTorch key, shape, values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// `state_dict` key.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

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
    /// Upper bound on the loop iterations one shader invocation of the training (`train`) or
    /// evaluation kernels runs for a batch of `n`, and which job runs them (generated; see
    /// [`cubenet_kernels::LOOP_LIMIT`]).
    fn max_loop_iterations(n: usize, train: bool) -> (usize, &'static str);

    /// Allocates the network on `device` for batches of up to `batch_size` samples, with
    /// PyTorch's default initialisation drawn from `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] for `batch_size == 0`; [`Error::Device`] when the device cannot run
    /// the network's kernels correctly (Mesa's lavapipe and a kernel whose loops exceed
    /// [`cubenet_kernels::LOOP_LIMIT`]: the message names the layer and the largest batch
    /// size that fits).
    fn new(device: &crate::Device, batch_size: usize, seed: u64) -> Result<Self> {
        let client = crate::device::client(device)?;
        check_loop_limit(
            &client.properties().identity.name,
            batch_size,
            Self::max_loop_iterations,
        )?;
        Ok(Self::from_state(NetState::new(
            client,
            Self::LAYOUT,
            batch_size,
            seed,
        )?))
    }

    /// One training step on `images` (`n x C x H x W`, normalised) and `labels` (`n`):
    /// forward, softmax cross-entropy (mean over the `n` rows), backward, SGD update.
    /// Returns the mean loss of the batch (before the update).
    ///
    /// # Errors
    /// Shape and label errors ([`NetState::upload`]), invalid `sgd` values, kernel errors.
    fn train_step(&mut self, images: &[f32], labels: &[u32], sgd: &Sgd) -> Result<f32> {
        sgd.validate()?;
        Ok(step_unchecked(self, images, labels, &Optimizer::Sgd(*sgd), None)?.0)
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
    fn train_step_with(
        &mut self,
        images: &[f32],
        labels: &[u32],
        optimizer: &Optimizer,
        clip_grad_norm: Option<f32>,
    ) -> Result<f32> {
        optimizer.validate()?;
        crate::optim::validate_clip(clip_grad_norm)?;
        Ok(step_unchecked(self, images, labels, optimizer, clip_grad_norm)?.0)
    }

    /// Computes the gradients of the mean loss on a batch without updating the parameters
    /// (read them with [`NetState::read_grads`]). Returns the mean loss.
    fn compute_gradients(&mut self, images: &[f32], labels: &[u32]) -> Result<f32> {
        require_training(self.state())?;
        let n = self.state().upload(images, Some(labels))?;
        self.state_mut().begin_forward(n)?;
        Self::launch_train(self.state(), n, StepArgs::NO_UPDATE);
        let losses = self
            .state()
            .read_acts(Self::LAYOUT.loss_act, 1, n, "gradient computation")?;
        Ok(mean_in_order(&losses))
    }

    /// Evaluates a labelled batch: returns (number of rows whose argmax logit is the label,
    /// sum of the per-row losses).
    fn evaluate(&mut self, images: &[f32], labels: &[u32]) -> Result<(usize, f64)> {
        let n = self.state().upload(images, Some(labels))?;
        self.state_mut().begin_forward(n)?;
        Self::launch_eval(self.state(), n);
        let correct = self
            .state()
            .read_idx(Self::LAYOUT.correct_idx, n, "evaluation")?;
        let losses = self
            .state()
            .read_acts(Self::LAYOUT.loss_act, 1, n, "evaluation")?;
        Ok((
            correct.iter().filter(|&&c| c == 1).count(),
            losses.iter().map(|&l| l as f64).sum(),
        ))
    }

    /// The logits (`n x classes`, row-major) of a batch of images, in the current mode: in
    /// training mode (the default) BatchNorm uses the batch statistics and updates its
    /// running ones and Dropout is on, as PyTorch's `model(x)`; call [`Network::eval`] first
    /// for inference.
    fn forward(&mut self, images: &[f32]) -> Result<Vec<f32>> {
        let n = self.state().upload(images, None)?;
        self.state_mut().begin_forward(n)?;
        // Labels are left as they were; logits do not depend on them.
        Self::launch_eval(self.state(), n);
        self.state()
            .read_acts(Self::LAYOUT.logits_act, Self::LAYOUT.classes, n, "forward")
    }

    /// Class probabilities (`n x classes`, row-major) of a batch of images: the softmax of
    /// [`Network::forward`]'s logits ([`crate::infer::softmax`], as
    /// `torch.softmax(model(x), dim=1)`).
    ///
    /// # Errors
    /// As [`Network::forward`].
    fn predict_proba(&mut self, images: &[f32]) -> Result<Vec<f32>> {
        let logits = self.forward(images)?;
        Ok(crate::infer::softmax(&logits, Self::LAYOUT.classes))
    }

    /// The predicted class of each image of a batch (the argmax of its logits, the first on
    /// ties).
    ///
    /// # Errors
    /// As [`Network::forward`].
    fn predict(&mut self, images: &[f32]) -> Result<Vec<usize>> {
        let logits = self.forward(images)?;
        Ok(crate::infer::argmax(&logits, Self::LAYOUT.classes))
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
        let flat = self.state().read_params()?;
        let mut out = split_named(&flat, Self::LAYOUT.params);
        let bufs = self.state().read_buffers()?;
        out.extend(Self::LAYOUT.buffers.iter().map(|b| NamedTensor {
            name: b.name.to_string(),
            shape: b.shape.to_vec(),
            data: bufs[b.offset..b.offset + b.numel()].to_vec(),
        }));
        out.extend(
            Self::LAYOUT
                .batch_norms
                .iter()
                .zip(self.state().batches_tracked())
                .map(|(name, &t)| NamedTensor {
                    name: format!("{name}.{NUM_BATCHES_TRACKED}"),
                    shape: vec![],
                    data: vec![t as f32],
                }),
        );
        Ok(out)
    }

    /// Loads parameters and buffers by `state_dict` key. Every key of the network must be
    /// present with its exact shape; every mismatch is listed in one error.
    fn load_state_dict(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        let mut flat = vec![0f32; Self::LAYOUT.num_params];
        let mut bufs = vec![0f32; Self::LAYOUT.num_bufs];
        let mut tracked = vec![0u64; Self::LAYOUT.batch_norms.len()];
        let mut problems = Vec::new();
        let tracked_keys: Vec<String> = Self::LAYOUT
            .batch_norms
            .iter()
            .map(|n| format!("{n}.{NUM_BATCHES_TRACKED}"))
            .collect();
        for (key, t) in tracked_keys.iter().zip(&mut tracked) {
            match tensors.iter().find(|x| &x.name == key) {
                None => problems.push(format!("  missing key `{key}` (expected shape [])")),
                Some(x) if x.data.len() != 1 || x.data[0] < 0.0 || x.data[0].fract() != 0.0 => {
                    problems.push(format!(
                        "  `{key}`: expected one count >= 0, found shape {:?} ({} values)",
                        x.shape,
                        x.data.len()
                    ))
                }
                Some(x) => *t = x.data[0] as u64,
            }
        }
        for b in Self::LAYOUT.buffers {
            match tensors.iter().find(|t| t.name == b.name) {
                None => problems.push(format!(
                    "  missing key `{}` (expected shape {:?})",
                    b.name, b.shape
                )),
                Some(t) if t.shape != b.shape || t.data.len() != b.numel() => {
                    problems.push(format!(
                        "  `{}`: expected shape {:?}, found {:?} ({} values)",
                        b.name,
                        b.shape,
                        t.shape,
                        t.data.len()
                    ))
                }
                Some(t) => bufs[b.offset..b.offset + b.numel()].copy_from_slice(&t.data),
            }
        }
        for p in Self::LAYOUT.params {
            match tensors.iter().find(|t| t.name == p.name) {
                None => problems.push(format!(
                    "  missing key `{}` (expected shape {:?})",
                    p.name, p.shape
                )),
                Some(t) if t.shape != p.shape || t.data.len() != p.numel() => {
                    problems.push(format!(
                        "  `{}`: expected shape {:?}, found {:?} ({} values)",
                        p.name,
                        p.shape,
                        t.shape,
                        t.data.len()
                    ))
                }
                Some(t) => flat[p.offset..p.offset + p.numel()].copy_from_slice(&t.data),
            }
        }
        for t in tensors {
            if !Self::LAYOUT.params.iter().any(|p| p.name == t.name)
                && !Self::LAYOUT.buffers.iter().any(|b| b.name == t.name)
                && !tracked_keys.contains(&t.name)
            {
                problems.push(format!(
                    "  unexpected key `{}` (shape {:?})",
                    t.name, t.shape
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Error::StateDict(problems.join("\n")));
        }
        self.state_mut().write_params(&flat)?;
        self.state_mut().write_buffers(&bufs)?;
        self.state_mut().set_batches_tracked(&tracked)
    }
}

/// The `state_dict` key suffix of a BatchNorm's batch count.
pub const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// Refuses a training step in eval mode: the backward kernels need the batch statistics and
/// Dropout masks of a training-mode forward pass.
fn require_training(state: &NetState) -> Result<()> {
    if state.training() {
        Ok(())
    } else {
        Err(Error::Config(
            "a training step needs training mode, but the network is in eval mode: call \
             `train()` first"
                .into(),
        ))
    }
}

/// Refuses, on Mesa's llvmpipe / lavapipe (`adapter` names the device), a batch size at
/// which some kernel would exceed the driver's loop limit and silently return partial
/// results (see [`cubenet_kernels::LOOP_LIMIT`]).
///
/// # Errors
/// [`Error::Device`] naming the job, its loop count, the limit and the largest batch size
/// that fits (if any).
pub fn check_loop_limit(
    adapter: &str,
    batch_size: usize,
    max_loops: fn(usize, bool) -> (usize, &'static str),
) -> Result<()> {
    use cubenet_kernels::LOOP_LIMIT;
    if !adapter.contains("llvmpipe") || batch_size == 0 {
        return Ok(());
    }
    let fits = |n: usize| max_loops(n, true).0 <= LOOP_LIMIT && max_loops(n, false).0 <= LOOP_LIMIT;
    if fits(batch_size) {
        return Ok(());
    }
    let (iters, what) = [max_loops(batch_size, true), max_loops(batch_size, false)]
        .into_iter()
        .max_by_key(|x| x.0)
        .expect("two candidates");
    // The counts grow with the batch size: the largest batch that fits by bisection.
    let (mut lo, mut hi) = (0usize, batch_size);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let advice = if lo == 0 {
        "No batch size fits: the layer is too wide for this driver. Run on another backend \
         (a GPU, or the `cpu` feature)."
            .to_string()
    } else {
        format!(
            "Use a batch size of at most {lo}, or another backend (a GPU, or the `cpu` feature)."
        )
    };
    Err(Error::Device(format!(
        "{adapter} cannot run this network correctly at batch size {batch_size}: {what} runs up \
         to {iters} loop iterations in one shader invocation, and Mesa's CPU driver silently \
         stops a shader's loops after {LOOP_LIMIT} in total. {advice}"
    )))
}

/// [`Network::train_step_with`] without validating `optimizer` (the trainer validates the
/// base configuration once; a schedule may then reach a learning rate of 0). Returns the mean
/// loss and, when clipping, the gradients it read back for the norm (before clipping), so
/// that the caller need not read them again.
pub(crate) fn step_unchecked<N: Network>(
    net: &mut N,
    images: &[f32],
    labels: &[u32],
    optimizer: &Optimizer,
    clip_grad_norm: Option<f32>,
) -> Result<(f32, Option<Vec<f32>>)> {
    require_training(net.state())?;
    let n = net.state().upload(images, Some(labels))?;
    net.state_mut().begin_forward(n)?;
    let mut grads = None;
    match (optimizer, clip_grad_norm) {
        // The update fused into the weight-gradient kernels.
        (Optimizer::Sgd(sgd), None) => {
            let args = net.state().step_args(sgd);
            N::launch_train(net.state(), n, args);
        }
        // Gradients first, then one update pass over the arena.
        _ => {
            N::launch_train(net.state(), n, StepArgs::NO_UPDATE);
            let scale = match clip_grad_norm {
                Some(max_norm) => {
                    let g = net.state().read_grads()?;
                    let (_, coef) = clip_coefficient(&g, N::LAYOUT.params, max_norm);
                    grads = Some(g);
                    coef
                }
                None => 1.0,
            };
            match optimizer {
                Optimizer::Sgd(sgd) => net.state().launch_sgd_pass(sgd, scale),
                Optimizer::Adam(adam) => net.state_mut().launch_adam(adam, scale),
            }
        }
    }
    net.state_mut().finish_step();
    let losses = net
        .state()
        .read_acts(N::LAYOUT.loss_act, 1, n, "training step")?;
    Ok((mean_in_order(&losses), grads))
}

/// Splits a flat parameter vector into named tensors.
pub fn split_named(flat: &[f32], params: &[ParamInfo]) -> Vec<NamedTensor> {
    params
        .iter()
        .map(|p| NamedTensor {
            name: p.name.to_string(),
            shape: p.shape.to_vec(),
            data: flat[p.offset..p.offset + p.numel()].to_vec(),
        })
        .collect()
}

/// Mean of `v` accumulated in f64 in index order (deterministic).
pub fn mean_in_order(v: &[f32]) -> f32 {
    (v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64) as f32
}
