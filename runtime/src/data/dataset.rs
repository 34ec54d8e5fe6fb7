//! In-memory datasets (u8 or f32 samples, class or f32 targets), and the torchvision-style
//! normalisation.

use super::cifar::{self, CIFAR_CHANNELS, CIFAR_HINT, CIFAR_NUM_CLASSES, CIFAR_SIDE};
use super::idx::{read_idx_images, read_idx_labels, IDX_NUM_CLASSES};
use super::{DataError, Samples, Targets};
use std::path::{Path, PathBuf};

/// Which part of a dataset to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set (MNIST-style: 60000 samples; CIFAR-10: 50000).
    Train,
    /// The test set (10000 samples for MNIST-style and CIFAR-10).
    Test,
}

/// A dataset held in memory: `N` samples of `C x H x W` values (NCHW) and their targets.
///
/// Samples are u8 bytes or f32 values ([`Samples`]); they become f32 (`byte / 255` in
/// `[0, 1]`, or the f32 as it is), then [`Normalize`]d, only when a
/// [`DataLoader`](super::DataLoader) builds a batch. Targets are class indices or f32 vectors
/// ([`Targets`]). The counterpart of PyTorch's `TensorDataset(x, y)` is
/// [`Dataset::from_tensors`]; files are read by [`Dataset::mnist`], [`Dataset::cifar10`],
/// [`Dataset::from_npy`], [`Dataset::from_safetensors`] and
/// [`ImageFolder`](super::ImageFolder).
///
/// ```
/// use cubenet_runtime::data::{Dataset, Targets};
/// // Two 1 x 1 x 2 samples with two regression targets each.
/// let ds = Dataset::from_f32(
///     vec![0.5, -1.0, 2.0, 3.0],
///     [1, 1, 2],
///     Targets::Values { values: vec![1.0, 2.0, 3.0, 4.0], len_per_sample: 2 },
/// )?;
/// assert_eq!((ds.len(), ds.sample_len(), ds.num_classes()), (2, 2, 0));
/// # Ok::<(), cubenet_runtime::data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    samples: Samples,
    targets: Targets,
    channels: usize,
    height: usize,
    width: usize,
}

impl Dataset {
    /// Builds a dataset from raw bytes: `images` holds `labels.len()` samples of
    /// `c * h * w` bytes each (NCHW); `[c, h, w] = shape`.
    ///
    /// # Errors
    /// [`DataError::InvalidRaw`] if a dimension is 0, `num_classes` is not in `1..=256`,
    /// `images.len() != labels.len() * c * h * w`, or a label is `>= num_classes`
    /// (the message names the index).
    pub fn from_raw(
        images: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
        num_classes: usize,
    ) -> Result<Dataset, DataError> {
        if !(1..=256).contains(&num_classes) {
            return Err(DataError::InvalidRaw(format!(
                "num_classes is {num_classes}, must be in 1..=256"
            )));
        }
        let labels = labels.into_iter().map(u32::from).collect();
        let targets = Targets::Classes {
            labels,
            num_classes,
        };
        Dataset::new(Samples::U8(images), shape, targets)
    }

