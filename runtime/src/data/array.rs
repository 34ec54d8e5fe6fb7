//! Arrays read from `.npy` and safetensors files, checked and turned into [`Samples`] and
//! [`Targets`] with errors that name the file.

use super::dataset::nchw;
use super::{DataError, Dataset, Samples, TargetKind, Targets};
use std::path::Path;

/// Element type of a stored array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    /// Anything else, as the file spells it (e.g. `<f8`, `F64`).
    Other(String),
}

impl DType {
    fn size(&self) -> Option<usize> {
        Some(match self {
            DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 => 8,
            DType::Other(_) => return None,
        })
    }

    fn name(&self) -> String {
        match self {
            DType::U8 => "u8".into(),
            DType::I8 => "i8".into(),
            DType::U16 => "u16".into(),
            DType::I16 => "i16".into(),
            DType::U32 => "u32".into(),
            DType::I32 => "i32".into(),
            DType::U64 => "u64".into(),
            DType::I64 => "i64".into(),
            DType::F32 => "f32".into(),
            DType::Other(s) => s.clone(),
        }
    }
}

/// One array of a file: its element type, shape and raw bytes (C order).
#[derive(Debug)]
pub(crate) struct RawArray<'a> {
    /// The file it comes from.
    pub path: &'a Path,
    /// Which array of the file, for messages: empty for a `.npy` file, `"key `x`: "` for a
    /// safetensors tensor.
    pub what: String,
    pub dtype: DType,
    pub big_endian: bool,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

