//! Batching, shuffling, augmentation and normalisation, with the next batch prepared on a
//! background thread.

use super::augment::sample_rng;
use super::{DataError, Dataset, Normalize, Samples, Targets, Transform};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One mini-batch, ready for the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `len x C x H x W` values (NCHW; `C x H x W` is [`DataLoader::sample_shape`], the
    /// shape after the loader's transforms), each `(byte / 255 - mean[c]) / std[c]` for u8
    /// samples, `(value - mean[c]) / std[c]` for f32 samples.
    pub images: Vec<f32>,
    /// `len` class labels, each `< num_classes`, for a dataset of [`Targets::Classes`];
    /// empty for [`Targets::Values`].
    pub labels: Vec<u32>,
    /// `len x len_per_sample` target values, row-major (row `r` is
    /// `targets[r * len_per_sample..(r + 1) * len_per_sample]`, the targets of dataset sample
    /// `indices[r]`, as stored: not normalised, not augmented), for a dataset of
    /// [`Targets::Values`]; empty for [`Targets::Classes`].
    pub targets: Vec<f32>,
    /// Rows present: the batch size, except that the last batch of an epoch may be short.
    pub len: usize,
    /// Position of this batch in its epoch, `0..num_batches()`.
    pub index: usize,
    /// Dataset index of each row.
    pub indices: Vec<usize>,
}

/// Splits a [`Dataset`] into normalised mini-batches, epoch after epoch.
///
/// With `shuffle`, epoch `e` visits the samples in a permutation drawn by a Fisher-Yates
/// shuffle from `ChaCha8Rng::seed_from_u64(seed)` on stream `e`: reproducible for a given
/// `(seed, e)`, different between epochs. Without it, samples come in file order.
///
/// A training loader may augment its samples ([`DataLoader::with_transforms`]): each sample's
/// transforms draw from [`sample_rng`](super::sample_rng)`(seed, e, position)`, so the
/// batches are bitwise reproducible too.
#[derive(Debug, Clone)]
pub struct DataLoader {
    dataset: Arc<Dataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    normalize: Normalize,
    table: Arc<Vec<[f32; 256]>>,
    seed: u64,
    transforms: Arc<Vec<Transform>>,
    sample_shape: [usize; 3],
}