    /// Builds a dataset of `targets.len()` samples of shape `[c, h, w] = shape` (NCHW, sample
    /// after sample) from u8 or f32 values.
    ///
    /// # Errors
    /// [`DataError::InvalidRaw`] if a dimension is 0, `samples.len() != N * c * h * w`, an
    /// f32 sample value is not finite, or the targets are inconsistent: `num_classes` not in
    /// `1..=2^32`, a label `>= num_classes`, `len_per_sample == 0`, a value count that is not
    /// a multiple of it, or a non-finite target value (each message names the index).
    pub fn new(
        samples: Samples,
        shape: [usize; 3],
        targets: Targets,
    ) -> Result<Dataset, DataError> {
        let bad = |m: String| Err(DataError::InvalidRaw(m));
        let [channels, height, width] = shape;
        let sample_len = channels
            .checked_mul(height)
            .and_then(|x| x.checked_mul(width));
        let Some(sample_len) = sample_len.filter(|&s| s > 0) else {
            return bad(format!(
                "image shape {shape:?} must have every dimension > 0"
            ));
        };
        targets.check().map_err(DataError::InvalidRaw)?;
        let n = targets.len();
        if n.checked_mul(sample_len) != Some(samples.len()) {
            return bad(format!(
                "{} {} sample values for {n} targets of shape {shape:?} ({sample_len} values each)",
                samples.len(),
                samples.dtype(),
            ));
        }
        if let Samples::F32(v) = &samples {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return bad(format!(
                    "sample value {} at index {i} (sample {}) is not finite",
                    v[i],
                    i / sample_len
                ));
            }
        }
        Ok(Dataset {
            samples,
            targets,
            channels,
            height,
            width,
        })
    }

    /// [`Dataset::new`] for u8 samples (bytes `0..=255`, read as `byte / 255`).
    ///
    /// # Errors
    /// As [`Dataset::new`].
    pub fn from_u8(
        images: Vec<u8>,
        shape: [usize; 3],
        targets: Targets,
    ) -> Result<Dataset, DataError> {
        Dataset::new(Samples::U8(images), shape, targets)
    }

    /// [`Dataset::new`] for f32 samples (used as they are, then normalised).
    ///
    /// # Errors
    /// As [`Dataset::new`].
    pub fn from_f32(
        samples: Vec<f32>,
        shape: [usize; 3],
        targets: Targets,
    ) -> Result<Dataset, DataError> {
        Dataset::new(Samples::F32(samples), shape, targets)
    }

    /// The counterpart of PyTorch's `TensorDataset(x, y)`: `samples` is a tensor of shape
    /// `tensor_shape`, either `[N, C, H, W]` or `[N, H, W]` (one channel), row-major, as
    /// `x.shape` and `x.flatten()` give it; `targets` holds `N` samples' targets.
    ///
    /// # Errors
    /// [`DataError::InvalidRaw`] if `tensor_shape` has neither 3 nor 4 dimensions, its `N`
    /// differs from `targets.len()`, or for any reason of [`Dataset::new`].
    pub fn from_tensors(
        samples: Samples,
        tensor_shape: &[usize],
        targets: Targets,
    ) -> Result<Dataset, DataError> {
        let (n, shape) = nchw(tensor_shape).map_err(DataError::InvalidRaw)?;
        targets.check().map_err(DataError::InvalidRaw)?;
        if n != targets.len() {
            return Err(DataError::InvalidRaw(format!(
                "the samples tensor of shape {tensor_shape:?} holds {n} samples, the targets {}",
                targets.len()
            )));
        }
        Dataset::new(samples, shape, targets)
    }

    /// The same samples with other targets (e.g. for an autoencoder, see
    /// [`Dataset::inputs_as_targets`]).
    ///
    /// # Errors
    /// As [`Dataset::new`], e.g. if `targets` describe another number of samples.
    pub fn with_targets(self, targets: Targets) -> Result<Dataset, DataError> {
        let shape = self.image_shape();
        Dataset::new(self.samples, shape, targets)
    }

    /// Each sample's own input as an f32 target, as the loader would put it in a batch
    /// without augmentation: `(x - mean[c]) / std[c]` with `x = byte / 255` or the stored f32
    /// (use [`Normalize::identity`] for the raw `[0, 1]` pixels). [`Targets::Values`] with
    /// `len_per_sample = C * H * W`, so `values` holds `N * C * H * W` f32 (4 bytes each).
    ///
    /// A denoising autoencoder takes these from the clean images and attaches them to a noisy
    /// copy: `noisy.with_targets(clean.inputs_as_targets(&norm)?)`.
    ///
    /// # Errors
    /// [`DataError::InvalidNormalize`] if `normalize` does not fit the channels.
    pub fn inputs_as_targets(&self, normalize: &Normalize) -> Result<Targets, DataError> {
        normalize.validate(self.channels)?;
        let plane = self.height * self.width;
        let mut values = Vec::with_capacity(self.samples.len());
        match &self.samples {
            Samples::U8(bytes) => {
                let table = normalize.table();
                for (k, chunk) in bytes.chunks_exact(plane).enumerate() {
                    let lut = &table[k % self.channels];
                    values.extend(chunk.iter().map(|&b| lut[usize::from(b)]));
                }
            }
            Samples::F32(v) => {
                for (k, chunk) in v.chunks_exact(plane).enumerate() {
                    let c = k % self.channels;
                    let (m, s) = (normalize.mean[c], normalize.std[c]);
                    values.extend(chunk.iter().map(|&x| (x - m) / s));
                }
            }
        }
        Ok(Targets::Values {
            values,
            len_per_sample: self.sample_len(),
        })
    }

    /// Loads MNIST or Fashion-MNIST from `dir` (1 x 28 x 28 images, 10 classes).
    ///
    /// Looks for `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` ([`Split::Train`]) or
    /// `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte` ([`Split::Test`]), each raw or
    /// with a `.gz` suffix (gzip).
    ///
    /// # Errors
    /// [`DataError::MissingFile`] listing the names searched and the folder; any IDX error of
    /// [`read_idx_images`]/[`read_idx_labels`] (naming the file); [`DataError::CountMismatch`]
    /// naming both files if they hold different numbers of samples.
    pub fn mnist(dir: &Path, split: Split) -> Result<Dataset, DataError> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let what = |kind| format!("MNIST-format {prefix} {kind}");
        let images_path = find(dir, &what("images"), &format!("{prefix}-images-idx3-ubyte"))?;
        let labels_path = find(dir, &what("labels"), &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = read_idx_images(&images_path)?;
        let labels = read_idx_labels(&labels_path)?;
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images: images.count,
                labels: labels.len(),
                images_path,
                labels_path,
            });
        }
        Dataset::from_raw(
            images.data,
            labels,
            [1, images.rows, images.cols],
            IDX_NUM_CLASSES,
        )
    }

    /// Loads CIFAR-10 (binary version) from `dir`: 3 x 32 x 32 images (R, G, B planes),
    /// 10 classes. [`Split::Train`] reads `data_batch_1.bin` .. `data_batch_5.bin` in order,
    /// [`Split::Test`] reads `test_batch.bin`. `dir` is the extracted `cifar-10-batches-bin`
    /// folder, or a folder that contains it.
    ///
    /// # Errors
    /// [`DataError::MissingFile`] naming the missing file and where to get the data; any
    /// error of [`read_cifar_batch`](super::read_cifar_batch) (naming the file).
    pub fn cifar10(dir: &Path, split: Split) -> Result<Dataset, DataError> {
        let names: &[&str] = match split {
            Split::Train => &cifar::CIFAR_TRAIN_FILES,
            Split::Test => &[cifar::CIFAR_TEST_FILE],
        };
        let nested = dir.join("cifar-10-batches-bin");
        let dir = if !dir.join(names[0]).exists() && nested.is_dir() {
            &nested
        } else {
            dir
        };
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for name in names {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(DataError::MissingFile {
                    dir: dir.to_path_buf(),
                    what: format!(
                        "CIFAR-10 {} batch",
                        if names.len() > 1 { "training" } else { "test" }
                    ),
                    searched: vec![name.to_string()],
                    hint: CIFAR_HINT,
                });
            }
            let batch = cifar::read_cifar_batch(&path)?;
            images.extend_from_slice(&batch.images);
            labels.extend_from_slice(&batch.labels);
        }
        let shape = [CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE];
        Dataset::from_raw(images, labels, shape, CIFAR_NUM_CLASSES)
    }

    /// The first `min(n, len)` samples as a new dataset (e.g. a quick-test subset).
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let end = n * self.sample_len();
        let samples = match &self.samples {
            Samples::U8(v) => Samples::U8(v[..end].to_vec()),
            Samples::F32(v) => Samples::F32(v[..end].to_vec()),
        };
        Dataset {
            samples,
            targets: self.targets.head(n),
            ..*self
        }
    }

    /// Number of samples N.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the dataset holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape `[channels, height, width]` of one image.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Values (bytes or f32) per sample: `channels * height * width`.
    pub fn sample_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of classes, every label is below it; 0 for a dataset of
    /// [`Targets::Values`].
    pub fn num_classes(&self) -> usize {
        match self.targets {
            Targets::Classes { num_classes, .. } => num_classes,
            Targets::Values { .. } => 0,
        }
    }

    /// All samples, NCHW, `len() * sample_len()` values.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// All targets, one entry (class) or `len_per_sample` values per sample.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// All image bytes, NCHW, `len() * sample_len()` of them; empty for a dataset of f32
    /// samples (see [`Dataset::samples`]).
    pub fn images(&self) -> &[u8] {
        match &self.samples {
            Samples::U8(v) => v,
            Samples::F32(_) => &[],
        }
    }

    /// All class labels, one per sample; empty for a dataset of [`Targets::Values`].
    pub fn labels(&self) -> &[u32] {
        match &self.targets {
            Targets::Classes { labels, .. } => labels,
            Targets::Values { .. } => &[],
        }
    }

    /// The bytes (CHW) of sample `index`. Panics if `index >= len()` or the samples are f32
    /// (see [`Dataset::samples`]), like slice indexing.
    pub fn image(&self, index: usize) -> &[u8] {
        let s = self.sample_len();
        &self.images()[index * s..(index + 1) * s]
    }
}

