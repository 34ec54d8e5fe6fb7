//! Helpers shared by the parity tests: the PyTorch fixture reader, tolerances, the parity
//! sequence ([`parity`]), and the probe input described in `scripts/network_cases.py`.
#![allow(dead_code)]

pub mod parity;

use std::collections::HashMap;

use cubenet::{NamedTensor, Network};
#[allow(unused_imports)] // not every test binary uses them
pub use parity::{Expected, Parity};

/// A safetensors fixture in `tests/fixtures/`.
pub struct Fixture {
    name: String,
    tensors: HashMap<String, (Vec<usize>, Vec<u8>, safetensors::Dtype)>,
}

impl Fixture {
    /// Loads `tests/fixtures/<name>`, or `$CUBENET_FIXTURES/<name>` where that is set (for a
    /// test binary copied to another machine: bench/gpu/run.sh).
    pub fn load(name: &str) -> Fixture {
        let dir = std::env::var("CUBENET_FIXTURES")
            .unwrap_or_else(|_| format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR")));
        let path = format!("{dir}/{name}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(k, v)| (k, (v.shape().to_vec(), v.data().to_vec(), v.dtype())))
            .collect();
        Fixture {
            name: name.to_string(),
            tensors,
        }
    }

    fn get(
        &self,
        key: &str,
        dtype: safetensors::Dtype,
    ) -> &(Vec<usize>, Vec<u8>, safetensors::Dtype) {
        let t = self
            .tensors
            .get(key)
            .unwrap_or_else(|| panic!("{} has no tensor `{key}`", self.name));
        assert_eq!(t.2, dtype, "{key}");
        t
    }

    /// A float32 tensor's shape.
    pub fn shape(&self, key: &str) -> Vec<usize> {
        self.get(key, safetensors::Dtype::F32).0.clone()
    }

    /// A float32 tensor, flat.
    pub fn f32(&self, key: &str) -> Vec<f32> {
        let (_, data, _) = self.get(key, safetensors::Dtype::F32);
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// A float64 tensor, flat.
    pub fn f64(&self, key: &str) -> Vec<f64> {
        let (_, data, _) = self.get(key, safetensors::Dtype::F64);
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// An int64 tensor (labels) as u32.
    pub fn labels(&self, key: &str) -> Vec<u32> {
        let (_, data, _) = self.get(key, safetensors::Dtype::I64);
        data.chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect()
    }

    /// Whether tensor `key` is float32 (else an error if missing).
    pub fn is_f32(&self, key: &str) -> bool {
        let t = self
            .tensors
            .get(key)
            .unwrap_or_else(|| panic!("{} has no tensor `{key}`", self.name));
        t.2 == safetensors::Dtype::F32
    }

    /// A uint8 tensor.
    pub fn bytes(&self, key: &str) -> Vec<u8> {
        self.get(key, safetensors::Dtype::U8).1.clone()
    }

    /// Every tensor `<prefix><key>` as the named tensor `<key>` (a state dict).
    pub fn state(&self, prefix: &str) -> Vec<NamedTensor> {
        let mut out: Vec<NamedTensor> = self
            .tensors
            .iter()
            .filter_map(|(k, (shape, _, _))| {
                k.strip_prefix(prefix).map(|name| NamedTensor {
                    name: name.to_string(),
                    shape: shape.clone(),
                    data: self.f32(k),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// `|got - want| <= tol * max(1, |want|)` elementwise (false for NaN), with the worst offender
/// in the message.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let want: Vec<f64> = want.iter().map(|&w| w as f64).collect();
    assert_close_f64(what, got, &want, tol as f64);
}

/// As [`assert_close`], against f64 expectations.
pub fn assert_close_f64(what: &str, got: &[f32], want: &[f64], tol: f64) {
    let scale = vec![0.0; want.len()];
    assert_close_scaled(what, got, want, &scale, tol);
}

/// `|got - want| <= tol * max(1, |want|, scale)` elementwise, where `scale[i]` is the sum of
/// the absolute values of the terms that make `want[i]` (a sum whose terms cancel is judged
/// against the size of its terms, as float rounding is).
pub fn assert_close_scaled(what: &str, got: &[f32], want: &[f64], scale: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs() / w.abs().max(1.0).max(scale[i]);
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if worst.is_none_or(|(_, e)| err > e) {
            worst = Some((i, err));
        }
    }
    if let Some((i, err)) = worst {
        assert!(
            err <= tol,
            "{what}: element {i} is {} but should be {} (relative error {err:e} > {tol:e})",
            got[i],
            want[i]
        );
    }
}

/// The gradient of every parameter after the last `compute_gradients` / `train_step`, by
/// `state_dict` key.
pub fn grads<N: Network>(net: &N) -> HashMap<String, Vec<f32>> {
    let flat = net.state().read_grads().expect("read gradients");
    N::LAYOUT
        .params
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                flat[p.offset..p.offset + p.numel()].to_vec(),
            )
        })
        .collect()
}

/// Every parameter, by `state_dict` key.
pub fn params<N: Network>(net: &N) -> HashMap<String, Vec<f32>> {
    net.state_dict()
        .expect("state dict")
        .into_iter()
        .map(|t| (t.name, t.data))
        .collect()
}

/// `x` (`c x h x w`) followed by one one-hot channel per pixel: the input of a network that
/// starts with a probe conv (see `scripts/network_cases.py`).
pub fn with_probe(x: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    assert_eq!(x.len(), c * h * w);
    let mut out = x.to_vec();
    for p in 0..h * w {
        out.extend((0..h * w).map(|q| if q == p { 1.0 } else { 0.0 }));
    }
    out
}

/// The probe's weight gradient on the one-hot channels, output channel by output channel:
/// the input gradient of the layer after the probe (`c x h x w`).
pub fn probed_input_grad(probe_grad: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    let cin = c + h * w;
    assert_eq!(probe_grad.len(), c * cin);
    (0..c)
        .flat_map(|o| probe_grad[o * cin + c..(o + 1) * cin].to_vec())
        .collect()
}

/// A device for the tests (cubecl's default: a GPU, or lavapipe on a machine without one).
pub fn device() -> cubenet::Device {
    cubenet::default_device()
}
