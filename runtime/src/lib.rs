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
pub mod model;
pub mod optim;
pub mod resume;
pub mod schedule;
pub mod stop;
pub mod trainer;

pub use device::{default_device, describe, Device};
pub use error::{Error, Result};
pub use model::{
    mean_in_order, BlockInfo, BufferInfo, Init, Layout, NamedTensor, NetState, Network, ParamInfo,
    StepArgs,
};
pub use optim::{Adam, Optimizer, Sgd};
pub use stop::StopFlag;
