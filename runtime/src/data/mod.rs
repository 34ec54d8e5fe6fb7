//! Datasets and data loading: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary readers, an
//! in-memory [`Dataset`] of u8 images (NCHW), torchvision-style [`Normalize`], and a
//! shuffling, prefetching [`DataLoader`] yielding f32 [`Batch`]es.
//!
//! Every malformed file gives a [`DataError`] that names the file and what is wrong; no byte
//! sequence makes these readers panic.

mod cifar;
mod dataset;
mod error;
mod idx;
mod loader;

pub use cifar::{read_cifar_batch, CifarBatch};
pub use dataset::{Dataset, Normalize, Split};
pub use error::DataError;
pub use idx::{read_idx_images, read_idx_labels, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
pub use loader::{Batch, DataLoader, Epoch};
