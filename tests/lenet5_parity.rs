//! PyTorch parity of whole LeNet training steps through `#[network]`.
//!
//! Fixture: tests/fixtures/lenet5_sgd.safetensors, written by
//! `venv/bin/python scripts/lenet5_sgd_fixture.py` (PyTorch 2.15, CPU, float32): initial
//! weights (`init.*`), the first 100 Fashion-MNIST training images normalised with mean
//! 0.2860 / std 0.3530 (`x`, `y`), the loss, gradients and parameters after one and two SGD
//! steps with lr 0.01, momentum 0.9 on that batch.
use cubenet::prelude::*;
use cubenet::zoo::{CifarLeNet, LeNet5};
use cubenet::NamedTensor;

struct Fixture {
    tensors: std::collections::HashMap<String, (Vec<usize>, Vec<u8>, safetensors::Dtype)>,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        // CUBENET_FIXTURES overrides the folder, for this test's binary copied to another
        // machine (bench/gpu/run.sh).
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
        Fixture { tensors }
    }
    fn f32(&self, key: &str) -> Vec<f32> {
        let (_, data, dtype) = &self.tensors[key];
        assert_eq!(*dtype, safetensors::Dtype::F32, "{key}");
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
    fn labels(&self, key: &str) -> Vec<u32> {
        let (_, data, dtype) = &self.tensors[key];
        assert_eq!(*dtype, safetensors::Dtype::I64, "{key}");
        data.chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect()
    }
    fn state(&self, prefix: &str) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (k, (shape, _, _)) in &self.tensors {
            if let Some(name) = k.strip_prefix(prefix) {
                out.push(NamedTensor {
                    name: name.to_string(),
                    shape: shape.clone(),
                    data: self.f32(k),
                });
            }
        }
        out
    }
}

/// |a - b| <= tol * max(1, |b|) elementwise, with the worst offender in the message.
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / w.abs().max(1.0);
        if !(err <= worst.1) {
            worst = (i, err);
        }
    }
    assert!(
        worst.1 <= tol,
        "{what}: element {} is {} but PyTorch gives {} (relative error {})",
        worst.0,
        got[worst.0],
        want[worst.0],
        worst.1
    );
}

/// Loads `init.*`, checks the logits, then two SGD steps: loss, every gradient of step 1,
/// every parameter after each step.
fn two_steps_match<N: Network>(fixture: &str, cap: usize, sgd: Sgd) {
    let fx = Fixture::load(fixture);
    let device = cubenet::default_device();
    let mut net = N::new(&device, cap, 0).unwrap();
    net.load_state_dict(&fx.state("init.")).unwrap();
    let x = fx.f32("x");
    let y = fx.labels("y");

    let logits = net.forward(&x).unwrap();
    assert_close("logits0", &logits, &fx.f32("logits0"), 1e-4);

    let loss1 = net.train_step(&x, &y, &sgd).unwrap();
    assert_close("loss1", &[loss1], &fx.f32("loss1"), 1e-5);
    let grads = cubenet::NetState::read_grads(net.state()).unwrap();
    for t in cubenet_runtime_split(&grads, N::LAYOUT.params) {
        let key = format!("grad1.{}", t.name);
        assert_close(&key, &t.data, &fx.f32(&key), 1e-4);
    }
    for t in net.state_dict().unwrap() {
        let key = format!("step1.{}", t.name);
        assert_close(&key, &t.data, &fx.f32(&key), 1e-4);
    }
    let loss2 = net.train_step(&x, &y, &sgd).unwrap();
    assert_close("loss2", &[loss2], &fx.f32("loss2"), 1e-5);
    for t in net.state_dict().unwrap() {
        let key = format!("step2.{}", t.name);
        assert_close(&key, &t.data, &fx.f32(&key), 1e-4);
    }
}

#[test]
fn lenet5_two_sgd_steps_match_pytorch() {
    two_steps_match::<LeNet5>(
        "lenet5_sgd.safetensors",
        100,
        Sgd::new(0.01).with_momentum(0.9),
    );
}

/// The PyTorch CIFAR-10 tutorial's LeNet (`cubenet::zoo::CifarLeNet`;
/// tests/fixtures/cifar_lenet_sgd.safetensors, from
/// `venv/bin/python scripts/cifar_lenet_sgd_fixture.py`: 8 random images already normalised,
/// SGD lr 0.001 momentum 0.9 as in the tutorial).
#[test]
fn cifar_lenet_two_sgd_steps_match_pytorch() {
    two_steps_match::<CifarLeNet>(
        "cifar_lenet_sgd.safetensors",
        8,
        Sgd::new(0.001).with_momentum(0.9),
    );
}

fn cubenet_runtime_split(flat: &[f32], params: &[cubenet::ParamInfo]) -> Vec<NamedTensor> {
    params
        .iter()
        .map(|p| NamedTensor {
            name: p.name.to_string(),
            shape: p.shape.to_vec(),
            data: flat[p.offset..p.offset + p.numel()].to_vec(),
        })
        .collect()
}