/// Splits a tensor shape `[N, C, H, W]` or `[N, H, W]` into `N` and `[C, H, W]`.
pub(crate) fn nchw(shape: &[usize]) -> Result<(usize, [usize; 3]), String> {
    match *shape {
        [n, c, h, w] => Ok((n, [c, h, w])),
        [n, h, w] => Ok((n, [1, h, w])),
        _ => Err(format!(
            "the samples have {} dimensions (shape {shape:?}); expected 4 (N x C x H x W) or 3 \
             (N x H x W, one channel)",
            shape.len()
        )),
    }
}

/// Looks for `name` or `name.gz` in `dir`.
fn find(dir: &Path, what: &str, name: &str) -> Result<PathBuf, DataError> {
    let searched = vec![name.to_string(), format!("{name}.gz")];
    if let Some(p) = searched.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
        return Ok(p);
    }
    let hint = if dir.is_dir() {
        ""
    } else {
        " (the folder does not exist)"
    };
    Err(DataError::MissingFile {
        dir: dir.to_path_buf(),
        what: what.to_string(),
        searched,
        hint,
    })
}

/// Per-channel normalisation, as torchvision's `Normalize` after `ToTensor`:
/// `x = (byte / 255 - mean[c]) / std[c]` for u8 samples and `x = (v - mean[c]) / std[c]` for
/// f32 samples `v`, computed in f32 in that order.
///
/// Both vectors must have one entry per channel, every `std` finite and `> 0`, every `mean`
/// finite; [`Normalize::validate`] (called by [`DataLoader::new`](super::DataLoader::new))
/// checks this.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Per-channel mean, in the `[0, 1]` pixel units of `byte / 255` (the f32 samples' own
    /// units for f32 samples).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation, same units, each `> 0`.
    pub std: Vec<f32>,
}

