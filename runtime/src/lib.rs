//! # cubenet-runtime
//!
//! What training a `#[network]` needs besides its kernels: the device state of a compiled
//! network ([`NetState`], [`Network`]), datasets and a data loader ([`data`]), optimizers
//! ([`Sgd`], [`Adam`] and AdamW, gradient clipping: [`optim`]), learning-rate schedules
//! ([`schedule`]), the training loop ([`trainer`]) and checkpoints ([`checkpoint`]).
pub mod checkpoint;
pub mod curves;
pub mod data;
pub mod device;
pub mod error;
pub mod infer;
pub mod layout;
pub mod network;
pub mod optim;
pub mod plan;
pub mod profile;
mod report;
pub mod resume;
pub mod schedule;
pub mod state;
pub mod state_dict;
pub mod stop;
pub mod targets;
pub mod trainer;

pub use device::{default_device, describe, Device, Target};
pub use error::{Error, Result};
pub use layout::{BlockInfo, BufferInfo, Init, Layout, ParamInfo};
pub use network::Network;
pub use optim::step::{mean_in_order, StepArgs};
pub use optim::{Adam, Optimizer, Sgd};
pub use plan::KernelPlan;
pub use state::NetState;
pub use state_dict::NamedTensor;
pub use stop::StopFlag;
pub use targets::BatchTargets;
