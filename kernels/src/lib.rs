//! # cubenet-kernels
//!
//! The `#[cube]` building blocks that `#[network]` composes into fused, statically shaped
//! kernels, and an f64 CPU reference for each op (the test oracle).
//!
//! Every building block computes one *unit* of work (for example one pooled output position
//! of one sample for a block of output channels) from a comptime configuration (`ConvCfg`,
//! `LinearCfg`, `HeadCfg`) whose fields are the layer's shapes and the offsets of its tensors
//! in the network's arenas. The macro concatenates the unit ranges of several building blocks
//! into one kernel (horizontal fusion) so that a whole training step is a handful of launches.
//!
//! ## Arenas
//! A network keeps five device buffers, shared by every kernel:
//! - `params` (f32): every parameter, in `state_dict` order (`conv1.weight` OIHW,
//!   `conv1.bias`, `fc1.weight` as out x in, ...);
//! - `velocity` (f32): the SGD momentum buffer of each parameter, same layout;
//! - `grads` (f32): the gradient of the mean loss for each parameter, same layout;
//! - `acts` (f32): per-sample tensors (input batch, each block's output, the gradient of the
//!   loss with respect to it, per-row losses, logits). A tensor of `k` floats per sample at
//!   per-sample offset `o` occupies `acts[o * cap .. (o + k) * cap]`, row-major over the batch
//!   (NCHW), where `cap` is the batch capacity the network was allocated for;
//! - `idx` (u32): labels, max-pool argmax indices and per-row correctness flags, laid out the
//!   same way.

// `#[cube]` expands every kernel function into an undocumented module of expansion helpers,
// which `missing_docs` would flag; the items written here are documented.
#![allow(missing_docs)]

pub mod act;
pub mod adam;
pub mod avg_pool;
pub mod conv;
pub mod dropout;
pub mod finite;
pub mod head;
pub mod linear;
pub mod max_pool;
pub mod norm;
pub mod reference;
pub mod sgd;

pub use act::Act;
pub use adam::{AdamFlags, AdamScalars};
pub use avg_pool::AvgPoolCfg;
pub use conv::ConvCfg;
pub use dropout::DropoutCfg;
pub use head::{HeadCfg, Loss};
pub use linear::LinearCfg;
pub use max_pool::MaxPoolCfg;
pub use norm::NormCfg;
pub use sgd::SgdFlags;

/// The most loop iterations one shader invocation may run on Mesa's llvmpipe / lavapipe (the
/// CPU Vulkan driver), counted over every loop of the shader together.
///
/// Mesa's gallivm stops a shader's loops once `LP_MAX_TGSI_LOOP_ITERATIONS` = 65535
/// iterations have run in total (`src/gallium/auxiliary/gallivm/lp_bld_limits.h`: "shared
/// between every loop"); the kernel then silently continues with partial results. Measured
/// with Mesa 22.3 (Debian 12): a shader whose two loops run 65536 iterations in total loses
/// its last two, one running 65534 completes (`tests/poisoned.rs`), hence 65534.
/// Each building block reports an upper bound of its own count (`*_loop_iterations`), and
/// the runtime refuses a network whose bound exceeds this limit on that driver. GPU drivers
/// and the `cpu` runtime have no such limit.
pub const LOOP_LIMIT: usize = 65534;

/// Re-export of the cubecl version the kernels are written against.
pub use cubecl;