impl DataLoader {
    /// Creates a loader of `batch_size` rows per batch. With `drop_last`, a final batch
    /// shorter than `batch_size` is skipped (as PyTorch's `DataLoader`).
    ///
    /// # Errors
    /// [`DataError::InvalidLoader`] if `batch_size` is 0 or an epoch would have 0 batches
    /// (empty dataset, or `drop_last` with fewer samples than `batch_size`);
    /// [`DataError::InvalidNormalize`] if `normalize` does not fit the image channels.
    pub fn new(
        dataset: Arc<Dataset>,
        batch_size: usize,
        shuffle: bool,
        drop_last: bool,
        normalize: Normalize,
        seed: u64,
    ) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::InvalidLoader("batch_size must be > 0".into()));
        }
        normalize.validate(dataset.image_shape()[0])?;
        let dataset_shape = dataset.image_shape();
        let table = Arc::new(normalize.table());
        let loader = DataLoader {
            dataset,
            batch_size,
            shuffle,
            drop_last,
            normalize,
            table,
            seed,
            transforms: Arc::new(Vec::new()),
            sample_shape: dataset_shape,
        };
        if loader.num_batches() == 0 {
            return Err(DataError::InvalidLoader(format!(
                "0 batches per epoch: {} samples, batch_size {}, drop_last {}",
                loader.dataset.len(),
                batch_size,
                drop_last
            )));
        }
        Ok(loader)
    }

    /// The same loader with data augmentation: `transforms` run in order on every sample of
    /// every batch (e.g. torchvision's CIFAR-10 training recipe
    /// `[RandomCrop::new(32, 4).into(), RandomHorizontalFlip::default().into()]`), on the raw
    /// sample (bytes or f32) before normalisation, in the background thread. Sample `position`
    /// of epoch `e` (its place in the epoch's order) draws from
    /// [`sample_rng`](super::sample_rng)`(seed, e, position)`. Meant for training loaders;
    /// leave evaluation loaders without.
    ///
    /// ```
    /// use cubenet_runtime::data::{DataLoader, Dataset, Normalize, RandomCrop, RandomHorizontalFlip};
    /// use std::sync::Arc;
    /// let ds = Arc::new(Dataset::from_raw(vec![7; 2 * 3 * 8 * 8], vec![0, 1], [3, 8, 8], 2)?);
    /// let train = DataLoader::new(ds, 2, true, false, Normalize::identity(3), 0)?
    ///     .with_transforms(vec![RandomCrop::new(8, 2).into(), RandomHorizontalFlip::default().into()])?;
    /// let batch = train.epoch(1).next().unwrap();
    /// assert_eq!(batch.images.len(), 2 * 3 * 8 * 8);
    /// # Ok::<(), cubenet_runtime::data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::InvalidLoader`] if a transform does not fit the samples (a crop larger
    /// than the padded image or of size 0, a flip probability outside `[0, 1]`).
    pub fn with_transforms(mut self, transforms: Vec<Transform>) -> Result<Self, DataError> {
        let mut shape = self.dataset.image_shape();
        for (k, t) in transforms.iter().enumerate() {
            shape = t
                .output_shape(shape)
                .map_err(|m| DataError::InvalidLoader(format!("transform {k}: {m}")))?;
        }
        self.sample_shape = shape;
        self.transforms = Arc::new(transforms);
        Ok(self)
    }

    /// The augmentation steps, in order (empty: none).
    pub fn transforms(&self) -> &[Transform] {
        &self.transforms
    }

    /// Shape `[C, H, W]` of one sample of a batch: the dataset's, changed by the transforms
    /// (a [`RandomCrop`](super::RandomCrop) of another size).
    pub fn sample_shape(&self) -> [usize; 3] {
        self.sample_shape
    }

    /// Rows per full batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether each epoch visits the samples in a seeded random order.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// Whether a final short batch is skipped.
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// The seed of the shuffle.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Batches per epoch: `ceil(N / batch_size)`, or `floor(N / batch_size)` with `drop_last`.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The dataset batches are drawn from.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// The normalisation applied to every pixel.
    pub fn normalize(&self) -> &Normalize {
        &self.normalize
    }

    /// The order in which epoch `epoch` visits the dataset: a permutation of `0..N`
    /// (identity without shuffling). Rows dropped by `drop_last` are the tail of it.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of epoch `epoch`, in order. A background thread builds up to two batches
    /// ahead while the caller works; it stops when the iterator is dropped.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from index `first` on (for resuming mid-epoch): the same
    /// batches, with the same `index`, as the tail of [`DataLoader::epoch`].
    pub fn epoch_from(&self, epoch: u64, first: usize) -> Epoch {
        let (tx, rx) = sync_channel(2);
        let order = self.order(epoch);
        let source = Source {
            dataset: Arc::clone(&self.dataset),
            table: Arc::clone(&self.table),
            normalize: self.normalize.clone(),
            transforms: Arc::clone(&self.transforms),
            seed: self.seed,
            epoch,
        };
        let (bs, count) = (self.batch_size, self.num_batches());
        let first = first.min(count);
        let worker = std::thread::spawn(move || {
            for (index, rows) in order.chunks(bs).take(count).enumerate().skip(first) {
                if tx.send(source.batch(rows, index, index * bs)).is_err() {
                    return; // the iterator was dropped
                }
            }
        });
        Epoch {
            rx: Some(rx),
            worker: Some(worker),
            remaining: count - first,
        }
    }
}

/// What the background thread needs to build an epoch's batches.
struct Source {
    dataset: Arc<Dataset>,
    table: Arc<Vec<[f32; 256]>>,
    normalize: Normalize,
    transforms: Arc<Vec<Transform>>,
    seed: u64,
    epoch: u64,
}