impl Normalize {
    /// No normalisation beyond `byte / 255` (f32 samples pass unchanged): mean 0, std 1 for
    /// each of `channels` channels.
    pub fn identity(channels: usize) -> Normalize {
        Normalize {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// The per-channel mean and (population) standard deviation of every sample of `ds`, in
    /// the units [`Normalize`] takes (`byte / 255`, or the f32 values), summed in f64: what
    /// one computes by hand for torchvision's `Normalize(mean, std)` (e.g. CIFAR-10's
    /// training set gives about `[0.4914, 0.4822, 0.4465]`, `[0.2470, 0.2435, 0.2616]`). A
    /// channel whose values are all equal gets std 1 (nothing to scale).
    ///
    /// # Errors
    /// [`DataError::InvalidRaw`] for an empty dataset.
    pub fn from_dataset(ds: &Dataset) -> Result<Normalize, DataError> {
        if ds.is_empty() {
            return Err(DataError::InvalidRaw(
                "cannot compute the mean and std of an empty dataset".into(),
            ));
        }
        let [c, h, w] = ds.image_shape();
        let plane = h * w;
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        let mut add = |k: usize, v: f64| {
            let ch = (k / plane) % c;
            sum[ch] += v;
            sq[ch] += v * v;
        };
        match ds.samples() {
            Samples::U8(b) => b
                .iter()
                .enumerate()
                .for_each(|(k, &b)| add(k, b as f64 / 255.0)),
            Samples::F32(v) => v.iter().enumerate().for_each(|(k, &v)| add(k, v as f64)),
        }
        let n = (ds.len() * plane) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let sd = (q / n - m * m).max(0.0).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Normalize {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        })
    }

    /// Checks that this normalisation fits images of `channels` channels.
    ///
    /// # Errors
    /// [`DataError::InvalidNormalize`] if a length differs from `channels`, a `std` is not
    /// finite and `> 0`, or a `mean` is not finite (the message names the channel).
    pub fn validate(&self, channels: usize) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::InvalidNormalize(m));
        if self.mean.len() != channels || self.std.len() != channels {
            return bad(format!(
                "mean has {} and std has {} entries, but the images have {channels} channels",
                self.mean.len(),
                self.std.len()
            ));
        }
        if let Some(c) = self.std.iter().position(|&s| !(s.is_finite() && s > 0.0)) {
            return bad(format!("std[{c}] = {} must be finite and > 0", self.std[c]));
        }
        if let Some(c) = self.mean.iter().position(|m| !m.is_finite()) {
            return bad(format!("mean[{c}] = {} must be finite", self.mean[c]));
        }
        Ok(())
    }

    /// The normalised value of each byte, per channel: `table[c][b]`.
    pub(crate) fn table(&self) -> Vec<[f32; 256]> {
        let value = |b: usize, c: usize| (b as f32 / 255.0 - self.mean[c]) / self.std[c];
        (0..self.mean.len())
            .map(|c| std::array::from_fn(|b| value(b, c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cifar::tests::fixture as cifar_fixture;
    use crate::data::idx::tests::{gz, write, IMAGES, LABELS};

    #[test]
    fn mnist_fixture_raw_and_gz() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let enc = |b: &[u8]| if gzip { gz(b) } else { b.to_vec() };
            let sfx = if gzip { ".gz" } else { "" };
            write(
                dir.path(),
                &format!("t10k-images-idx3-ubyte{sfx}"),
                &enc(&IMAGES),
            );
            write(
                dir.path(),
                &format!("t10k-labels-idx1-ubyte{sfx}"),
                &enc(&LABELS),
            );
            let d = Dataset::mnist(dir.path(), Split::Test).unwrap();
            assert_eq!(
                (d.len(), d.image_shape(), d.sample_len()),
                (2, [1, 2, 3], 6)
            );
            assert_eq!(d.labels(), &[7, 2]);
            assert_eq!(d.image(1), &IMAGES[22..]);
            let e = Dataset::mnist(dir.path(), Split::Train).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e, DataError::MissingFile { .. }), "{m}");
            assert!(
                m.contains("train-images-idx3-ubyte, train-images-idx3-ubyte.gz"),
                "{m}"
            );
            assert!(m.contains(&*dir.path().to_string_lossy()), "{m}");
        }
    }

    #[test]
    fn mnist_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train-images-idx3-ubyte", &IMAGES);
        let three = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1];
        write(dir.path(), "train-labels-idx1-ubyte.gz", &gz(&three));
        let e = Dataset::mnist(dir.path(), Split::Train).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::CountMismatch {
                    images: 2,
                    labels: 3,
                    ..
                }
            ),
            "{e}"
        );
        let m = e.to_string();
        assert!(m.contains("train-images-idx3-ubyte") && m.contains("labels-idx1-ubyte.gz"));
    }

    #[test]
    fn cifar_dataset_and_missing_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cifar-10-batches-bin");
        std::fs::create_dir(&dir).unwrap();
        write(&dir, "test_batch.bin", &cifar_fixture(3));
        for d in [&dir, &root.path().to_path_buf()] {
            let ds = Dataset::cifar10(d, Split::Test).unwrap();
            assert_eq!(
                (ds.len(), ds.image_shape(), ds.num_classes()),
                (3, [3, 32, 32], 10)
            );
            assert_eq!(ds.labels(), &[1, 4, 7]);
        }
        for name in ["data_batch_1.bin", "data_batch_2.bin"] {
            write(&dir, name, &cifar_fixture(2));
        }
        let e = Dataset::cifar10(&dir, Split::Train).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("data_batch_3.bin") && m.contains("cifar-10-batches-bin"),
            "{m}"
        );
        assert!(
            m.contains("https://www.cs.toronto.edu/~kriz/cifar.html"),
            "{m}"
        );
    }

    #[test]
    fn from_raw_checks() {
        let ok = Dataset::from_raw(vec![0; 12], vec![0, 1], [3, 2, 1], 2).unwrap();
        assert_eq!((ok.len(), ok.sample_len(), ok.head(1).len()), (2, 6, 1));
        assert_eq!(ok.head(5), ok);
        assert!(Dataset::from_raw(vec![0; 12], vec![0, 1], [2, 2, 1], 2).is_err());
        assert!(Dataset::from_raw(vec![], vec![], [0, 2, 1], 2).is_err());
        assert!(Dataset::from_raw(vec![0; 2], vec![0, 1], [1, 1, 1], 0).is_err());
        let e = Dataset::from_raw(vec![0; 2], vec![0, 5], [1, 1, 1], 5).unwrap_err();
        assert!(e.to_string().contains("index 1"), "{e}");
        let empty = Dataset::from_raw(vec![], vec![], [1, 1, 1], 10).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn tensors_and_targets_checks() {
        let values = |v: Vec<f32>, k| Targets::Values {
            values: v,
            len_per_sample: k,
        };
        let classes = |l: Vec<u32>, n| Targets::Classes {
            labels: l,
            num_classes: n,
        };
        // [N, H, W] is one channel; [N, C, H, W] as given.
        let x: Vec<f32> = (0..12).map(|i| i as f32 / 4.0).collect();
        let ds = Dataset::from_tensors(
            Samples::F32(x.clone()),
            &[2, 2, 3],
            classes(vec![0, 299], 300),
        );
        let ds = ds.unwrap();
        assert_eq!(
            (ds.image_shape(), ds.labels(), ds.num_classes()),
            ([1, 2, 3], &[0, 299][..], 300)
        );
        assert_eq!(ds.head(1).samples(), &Samples::F32(x[..6].to_vec()));
        assert!(ds.images().is_empty());
        let ds = Dataset::from_tensors(
            Samples::U8(vec![1; 12]),
            &[3, 1, 2, 2],
            values(vec![0.5; 6], 2),
        );
        let ds = ds.unwrap();
        assert_eq!(
            (ds.len(), ds.image_shape(), ds.num_classes()),
            (3, [1, 2, 2], 0)
        );
        assert_eq!(ds.head(2).targets(), &values(vec![0.5; 4], 2));
        assert!(ds.labels().is_empty());
        let err = |s: Samples, shape: &[usize], t| {
            Dataset::from_tensors(s, shape, t).unwrap_err().to_string()
        };
        let m = err(Samples::F32(x.clone()), &[12], classes(vec![0; 12], 2));
        assert!(m.contains("1 dimensions"), "{m}");
        let m = err(Samples::F32(x.clone()), &[2, 2, 3], classes(vec![0; 3], 2));
        assert!(m.contains("holds 2 samples, the targets 3"), "{m}");
        let m = err(Samples::F32(x.clone()), &[2, 2, 3], classes(vec![0, 2], 2));
        assert!(m.contains("label 2 at index 1"), "{m}");
        let m = err(Samples::F32(x.clone()), &[2, 2, 3], classes(vec![0, 0], 0));
        assert!(m.contains("num_classes is 0"), "{m}");
        let m = err(Samples::F32(x.clone()), &[2, 2, 3], values(vec![0.0; 2], 0));
        assert!(m.contains("len_per_sample is 0"), "{m}");
        let m = err(
            Samples::F32(x.clone()),
            &[2, 2, 3],
            values(vec![0.0, f32::NAN], 1),
        );
        assert!(m.contains("index 1 (sample 1) is not finite"), "{m}");
        let mut inf = x.clone();
        inf[7] = f32::INFINITY;
        let m = err(Samples::F32(inf), &[2, 2, 3], values(vec![0.0; 2], 1));
        assert!(m.contains("sample value inf at index 7 (sample 1)"), "{m}");
        let m = err(Samples::F32(x), &[2, 2, 2], values(vec![0.0; 2], 1));
        assert!(m.contains("12 f32 sample values for 2 targets"), "{m}");
        assert_eq!(values(vec![0.0; 5], 2).len(), 2);
        assert!(Dataset::new(Samples::U8(vec![]), [1, 1, 1], values(vec![0.0; 3], 2)).is_err());
    }

    #[test]
    fn inputs_as_targets_are_the_normalised_samples() {
        let ds = Dataset::from_raw(vec![0, 51, 255, 102], vec![0, 1], [2, 1, 1], 2).unwrap();
        let norm = Normalize {
            mean: vec![0.5, 0.0],
            std: vec![0.5, 2.0],
        };
        let t = ds.inputs_as_targets(&norm).unwrap();
        assert_eq!(
            t,
            Targets::Values {
                values: vec![-1.0, 0.1, 1.0, 0.2],
                len_per_sample: 2
            }
        );
        let f = Dataset::from_f32(vec![3.0, -1.0, 1.0, 0.0], [2, 1, 1], t.clone()).unwrap();
        assert!(f.clone().with_targets(t).is_ok());
        let t = f.inputs_as_targets(&norm).unwrap();
        let want = vec![5.0, -0.5, 1.0, 0.0];
        assert_eq!(
            t,
            Targets::Values {
                values: want,
                len_per_sample: 2
            }
        );
        assert!(f.inputs_as_targets(&Normalize::identity(1)).is_err());
    }

    #[test]
    fn normalize_validation_and_values() {
        assert!(Normalize::identity(3).validate(3).is_ok());
        assert!(Normalize::identity(3).validate(1).is_err());
        let n = |m: f32, s: f32| Normalize {
            mean: vec![m],
            std: vec![s],
        };
        for bad in [
            n(0.0, 0.0),
            n(0.0, -1.0),
            n(0.0, f32::NAN),
            n(f32::INFINITY, 1.0),
        ] {
            assert!(bad.validate(1).is_err(), "{bad:?}");
        }
        let norm = Normalize {
            mean: vec![0.5, 0.25],
            std: vec![0.5, 2.0],
        };
        let t = norm.table();
        for b in [0u8, 1, 51, 128, 255] {
            for c in 0..2 {
                let want = (f64::from(b) / 255.0 - [0.5, 0.25][c]) / [0.5, 2.0][c];
                assert!((f64::from(t[c][usize::from(b)]) - want).abs() < 1e-6);
            }
        }
        assert_eq!((t[0][0], t[0][255], t[1][0]), (-1.0, 1.0, -0.125));
    }

    /// Real Fashion-MNIST, if installed (package `dataset-fashion-mnist`).
    #[test]
    fn real_fashion_mnist() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.is_dir() {
            eprintln!(
                "skipped: {} not found (install dataset-fashion-mnist)",
                dir.display()
            );
            return;
        }
        for (split, n) in [(Split::Train, 60000), (Split::Test, 10000)] {
            let d = Dataset::mnist(dir, split).unwrap();
            assert_eq!(
                (d.len(), d.image_shape(), d.num_classes()),
                (n, [1, 28, 28], 10)
            );
            assert!(d.labels().iter().all(|&l| l < 10));
            assert_eq!(d.images().len(), n * 784);
        }
    }
}
