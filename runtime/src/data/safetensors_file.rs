//! Datasets stored as two tensors of one safetensors file.

use super::array::{self, DType, RawArray};
use super::{DataError, Dataset, TargetKind};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

impl Dataset {
    /// Reads a dataset from the tensors `samples_key` and `targets_key` of the safetensors
    /// file `path` (e.g. written by `safetensors.torch.save_file({"x": x, "y": y}, path)`):
    /// the samples are a U8 or F32 tensor of shape `[N, C, H, W]` or `[N, H, W]` (one
    /// channel); the targets, for `TargetKind::Classes`, `N` integer class indices (U8, I8,
    /// U16, I16, U32, I32, U64 or I64, each checked to be in `0..num_classes`), for
    /// `TargetKind::Values` an F32 tensor of shape `[N, ...]`.
    ///
    /// ```no_run
    /// use cubenet_runtime::data::{Dataset, TargetKind};
    /// use std::path::Path;
    /// let ds = Dataset::from_safetensors(Path::new("data.safetensors"), "x", "y", TargetKind::Values)?;
    /// # Ok::<(), cubenet_runtime::data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// Each names the file: [`DataError::Io`] if it cannot be read; [`DataError::Malformed`]
    /// if it is not a valid safetensors file, a key is missing (the message lists the keys
    /// present), a tensor's dtype or number of dimensions does not fit its role, a value is
    /// not finite, a label is out of range (with its index), or the two tensors hold
    /// different numbers of samples.
    pub fn from_safetensors(
        path: &Path,
        samples_key: &str,
        targets_key: &str,
        kind: TargetKind,
    ) -> Result<Dataset, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            action: "read the file",
            source,
        })?;
        let err = |message: String| DataError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
        let get = |key: &str| -> Result<RawArray<'_>, DataError> {
            let view = file.tensor(key).map_err(|_| {
                let mut keys: Vec<&str> = file.names().into_iter().map(String::as_str).collect();
                keys.sort_unstable();
                err(format!(
                    "no tensor named `{key}` (the file holds: {})",
                    if keys.is_empty() {
                        "no tensors".to_string()
                    } else {
                        keys.join(", ")
                    }
                ))
            })?;
            Ok(RawArray {
                path,
                what: format!("tensor `{key}`: "),
                dtype: dtype(view.dtype()),
                big_endian: false,
                shape: view.shape().to_vec(),
                data: view.data(),
            })
        };
        let x = get(samples_key)?;
        let y = get(targets_key)?;
        array::dataset(&x, &y, kind)
    }
}

fn dtype(d: Dtype) -> DType {
    match d {
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::U16 => DType::U16,
        Dtype::I16 => DType::I16,
        Dtype::U32 => DType::U32,
        Dtype::I32 => DType::I32,
        Dtype::U64 => DType::U64,
        Dtype::I64 => DType::I64,
        Dtype::F32 => DType::F32,
        other => DType::Other(format!("{other:?}")),
    }
}
