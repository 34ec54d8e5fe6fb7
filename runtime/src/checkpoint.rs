//! Checkpoints as safetensors files with PyTorch `state_dict` keys and layouts, so that
//! `safetensors.torch.load_file` reads them into the same PyTorch model.
use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};
use crate::state_dict::NamedTensor;

pub(crate) fn ck_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `tensors` (f32, row-major; `*.num_batches_tracked` as I64, as PyTorch) to `path`
/// atomically: a temporary file beside it is
/// written, flushed and renamed over `path`.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file when it cannot be written.
pub fn save(path: &Path, tensors: &[NamedTensor]) -> Result<()> {
    save_with_metadata(path, tensors, None)
}

/// [`save`] with string metadata in the safetensors header (`__metadata__`), which PyTorch's
/// `safetensors.torch.load_file` ignores.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file when it cannot be written.
pub fn save_with_metadata(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| {
            if is_count(&t.name) {
                t.data
                    .iter()
                    .flat_map(|&v| (v as i64).to_le_bytes())
                    .collect()
            } else {
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect()
            }
        })
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (t, b) in tensors.iter().zip(&bytes) {
        let dtype = if is_count(&t.name) {
            Dtype::I64
        } else {
            Dtype::F32
        };
        let view = TensorView::new(dtype, t.shape.clone(), b)
            .map_err(|e| ck_err(path, format!("tensor `{}`: {e}", t.name)))?;
        views.push((t.name.clone(), view));
    }
    let data = safetensors::serialize(views, &metadata).map_err(|e| ck_err(path, e.to_string()))?;
    let tmp = path.with_extension("safetensors.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| ck_err(path, e.to_string()))
}

/// Reads every f32 tensor of a safetensors file.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file when it is missing, malformed, or holds a tensor
/// that is not f32 (the tensor is named).
pub fn load(path: &Path) -> Result<Vec<NamedTensor>> {
    Ok(load_with_metadata(path)?.0)
}

/// [`load`], also returning the header's string metadata (empty if there is none).
///
/// # Errors
/// As [`load`].
pub fn load_with_metadata(path: &Path) -> Result<(Vec<NamedTensor>, HashMap<String, String>)> {
    let data = std::fs::read(path).map_err(|e| ck_err(path, e.to_string()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&data)
        .map_err(|e| ck_err(path, format!("not a safetensors file: {e}")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(&data)
        .map_err(|e| ck_err(path, format!("not a safetensors file: {e}")))?;
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(|s| s.to_string()).collect();
    names.sort();
    for name in names {
        let view = st.tensor(&name).map_err(|e| ck_err(path, e.to_string()))?;
        let values = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            // A BatchNorm's `num_batches_tracked` (PyTorch's int64 count).
            Dtype::I64 if is_count(&name) => view
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                let want = if is_count(&name) { "I64" } else { "F32" };
                return Err(ck_err(
                    path,
                    format!("tensor `{name}` is {other:?}, expected {want}"),
                ));
            }
        };
        out.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data: values,
        });
    }
    Ok((out, metadata))
}

/// Whether `name` is a BatchNorm's `num_batches_tracked`, which PyTorch stores as an int64
/// scalar (cubenet holds it as one f32 value, exact below 2^24 batches).
fn is_count(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
}

/// Indexes tensors by name.
pub fn by_name(tensors: Vec<NamedTensor>) -> HashMap<String, NamedTensor> {
    tensors.into_iter().map(|t| (t.name.clone(), t)).collect()
}
