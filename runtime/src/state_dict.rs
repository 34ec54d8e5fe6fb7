//! PyTorch `state_dict`s: [`NamedTensor`], splitting the flat parameter arena into named
//! tensors, and reading / loading every parameter, buffer and BatchNorm batch count of a
//! network by key ([`Network::state_dict`](crate::Network::state_dict),
//! [`Network::load_state_dict`](crate::Network::load_state_dict)).
use crate::error::{Error, Result};
use crate::layout::{Layout, ParamInfo};
use crate::state::NetState;

/// A named tensor of a state dict: PyTorch key, shape, values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// `state_dict` key.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// The `state_dict` key suffix of a BatchNorm's batch count.
pub const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// Splits a flat parameter vector into named tensors.
pub fn split_named(flat: &[f32], params: &[ParamInfo]) -> Vec<NamedTensor> {
    params
        .iter()
        .map(|p| NamedTensor {
            name: p.name.to_string(),
            shape: p.shape.to_vec(),
            data: flat[p.offset..p.offset + p.numel()].to_vec(),
        })
        .collect()
}

/// The `state_dict` of the network whose `state` has `layout` (see
/// [`Network::state_dict`](crate::Network::state_dict)).
pub(crate) fn state_dict(state: &NetState, layout: &Layout) -> Result<Vec<NamedTensor>> {
    let flat = state.read_params()?;
    let mut out = split_named(&flat, layout.params);
    let bufs = state.read_buffers()?;
    out.extend(layout.buffers.iter().map(|b| NamedTensor {
        name: b.name.to_string(),
        shape: b.shape.to_vec(),
        data: bufs[b.offset..b.offset + b.numel()].to_vec(),
    }));
    out.extend(
        layout
            .batch_norms
            .iter()
            .zip(state.batches_tracked())
            .map(|(name, &t)| NamedTensor {
                name: format!("{name}.{NUM_BATCHES_TRACKED}"),
                shape: vec![],
                data: vec![t as f32],
            }),
    );
    Ok(out)
}

/// Loads `tensors` into the network whose `state` has `layout` (see
/// [`Network::load_state_dict`](crate::Network::load_state_dict)).
pub(crate) fn load_state_dict(
    state: &mut NetState,
    layout: &Layout,
    tensors: &[NamedTensor],
) -> Result<()> {
    let mut flat = vec![0f32; layout.num_params];
    let mut bufs = vec![0f32; layout.num_bufs];
    let mut tracked = vec![0u64; layout.batch_norms.len()];
    let mut problems = Vec::new();
    let tracked_keys: Vec<String> = layout
        .batch_norms
        .iter()
        .map(|n| format!("{n}.{NUM_BATCHES_TRACKED}"))
        .collect();
    for (key, t) in tracked_keys.iter().zip(&mut tracked) {
        match tensors.iter().find(|x| &x.name == key) {
            None => problems.push(format!("  missing key `{key}` (expected shape [])")),
            Some(x) if x.data.len() != 1 || x.data[0] < 0.0 || x.data[0].fract() != 0.0 => problems
                .push(format!(
                    "  `{key}`: expected one count >= 0, found shape {:?} ({} values)",
                    x.shape,
                    x.data.len()
                )),
            Some(x) => *t = x.data[0] as u64,
        }
    }
    for b in layout.buffers {
        match tensors.iter().find(|t| t.name == b.name) {
            None => problems.push(format!(
                "  missing key `{}` (expected shape {:?})",
                b.name, b.shape
            )),
            Some(t) if t.shape != b.shape || t.data.len() != b.numel() => problems.push(format!(
                "  `{}`: expected shape {:?}, found {:?} ({} values)",
                b.name,
                b.shape,
                t.shape,
                t.data.len()
            )),
            Some(t) => bufs[b.offset..b.offset + b.numel()].copy_from_slice(&t.data),
        }
    }
    for p in layout.params {
        match tensors.iter().find(|t| t.name == p.name) {
            None => problems.push(format!(
                "  missing key `{}` (expected shape {:?})",
                p.name, p.shape
            )),
            Some(t) if t.shape != p.shape || t.data.len() != p.numel() => problems.push(format!(
                "  `{}`: expected shape {:?}, found {:?} ({} values)",
                p.name,
                p.shape,
                t.shape,
                t.data.len()
            )),
            Some(t) => flat[p.offset..p.offset + p.numel()].copy_from_slice(&t.data),
        }
    }
    for t in tensors {
        if !layout.params.iter().any(|p| p.name == t.name)
            && !layout.buffers.iter().any(|b| b.name == t.name)
            && !tracked_keys.contains(&t.name)
        {
            problems.push(format!(
                "  unexpected key `{}` (shape {:?})",
                t.name, t.shape
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::StateDict(problems.join("\n")));
    }
    state.write_params(&flat)?;
    state.write_buffers(&bufs)?;
    state.set_batches_tracked(&tracked)
}
