//! [`DataLoaderBuilder`]: a [`DataLoader`] from named settings, as PyTorch's
//! `DataLoader(dataset, batch_size=64, shuffle=True, drop_last=False)` reads.
use std::sync::Arc;

use super::{DataError, DataLoader, Dataset, Normalize, Transform};

/// Named settings of a [`DataLoader`]; start from [`DataLoader::builder`].
///
/// Defaults, as PyTorch's `DataLoader`: `batch_size` 1, `shuffle` false, `drop_last` false,
/// seed 0, no normalisation beyond `byte / 255` ([`Normalize::identity`]), no transforms.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use cubenet_runtime::data::{DataLoader, Dataset, Normalize, Split};
/// # fn main() -> Result<(), cubenet_runtime::data::DataError> {
/// let train = Arc::new(Dataset::mnist("data".as_ref(), Split::Train)?);
/// let loader = DataLoader::builder(train.clone())
///     .batch_size(64)
///     .shuffle(true)
///     .seed(42)
///     .normalize(Normalize::from_dataset(&train)?)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the loader"]
pub struct DataLoaderBuilder {
    dataset: Arc<Dataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    normalize: Option<Normalize>,
    transforms: Vec<Transform>,
}

impl DataLoader {
    /// A [`DataLoaderBuilder`] over `dataset` with PyTorch's defaults.
    pub fn builder(dataset: Arc<Dataset>) -> DataLoaderBuilder {
        DataLoaderBuilder {
            dataset,
            batch_size: 1,
            shuffle: false,
            drop_last: false,
            seed: 0,
            normalize: None,
            transforms: Vec::new(),
        }
    }
}

impl DataLoaderBuilder {
    /// Rows per batch (default 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Visit the samples in a new permutation every epoch (default false: file order).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }
    /// Skip a last batch shorter than `batch_size` (default false).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }
    /// Seed of the shuffle and of the transforms (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Per-channel normalisation (default: [`Normalize::identity`]); see
    /// [`Normalize::from_dataset`] to compute it from the training set.
    pub fn normalize(mut self, normalize: Normalize) -> Self {
        self.normalize = Some(normalize);
        self
    }
    /// Augmentation of every sample, in order (default none); see
    /// [`DataLoader::with_transforms`].
    pub fn transforms(mut self, transforms: Vec<Transform>) -> Self {
        self.transforms = transforms;
        self
    }
    /// The loader.
    ///
    /// # Errors
    /// As [`DataLoader::new`] and [`DataLoader::with_transforms`].
    pub fn build(self) -> Result<DataLoader, DataError> {
        let channels = self.dataset.image_shape()[0];
        let normalize = self
            .normalize
            .unwrap_or_else(|| Normalize::identity(channels));
        let loader = DataLoader::new(
            self.dataset,
            self.batch_size,
            self.shuffle,
            self.drop_last,
            normalize,
            self.seed,
        )?;
        if self.transforms.is_empty() {
            Ok(loader)
        } else {
            loader.with_transforms(self.transforms)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder's loader yields the same batches as `DataLoader::new` with the same
    /// settings; its defaults are PyTorch's.
    #[test]
    fn builder_equals_new_with_the_same_settings() {
        let images: Vec<u8> = (0..10 * 4).map(|i| (i * 7 % 256) as u8).collect();
        let ds = Arc::new(
            Dataset::from_raw(images, (0..10).map(|i| i % 3).collect(), [1, 2, 2], 3).unwrap(),
        );
        let norm = Normalize {
            mean: vec![0.5],
            std: vec![0.25],
        };
        let built = DataLoader::builder(ds.clone())
            .batch_size(4)
            .shuffle(true)
            .drop_last(true)
            .seed(9)
            .normalize(norm.clone())
            .build()
            .unwrap();
        let new = DataLoader::new(ds.clone(), 4, true, true, norm, 9).unwrap();
        let batches = |l: &DataLoader| -> Vec<(Vec<f32>, Vec<u32>)> {
            l.epoch(1).map(|b| (b.images, b.labels)).collect()
        };
        assert_eq!(batches(&built), batches(&new));
        assert_eq!(batches(&built).len(), 2, "drop_last");
        let d = DataLoader::builder(ds).build().unwrap();
        assert_eq!(
            (d.batch_size(), d.shuffle(), d.drop_last(), d.seed()),
            (1, false, false, 0)
        );
        assert_eq!(d.normalize(), &Normalize::identity(1));
        assert!(DataLoader::builder(Arc::new(
            Dataset::from_raw(vec![0; 4], vec![0], [1, 2, 2], 1).unwrap()
        ))
        .batch_size(0)
        .build()
        .is_err());
    }
}