impl Source {
    /// Batch `index` of the epoch, of dataset samples `rows`, the first of which is at
    /// `position` in the epoch's order.
    fn batch(&self, rows: &[usize], index: usize, position: usize) -> Batch {
        let ds = &*self.dataset;
        let mut images = Vec::with_capacity(rows.len() * ds.sample_len());
        for (r, &i) in rows.iter().enumerate() {
            let position = (position + r) as u64;
            match ds.samples() {
                Samples::U8(bytes) => {
                    let (raw, shape) = self.augment(sample(bytes, ds, i), ds, position);
                    let plane = shape[1] * shape[2];
                    for (bytes, lut) in raw.chunks_exact(plane).zip(self.table.iter()) {
                        images.extend(bytes.iter().map(|&b| lut[usize::from(b)]));
                    }
                }
                Samples::F32(values) => {
                    let (raw, shape) = self.augment(sample(values, ds, i), ds, position);
                    let plane = shape[1] * shape[2];
                    let norm = &self.normalize;
                    for (c, values) in raw.chunks_exact(plane).enumerate() {
                        let (m, s) = (norm.mean[c], norm.std[c]);
                        images.extend(values.iter().map(|&x| (x - m) / s));
                    }
                }
            }
        }
        let (labels, targets) = match ds.targets() {
            Targets::Classes { labels, .. } => (rows.iter().map(|&i| labels[i]).collect(), vec![]),
            Targets::Values {
                values,
                len_per_sample: k,
            } => {
                let t = rows
                    .iter()
                    .flat_map(|&i| &values[i * k..(i + 1) * k])
                    .copied()
                    .collect();
                (vec![], t)
            }
        };
        Batch {
            images,
            labels,
            targets,
            len: rows.len(),
            index,
            indices: rows.to_vec(),
        }
    }

    /// The sample after the transforms (borrowed as it is when there are none).
    fn augment<'a, T: Copy + Default>(
        &self,
        raw: &'a [T],
        ds: &Dataset,
        position: u64,
    ) -> (std::borrow::Cow<'a, [T]>, [usize; 3])
    where
        [T]: ToOwned<Owned = Vec<T>>,
    {
        let mut shape = ds.image_shape();
        if self.transforms.is_empty() {
            return (std::borrow::Cow::Borrowed(raw), shape);
        }
        let mut rng = sample_rng(self.seed, self.epoch, position);
        let mut data = raw.to_vec();
        for t in self.transforms.iter() {
            (data, shape) = t.apply(&data, shape, &mut rng);
        }
        (std::borrow::Cow::Owned(data), shape)
    }
}

/// Sample `i` of a dataset's values.
fn sample<'a, T>(values: &'a [T], ds: &Dataset, i: usize) -> &'a [T] {
    let s = ds.sample_len();
    &values[i * s..(i + 1) * s]
}

/// Iterator over the batches of one epoch (see [`DataLoader::epoch`]).
///
/// Dropping it early stops and joins the background thread.
#[derive(Debug)]
pub struct Epoch {
    rx: Option<Receiver<Batch>>,
    worker: Option<JoinHandle<()>>,
    remaining: usize,
}