impl RawArray<'_> {
    fn err(&self, message: String) -> DataError {
        DataError::Malformed {
            path: self.path.to_path_buf(),
            message: format!("{}{message}", self.what),
        }
    }

    /// Number of elements, checking that the data holds exactly that many.
    fn count(&self) -> Result<usize, DataError> {
        let n = self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let size = self.dtype.size().unwrap_or(1);
        let Some(bytes) = n.and_then(|n| n.checked_mul(size)) else {
            return Err(self.err(format!(
                "shape {:?} describes more elements than can be held",
                self.shape
            )));
        };
        if bytes != self.data.len() {
            return Err(self.err(format!(
                "the data has {} bytes, but shape {:?} of {} needs {bytes} (truncated or \
                 corrupt file?)",
                self.data.len(),
                self.shape,
                self.dtype.name()
            )));
        }
        Ok(bytes / size)
    }

    fn words<const K: usize>(&self) -> impl Iterator<Item = [u8; K]> + '_ {
        let big = self.big_endian;
        self.data.chunks_exact(K).map(move |c| {
            let mut w: [u8; K] = c.try_into().expect("chunks_exact yields K bytes");
            if big {
                w.reverse();
            }
            w
        })
    }

    fn f32s(&self) -> Result<Vec<f32>, DataError> {
        let v: Vec<f32> = self.words::<4>().map(f32::from_le_bytes).collect();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(self.err(format!("value {} at flat index {i} is not finite", v[i])));
        }
        Ok(v)
    }

    /// The samples: u8 or f32, shape `[N, C, H, W]` or `[N, H, W]`. Returns `N` and
    /// `[C, H, W]`.
    pub fn samples(&self) -> Result<(Samples, usize, [usize; 3]), DataError> {
        let (n, shape) = nchw(&self.shape).map_err(|m| self.err(m))?;
        if shape.contains(&0) {
            return Err(self.err(format!(
                "sample shape {shape:?} must have every dimension > 0"
            )));
        }
        if !matches!(self.dtype, DType::U8 | DType::F32) {
            return Err(self.err(format!(
                "samples of dtype {} are not supported: expected u8 (uint8) or f32 (float32; \
                 `.astype(np.float32)` in NumPy, `.float()` in PyTorch)",
                self.dtype.name()
            )));
        }
        self.count()?;
        let samples = match self.dtype {
            DType::U8 => Samples::U8(self.data.to_vec()),
            _ => Samples::F32(self.f32s()?),
        };
        Ok((samples, n, shape))
    }

    /// The targets, as `kind` says.
    pub fn targets(&self, kind: TargetKind) -> Result<Targets, DataError> {
        match kind {
            TargetKind::Values => {
                if self.dtype != DType::F32 {
                    return Err(self.err(format!(
                        "value targets of dtype {} are not supported: expected f32 (float32; \
                         `.astype(np.float32)` in NumPy, `.float()` in PyTorch)",
                        self.dtype.name()
                    )));
                }
                let n = self.count()?;
                let Some((&samples, rest)) = self.shape.split_first() else {
                    return Err(self.err(
                        "value targets must have at least 1 dimension (N, ...), not a scalar"
                            .into(),
                    ));
                };
                let len_per_sample = rest.iter().product::<usize>();
                if len_per_sample == 0 {
                    return Err(self.err(format!(
                        "value targets of shape {:?} hold no value per sample",
                        self.shape
                    )));
                }
                debug_assert_eq!(samples * len_per_sample, n);
                Ok(Targets::Values {
                    values: self.f32s()?,
                    len_per_sample,
                })
            }
            TargetKind::Classes { num_classes } => {
                if self.shape.len() != 1 {
                    return Err(self.err(format!(
                        "class labels must have 1 dimension (N), but the shape is {:?}",
                        self.shape
                    )));
                }
                if !matches!(self.dtype, DType::F32 | DType::Other(_)) {
                    self.count()?;
                }
                let labels: Vec<i128> = match self.dtype {
                    DType::U8 => self.data.iter().map(|&b| i128::from(b)).collect(),
                    DType::I8 => self.data.iter().map(|&b| i128::from(b as i8)).collect(),
                    DType::U16 => self.ints::<2>(|w| u16::from_le_bytes(w).into()),
                    DType::I16 => self.ints::<2>(|w| i16::from_le_bytes(w).into()),
                    DType::U32 => self.ints::<4>(|w| u32::from_le_bytes(w).into()),
                    DType::I32 => self.ints::<4>(|w| i32::from_le_bytes(w).into()),
                    DType::U64 => self.ints::<8>(|w| u64::from_le_bytes(w).into()),
                    DType::I64 => self.ints::<8>(|w| i64::from_le_bytes(w).into()),
                    DType::F32 | DType::Other(_) => {
                        return Err(self.err(format!(
                            "class labels of dtype {} are not supported: expected an integer \
                             type (uint8, int32, int64, uint32, uint64, ...)",
                            self.dtype.name()
                        )))
                    }
                };
                if num_classes == 0 || num_classes as u64 > u64::from(u32::MAX) + 1 {
                    return Err(
                        self.err(format!("num_classes is {num_classes}, must be in 1..=2^32"))
                    );
                }
                if let Some(i) = labels
                    .iter()
                    .position(|&l| l < 0 || l >= num_classes as i128)
                {
                    return Err(self.err(format!(
                        "label {} at index {i} is out of range (must be in 0..{num_classes})",
                        labels[i]
                    )));
                }
                Ok(Targets::Classes {
                    labels: labels.into_iter().map(|l| l as u32).collect(),
                    num_classes,
                })
            }
        }
    }

    fn ints<const K: usize>(&self, f: impl Fn([u8; K]) -> i128) -> Vec<i128> {
        self.words::<K>().map(f).collect()
    }
}

/// A dataset from a samples array and a targets array (of the same file or two files).
pub(crate) fn dataset(
    samples: &RawArray<'_>,
    targets: &RawArray<'_>,
    kind: TargetKind,
) -> Result<Dataset, DataError> {
    let (values, n, shape) = samples.samples()?;
    let targets_read = targets.targets(kind)?;
    if targets_read.len() != n {
        return Err(if samples.path == targets.path {
            DataError::Malformed {
                path: samples.path.to_path_buf(),
                message: format!(
                    "{}{n} samples but {}{} targets",
                    samples.what,
                    targets.what,
                    targets_read.len()
                ),
            }
        } else {
            DataError::CountMismatch {
                images_path: samples.path.to_path_buf(),
                labels_path: targets.path.to_path_buf(),
                images: n,
                labels: targets_read.len(),
            }
        });
    }
    Dataset::new(values, shape, targets_read).map_err(|e| DataError::Malformed {
        path: samples.path.to_path_buf(),
        message: e.to_string(),
    })
}
