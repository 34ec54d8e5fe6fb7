//! Helpers shared by the kernel tests: the client, seeded random data, arena checks, the f64
//! reference of a whole conv block, and the PyTorch fixture reader.
#![allow(dead_code)]

pub mod blocks;
pub mod fd;
pub mod head;
pub mod kernels;
pub mod launch;
pub mod run;

use std::sync::OnceLock;

use cubecl::client::Client;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// The client every kernel test runs on, and the one place that names a runtime: the
/// features of `cubenet-kernels` choose it, so the same tests run on each.
/// - `test-cuda`: CUDA device 0 (panics where the machine has none);
/// - else `test-cpu`: cubecl's CPU runtime;
/// - else (the default `test-wgpu`): wgpu's default device (lavapipe without a GPU).
pub fn client() -> Client {
    device().client()
}

/// The device behind [`client`].
pub fn device() -> cubecl::Device {
    #[cfg(feature = "test-cuda")]
    return cubecl::Device::cuda(0).unwrap_or_else(|e| panic!("feature test-cuda: {e}"));
    #[cfg(all(feature = "test-cpu", not(feature = "test-cuda")))]
    return cubecl::Device::cpu().unwrap_or_else(|e| panic!("feature test-cpu: {e}"));
    #[cfg(all(
        feature = "test-wgpu",
        not(any(feature = "test-cpu", feature = "test-cuda"))
    ))]
    return cubecl::Device::Wgpu(Default::default());
    #[cfg(not(any(feature = "test-wgpu", feature = "test-cpu", feature = "test-cuda")))]
    compile_error!("the kernel tests need a runtime: enable test-wgpu, test-cpu or test-cuda");
    #[cfg(not(any(feature = "test-wgpu", feature = "test-cpu", feature = "test-cuda")))]
    unreachable!()
}

/// A seeded generator (ChaCha8), so every random test is reproducible.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `len` uniform f32 values in `[lo, hi)`.
pub fn uniform(rng: &mut ChaCha8Rng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// Widens f32 data for the f64 reference (the reference sees exactly the kernel's inputs).
pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Narrows f64 values (fixture data) to the f32 the kernels use.
pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Elementwise absolute values.
pub fn abs(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| x.abs()).collect()
}

/// Tolerance of a kernel value against its f64 reference `want`: `1e-5 * max(1, |want|,
/// scale)`, where `scale` is the sum of the absolute values of the terms that make `want`
/// (so a sum that cancels is judged against the size of its terms).
pub fn tol(want: f64, scale: f64) -> f64 {
    1e-5 * 1f64.max(want.abs()).max(scale)
}

/// Asserts `got` matches `want` within [`tol`] (with `scale` 0 where none is given).
pub fn assert_close(what: &str, got: &[f32], want: &[f64], scale: Option<&[f64]>) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let bad: Vec<String> = (0..want.len())
        .filter(|&i| {
            let t = tol(want[i], scale.map_or(0.0, |s| s[i]));
            let ok = (got[i] as f64 - want[i]).abs() <= t; // false for NaN
            !ok
        })
        .take(8)
        .map(|i| format!("[{i}] got {} want {}", got[i], want[i]))
        .collect();
    assert!(bad.is_empty(), "{what}: mismatches {}", bad.join(", "));
}

/// What a buffer must hold after a launch: expected values (with tolerances) where the kernel
/// writes, and exactly the initial bits everywhere else (rows >= n, other tensors, padding).
pub struct Expect {
    name: String,
    init: Vec<f32>,
    want: Vec<Option<(f64, f64)>>,
}

impl Expect {
    /// Nothing written yet: every element must keep its `init` value.
    pub fn new(name: &str, init: &[f32]) -> Self {
        Self {
            name: name.to_string(),
            init: init.to_vec(),
            want: vec![None; init.len()],
        }
    }

    /// Renames the check (for the next stage of a run).
    pub fn rename(&mut self, name: &str) -> &mut Self {
        self.name = name.to_string();
        self
    }

    /// Expects `want[i]` (tolerance [`tol`] with `scale[i]`) at `start + i`.
    pub fn set(&mut self, start: usize, want: &[f64], scale: &[f64]) -> &mut Self {
        assert_eq!(want.len(), scale.len());
        for (i, (&w, &s)) in want.iter().zip(scale).enumerate() {
            self.want[start + i] = Some((w, tol(w, s)));
        }
        self
    }

    /// Expects `want[i]` within `t` at `start + i`.
    pub fn set_tol(&mut self, start: usize, want: &[f64], t: f64) -> &mut Self {
        for (i, &w) in want.iter().enumerate() {
            self.want[start + i] = Some((w, t));
        }
        self
    }

    /// Panics, listing the first mismatches, unless `got` is as expected.
    pub fn check(&self, got: &[f32]) {
        assert_eq!(got.len(), self.init.len(), "{}: length", self.name);
        let bad: Vec<String> = (0..got.len())
            .filter(|&i| match self.want[i] {
                Some((w, t)) => {
                    let ok = (got[i] as f64 - w).abs() <= t; // false for NaN
                    !ok
                }
                None => got[i].to_bits() != self.init[i].to_bits(),
            })
            .take(8)
            .map(|i| match self.want[i] {
                Some((w, _)) => format!("[{i}] got {} want {w}", got[i]),
                None => format!(
                    "[{i}] got {} but must be untouched ({})",
                    got[i], self.init[i]
                ),
            })
            .collect();
        assert!(bad.is_empty(), "{}: {}", self.name, bad.join(", "));
    }
}

/// Asserts a u32 arena equals `init` except for `want` at `start..`.
pub fn check_u32(what: &str, got: &[u32], init: &[u32], start: usize, want: &[u32]) {
    let mut expected = init.to_vec();
    expected[start..start + want.len()].copy_from_slice(want);
    assert_eq!(got, &expected[..], "{what}");
}

/// The PyTorch op cases (`tests/fixtures/op_cases.json`, made by `scripts/op_cases.py` with
/// PyTorch 2.15): the case called `name`.
pub fn op_case(name: &str) -> &'static Value {
    static CASES: OnceLock<Value> = OnceLock::new();
    let all = CASES.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/op_cases.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    });
    let case = &all["cases"][name];
    assert!(case.is_object(), "op_cases.json has no case {name}");
    case
}

/// The flattened (row-major) data of a fixture tensor `{dtype, shape, data}`, or of a plain
/// number or nested list.
pub fn data(v: &Value) -> Vec<f64> {
    fn flatten(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => items.iter().for_each(|x| flatten(x, out)),
            Value::Number(x) => out.push(x.as_f64().unwrap()),
            other => panic!("not a number: {other}"),
        }
    }
    let mut out = Vec::new();
    flatten(if v.is_object() { &v["data"] } else { v }, &mut out);
    out
}

/// The shape of a fixture tensor.
pub fn shape(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The data of an integer fixture tensor.
pub fn indices(v: &Value) -> Vec<usize> {
    data(v).into_iter().map(|x| x as usize).collect()
}

/// A fixture input tensor `case["inputs"][name]`.
pub fn input(case: &Value, name: &str) -> Vec<f64> {
    data(&case["inputs"][name])
}

/// A fixture output tensor `case["outputs"][name]`.
pub fn output(case: &Value, name: &str) -> Vec<f64> {
    data(&case["outputs"][name])
}

/// |got - want| <= 1e-9 * max(1, |want|): the f64 reference against PyTorch's f64 values.
pub fn assert_same(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{what}[{i}]: reference {g}, PyTorch {w}"
        );
    }
}
