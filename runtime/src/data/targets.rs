//! What a dataset holds per sample: the input values ([`Samples`]) and what the network should
//! predict for them ([`Targets`]).

/// The input values of a dataset, `N x C x H x W` (NCHW), sample after sample.
///
/// As torchvision's `ToTensor` followed by `Normalize`: a byte `b` becomes `b / 255` in
/// `[0, 1]`, an f32 is taken as it is, and then both are normalised per channel
/// (`(x - mean[c]) / std[c]`, see [`Normalize`](super::Normalize)) when a
/// [`DataLoader`](super::DataLoader) builds a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Bytes `0..=255` (8-bit images); a batch holds `byte / 255`, normalised.
    U8(Vec<u8>),
    /// Values used as they are (already scaled); a batch holds them normalised.
    F32(Vec<f32>),
}

impl Samples {
    /// Number of values (`N * C * H * W`).
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `"u8"` or `"f32"`, for messages.
    pub fn dtype(&self) -> &'static str {
        match self {
            Samples::U8(_) => "u8",
            Samples::F32(_) => "f32",
        }
    }
}

/// What the network should predict for each sample: a class index (as the `targets` of
/// torchvision's classification datasets, read by `nn.CrossEntropyLoss`) or a vector of f32
/// values (the target tensor of `nn.MSELoss` or `nn.BCEWithLogitsLoss`).
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One class index per sample, each `< num_classes`. A [`Batch`](super::Batch) carries
    /// them in `labels`.
    Classes {
        /// `N` class indices.
        labels: Vec<u32>,
        /// Number of classes (`>= 1`).
        num_classes: usize,
    },
    /// `len_per_sample` f32 values per sample, row-major: sample `i` owns
    /// `values[i * len_per_sample..(i + 1) * len_per_sample]`. A [`Batch`](super::Batch)
    /// carries them, for its rows in order, in `targets`. They are not normalised.
    Values {
        /// `N * len_per_sample` values.
        values: Vec<f32>,
        /// Values per sample (`>= 1`), e.g. 784 for a 1 x 28 x 28 image target.
        len_per_sample: usize,
    },
}

impl Targets {
    /// Number of samples `N` the targets describe (`values.len() / len_per_sample`, rounded
    /// down; 0 if `len_per_sample` is 0).
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values {
                values,
                len_per_sample,
            } => values.len().checked_div(*len_per_sample).unwrap_or(0),
        }
    }

    /// Whether the targets describe no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short description for messages, e.g. `"class labels (10 classes)"` or
    /// `"f32 value targets (784 per sample)"`.
    pub fn describe(&self) -> String {
        match self {
            Targets::Classes { num_classes, .. } => {
                format!("class labels ({num_classes} classes)")
            }
            Targets::Values { len_per_sample, .. } => {
                format!("f32 value targets ({len_per_sample} per sample)")
            }
        }
    }

    /// Checks the targets on their own: `num_classes >= 1` and fits a `u32` index, every label
    /// `< num_classes`; `len_per_sample >= 1`, `values.len()` a multiple of it, every value
    /// finite. The message names the first offending index.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            Targets::Classes {
                labels,
                num_classes,
            } => {
                if *num_classes == 0 || *num_classes as u64 > u64::from(u32::MAX) + 1 {
                    return Err(format!("num_classes is {num_classes}, must be in 1..=2^32"));
                }
                if let Some(i) = labels.iter().position(|&l| l as usize >= *num_classes) {
                    return Err(format!(
                        "label {} at index {i} is >= num_classes {num_classes}",
                        labels[i]
                    ));
                }
            }
            Targets::Values {
                values,
                len_per_sample,
            } => {
                if *len_per_sample == 0 {
                    return Err("len_per_sample is 0, must be >= 1".into());
                }
                if values.len() % len_per_sample != 0 {
                    return Err(format!(
                        "{} target values are not a whole number of samples of {len_per_sample}",
                        values.len()
                    ));
                }
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(format!(
                        "target value {} at index {i} (sample {}) is not finite",
                        values[i],
                        i / len_per_sample
                    ));
                }
            }
        }
        Ok(())
    }

    /// The first `n` samples' targets.
    pub(crate) fn head(&self, n: usize) -> Targets {
        match self {
            Targets::Classes {
                labels,
                num_classes,
            } => Targets::Classes {
                labels: labels[..n].to_vec(),
                num_classes: *num_classes,
            },
            Targets::Values {
                values,
                len_per_sample,
            } => Targets::Values {
                values: values[..n * len_per_sample].to_vec(),
                len_per_sample: *len_per_sample,
            },
        }
    }
}

/// How a reader should interpret a targets array (see [`Dataset::from_npy`] and
/// [`Dataset::from_safetensors`]).
///
/// [`Dataset::from_npy`]: super::Dataset::from_npy
/// [`Dataset::from_safetensors`]: super::Dataset::from_safetensors
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An integer array of `N` class indices (u8, i8, u16, i16, u32, i32, u64 or i64), each in
    /// `0..num_classes`: [`Targets::Classes`].
    Classes {
        /// Number of classes.
        num_classes: usize,
    },
    /// An f32 array of shape `[N, ...]`; each sample's values (the trailing dimensions,
    /// row-major; 1 value for shape `[N]`) become [`Targets::Values`].
    Values,
}