impl Iterator for Epoch {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.remaining == 0 {
            return None;
        }
        match self.rx.as_ref()?.recv() {
            Ok(batch) => {
                self.remaining -= 1;
                Some(batch)
            }
            Err(_) => {
                // The worker ended early: it can only have panicked; pass the panic on.
                self.remaining = 0;
                if let Some(Err(panic)) = self.worker.take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Epoch {}

impl Drop for Epoch {
    fn drop(&mut self) {
        drop(self.rx.take()); // unblocks a worker waiting to send
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::{IMAGES, LABELS};

    /// N samples of 1x1x1 whose byte is `i % 256` and label `i % 10`.
    fn tiny(n: usize) -> Arc<Dataset> {
        let images = (0..n).map(|i| (i % 256) as u8).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Arc::new(Dataset::from_raw(images, labels, [1, 1, 1], 10).unwrap())
    }

    fn loader(ds: Arc<Dataset>, bs: usize, shuffle: bool, drop: bool, seed: u64) -> DataLoader {
        DataLoader::new(ds, bs, shuffle, drop, Normalize::identity(1), seed).unwrap()
    }

    fn lens(l: &DataLoader) -> Vec<usize> {
        l.epoch(0).map(|b| b.len).collect()
    }

    #[test]
    fn batch_sizes() {
        assert_eq!(lens(&loader(tiny(10), 4, true, false, 1)), vec![4, 4, 2]);
        assert_eq!(lens(&loader(tiny(10), 4, true, true, 1)), vec![4, 4]);
        for (n, full, last) in [(60000, 468, 96), (10000, 78, 16)] {
            let l = loader(tiny(n), 128, true, false, 3);
            assert_eq!(l.num_batches(), full + 1);
            let got = lens(&l);
            assert_eq!(
                (got.len(), got[full], got[..full].iter().all(|&x| x == 128)),
                (full + 1, last, true)
            );
            assert_eq!(loader(tiny(n), 128, false, true, 3).num_batches(), full);
        }
    }

    #[test]
    fn zero_batches_is_an_error() {
        let e = |ds, bs, drop| DataLoader::new(ds, bs, false, drop, Normalize::identity(1), 0);
        let m = e(tiny(0), 4, false).unwrap_err().to_string();
        assert!(
            m.contains("0 batches per epoch") && m.contains("0 samples"),
            "{m}"
        );
        let m = e(tiny(3), 4, true).unwrap_err().to_string();
        assert!(m.contains("0 batches per epoch") && m.contains("3 samples") && m.contains("4"));
        assert!(e(tiny(3), 0, false)
            .unwrap_err()
            .to_string()
            .contains("batch_size"));
        let wrong = Normalize::identity(3);
        assert!(DataLoader::new(tiny(3), 1, false, false, wrong, 0).is_err());
    }

    #[test]
    fn epochs_are_permutations_and_reproducible() {
        let n = 37;
        let l = loader(tiny(n), 5, true, false, 42);
        let mut seen = Vec::new();
        for (k, b) in l.epoch(7).enumerate() {
            assert_eq!((b.index, b.labels.len(), b.images.len()), (k, b.len, b.len));
            for (r, &i) in b.indices.iter().enumerate() {
                assert_eq!(b.labels[r], (i % 10) as u32);
                assert_eq!(b.images[r], i as f32 / 255.0);
            }
            seen.extend(b.indices);
        }
        assert_eq!(seen, l.order(7));
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        assert_ne!(l.order(0), l.order(1));
        assert_eq!(l.order(3), loader(tiny(n), 5, true, false, 42).order(3));
        assert_ne!(l.order(3), loader(tiny(n), 5, true, false, 43).order(3));
        let plain = loader(tiny(n), 5, false, false, 42);
        assert_eq!(plain.order(9), (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn idx_fixture_as_f32() {
        let ds = Dataset::from_raw(IMAGES[16..].to_vec(), LABELS[8..].to_vec(), [1, 2, 3], 10);
        let l = loader(Arc::new(ds.unwrap()), 2, false, false, 0);
        let b = l.epoch(0).next().unwrap();
        assert_eq!(b.labels, vec![7, 2]);
        let want = [
            0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.0, 0.501961, 0.00392157, 0.00784314, 0.0117647,
        ];
        for (g, w) in b.images.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn normalisation_values() {
        // 2 samples of 3x1x2, bytes chosen to cover 0, 255 and values in between.
        let bytes: Vec<u8> = vec![0, 255, 1, 128, 51, 200, 255, 0, 77, 3, 254, 100];
        let ds = Arc::new(Dataset::from_raw(bytes.clone(), vec![0, 1], [3, 1, 2], 10).unwrap());
        let (mean, std) = (vec![0.4914, 0.4822, 0.4465], vec![0.247, 0.243, 0.261]);
        let norm = Normalize {
            mean: mean.clone(),
            std: std.clone(),
        };
        let l = DataLoader::new(ds, 2, false, false, norm, 0).unwrap();
        let b = l.epoch(0).next().unwrap();
        for (k, (&g, &byte)) in b.images.iter().zip(&bytes).enumerate() {
            let c = (k / 2) % 3;
            assert_eq!(
                g,
                (f32::from(byte) / 255.0 - mean[c]) / std[c],
                "element {k}"
            );
        }
    }

    #[test]
    fn dropping_early_stops_the_worker() {
        let l = loader(tiny(1000), 1, true, false, 5);
        let mut e = l.epoch(0);
        assert_eq!(e.len(), 1000);
        assert_eq!(e.next().map(|b| b.len), Some(1));
        drop(e); // must not hang
        drop(l.epoch(1));
        assert_eq!(l.epoch(2).count(), 1000);
    }
}
