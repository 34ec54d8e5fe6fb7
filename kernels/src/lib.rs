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

pub mod conv;
pub mod head;
pub mod linear;
pub mod reference;
pub mod sgd;

pub use conv::ConvCfg;
pub use head::HeadCfg;
pub use linear::LinearCfg;
pub use sgd::SgdFlags;

/// Re-export of the cubecl version the kernels are written against.
pub use cubecl;
