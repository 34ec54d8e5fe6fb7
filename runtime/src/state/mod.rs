//! The device state of one network instance ([`NetState`]): its arenas, allocated once for a
//! batch capacity, the training / eval mode, the BatchNorm batch counts, the Dropout seed and
//! the launch hooks generated code calls. Reading and writing the arenas is in `io`.
use std::cell::{Cell, Ref, RefCell};

use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::device::Target;
use crate::error::{Error, Result};
use crate::layout::{Init, Layout};
use crate::profile::Profile;

pub mod graph;
mod io;

/// The device buffers of one network instance, allocated once for a batch capacity.
pub struct NetState {
    /// Training steps recorded as device graphs (`graph`); first, so that they are dropped
    /// before the arenas they replay on.
    graphs: graph::StepGraphs,
    client: Client,
    layout: Layout,
    cap: usize,
    pub(crate) params: Handle,
    pub(crate) velocity: Handle,
    pub(crate) grads: Handle,
    acts: Handle,
    idx: Handle,
    bufs: Handle,
    part: Handle,
    target: Target,
    steps: u64,
    seed: u64,
    training: bool,
    /// Training-mode forward passes run so far (each draws new Dropout masks).
    forward_count: u64,
    /// The Dropout seed of the current forward pass.
    launch_seed: u32,
    /// `num_batches_tracked` of each BatchNorm (`Layout::batch_norms`).
    batches_tracked: Vec<u64>,
    pub(crate) adam: Option<AdamState>,
    cube_dim: u32,
    profile: Option<RefCell<Profile>>,
    /// One u32 that [`cubenet_kernels::finite::flag_non_finite()`] sets to the stamp of its
    /// launch when a gradient is NaN or infinite (read with the losses, see
    /// `NetState::read_losses_and_flag`).
    pub(crate) finite_flag: Handle,
    /// The stamp of the last finite-check launch (0: none yet).
    pub(crate) finite_stamp: u32,
    /// Reads from the device so far (every `read_*` call counts once).
    reads: Cell<u64>,
}

/// The Adam state of a network: the moment arenas (flat, like `params`) and the number of
/// Adam steps taken (torch's `state["step"]`, the `t` of the bias corrections).
pub(crate) struct AdamState {
    pub(crate) exp_avg: Handle,
    pub(crate) exp_avg_sq: Handle,
    pub(crate) step: u64,
}

/// Adam state read back to the host: `exp_avg`, `exp_avg_sq` (flat, `state_dict` order) and
/// the Adam step count.
pub type AdamValues = (Vec<f32>, Vec<f32>, u64);

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
        let part_len = (layout.part_a * cap + layout.part_b).max(1);
        let part = client.create_from_slice(f32::as_bytes(&vec![0f32; part_len]));
        let finite_flag = client.create_from_slice(u32::as_bytes(&[0u32]));
        let max_dim = client.properties().hardware.max_units_per_cube;
        let target = crate::device::target(&client);
        // cubecl's cpu runtime runs one thread per unit of a cube (as many as cores), lavapipe
        // one thread per cube (64-unit cubes, split further when there are few units); a GPU
        // 256-unit cubes.
        let cube_dim = match target {
            Target::Cpu => max_dim,
            Target::Gpu if client.name().starts_with("cpu") => max_dim,
            Target::Gpu if is_software(&client) => 64.min(max_dim),
            Target::Gpu => 256.min(max_dim),
        };
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
            part,
            target,
            steps: 0,
            seed,
            training: true,
            forward_count: 0,
            launch_seed: 0,
            batches_tracked: vec![0; layout.batch_norms.len()],
            adam: None,
            cube_dim: cube_dim.max(1),
            profile: Profile::from_env().map(RefCell::new),
            finite_flag,
            finite_stamp: 0,
            reads: Cell::new(0),
            graphs: graph::StepGraphs::default(),
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

    /// The target whose kernel configurations this network launches, as the generated
    /// code indexes them (see [`Target`]).
    pub fn target(&self) -> usize {
        self.target as usize
    }

    /// Sets the units per cube of later launches (at least 1; the device's maximum at most).
    /// Results do not depend on it: every unit's work and every reduction's order are fixed
    /// by the network's shapes (tests check a step bitwise across cube sizes).
    pub fn set_cube_dim(&mut self, units: u32) {
        let max = self.client.properties().hardware.max_units_per_cube;
        self.cube_dim = units.clamp(1, max.max(1));
        // Recorded steps hold the old launch geometry.
        self.clear_graphs();
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
    ///
    /// [`Network::train`]: crate::Network::train
    pub fn training(&self) -> bool {
        self.training
    }

    /// Sets training (`true`) or eval mode.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Refuses a training step in eval mode: the backward kernels need the batch statistics and
    /// Dropout masks of a training-mode forward pass.
    pub(crate) fn require_training(&self) -> Result<()> {
        if self.training() {
            Ok(())
        } else {
            Err(Error::Config(
                "a training step needs training mode, but the network is in eval mode: call \
                 `train()` first"
                    .into(),
            ))
        }
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
            p.borrow_mut().start();
        }
    }

    /// Called by generated code after kernel `name` is launched: when profiling
    /// (`CUBENET_PROFILE=1`), waits for it and records its time.
    pub fn after_launch(&self, name: &'static str) {
        if let Some(p) = &self.profile {
            let _ = cubecl::future::block_on(self.client.sync());
            p.borrow_mut().record(name);
        }
    }

    /// The per-kernel profile, if `CUBENET_PROFILE=1` was set when the network was created.
    pub fn profile(&self) -> Option<Ref<'_, Profile>> {
        self.profile.as_ref().map(|p| p.borrow())
    }

    /// Records that one optimiser step was taken.
    pub fn finish_step(&mut self) {
        self.steps += 1;
    }

    /// How many times this state has read data back from the device so far: every `read_*`
    /// method counts one (one device-to-host transfer, however many buffers it names). Tests
    /// use it to check what a training step reads.
    #[doc(hidden)]
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// Counts one read from the device (see [`NetState::reads`]).
    pub(crate) fn count_read(&self) {
        self.reads.set(self.reads.get() + 1);
    }

    /// Adam steps taken (or restored), `None` before the first.
    pub fn adam_step(&self) -> Option<u64> {
        self.adam.as_ref().map(|a| a.step)
    }
}

/// Whether `client` is a software adapter that runs cubes on CPU threads (Mesa's
/// llvmpipe/lavapipe, SwiftShader, WARP).
fn is_software(client: &Client) -> bool {
    let adapter = client.properties().identity.name.to_lowercase();
    ["llvmpipe", "lavapipe", "swiftshader", "warp"]
        .iter()
        .any(|s| adapter.contains(s))
}
