//! Datasets and data loading: IDX (MNIST, Fashion-MNIST), CIFAR-10 binary, `.npy`,
//! safetensors and image-folder readers; an in-memory [`Dataset`] of u8 or f32 samples (NCHW)
//! with class or f32 [`Targets`]; torchvision-style [`Normalize`] and augmentation
//! ([`RandomCrop`], [`RandomHorizontalFlip`]); and a shuffling, prefetching [`DataLoader`]
//! yielding f32 [`Batch`]es.
//!
//! Every malformed file gives a [`DataError`] that names the file and what is wrong; no byte
//! sequence makes these readers panic.

mod array;
mod augment;
mod builder;
mod cifar;
mod dataset;
mod error;
mod idx;
mod image_folder;
mod loader;
mod npy;
mod safetensors_file;
mod targets;

pub use augment::{sample_rng, RandomCrop, RandomHorizontalFlip, Transform};
pub use builder::DataLoaderBuilder;
pub use cifar::{read_cifar_batch, CifarBatch};
pub use dataset::{Dataset, Normalize, Split};
pub use error::DataError;
pub use idx::{read_idx_images, read_idx_labels, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
pub use image_folder::ImageFolder;
pub use loader::{Batch, DataLoader, Epoch};
pub use targets::{Samples, TargetKind, Targets};
