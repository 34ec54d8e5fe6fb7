//! Weights cross between PyTorch and cubenet through safetensors files with PyTorch's
//! `state_dict` keys and layouts (scripts/roundtrip.py writes and checks the PyTorch side),
//! for LeNet-5 and for a small ResNet with BatchNorm buffers, residual blocks and Dropout
//! (both compared in eval mode, with running statistics).
//!
//! The fixtures `tests/fixtures/torch_*` come from `venv/bin/python scripts/roundtrip.py export`.
//! These tests need no PyTorch; the cubenet -> PyTorch direction is checked by hand after
//! running them (the test prints the command):
//!
//! ```text
//! cargo test --test roundtrip
//! venv/bin/python scripts/roundtrip.py check target/tmp/roundtrip/cubenet_lenet5.safetensors
//! venv/bin/python scripts/roundtrip.py check target/tmp/roundtrip/cubenet_resnet.safetensors
//! ```
use std::path::Path;

use cubenet::prelude::*;
use cubenet::zoo::LeNet5;
use cubenet::{checkpoint, NamedTensor};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tensor<'a>(ts: &'a [NamedTensor], name: &str) -> &'a NamedTensor {
    ts.iter().find(|t| t.name == name).unwrap()
}

/// Every logit within 1e-4 relative (`|g - w| / (|w| + 1e-3)`, scripts/roundtrip.py's measure);
/// prints the largest difference.
fn assert_logits_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    let mut max = 0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (g - w).abs() / (w.abs() + 1e-3);
        assert!(rel <= 1e-4, "{what}: logit {i}: cubenet {g}, PyTorch {w}");
        max = max.max(rel);
    }
    eprintln!(
        "{what}: {} logits, max relative difference {max:.2e}",
        got.len()
    );
}

/// PyTorch's network `name` (scripts/roundtrip.py): its `state_dict`
/// (`torch_<name>_state_dict.safetensors`) loaded into a new `N` of capacity 8, the state dict,
/// and the batch `x` and PyTorch's logits on it (`torch_<name>_logits.safetensors`).
fn from_pytorch<N: Network>(name: &str) -> (N, Vec<NamedTensor>, NamedTensor, Vec<f32>) {
    let state =
        checkpoint::load(&fixture(&format!("torch_{name}_state_dict.safetensors"))).unwrap();
    let io = checkpoint::load(&fixture(&format!("torch_{name}_logits.safetensors"))).unwrap();
    let mut net = N::new(&cubenet::default_device(), 8, 0).unwrap();
    net.load_state_dict(&state).unwrap();
    let (x, logits) = (tensor(&io, "x").clone(), tensor(&io, "logits").data.clone());
    (net, state, x, logits)
}

/// Five SGD steps (lr 0.05, momentum 0.9) on `x` with labels `3i mod 10`.
fn train_five_steps<N: Network>(net: &mut N, x: &[f32]) {
    let labels: Vec<u32> = (0..8).map(|i| (i * 3 % 10) as u32).collect();
    let sgd = Sgd::new(0.05).with_momentum(0.9);
    for _ in 0..5 {
        net.train_step(x, &labels, &sgd).unwrap();
    }
}

/// Writes `out` (what cubenet trained) with the batch `x` and cubenet's `logits` on it
/// (`check.x`, `check.logits`) to target/tmp/roundtrip/cubenet_<name>.safetensors, for
/// `scripts/roundtrip.py check`; returns what it wrote and the file read back.
fn write_for_pytorch(
    name: &str,
    mut out: Vec<NamedTensor>,
    x: &NamedTensor,
    logits: Vec<f32>,
) -> (std::path::PathBuf, Vec<NamedTensor>, Vec<NamedTensor>) {
    out.push(NamedTensor {
        name: "check.x".into(),
        ..x.clone()
    });
    out.push(NamedTensor {
        name: "check.logits".into(),
        shape: vec![8, 10],
        data: logits,
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("roundtrip");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("cubenet_{name}.safetensors"));
    checkpoint::save(&path, &out).unwrap();
    eprintln!(
        "wrote {} (check with: venv/bin/python scripts/roundtrip.py check {})",
        path.display(),
        path.display()
    );
    let again = checkpoint::load(&path).unwrap();
    (path, out, again)
}

/// `safetensors.torch.save_file(model.state_dict())` from PyTorch loads into cubenet as is,
/// and gives PyTorch's logits.
#[test]
fn pytorch_weights_load_into_cubenet_with_the_same_logits() {
    let (mut net, state, x, want) = from_pytorch::<LeNet5>("lenet5");
    let logits = net.forward(&x.data).unwrap();
    assert_logits_close("PyTorch LeNet-5 in cubenet", &logits, &want);
    // And it reads back bit for bit.
    let back = net.state_dict().unwrap();
    for t in &state {
        assert_eq!(tensor(&back, &t.name).data, t.data, "{}", t.name);
    }
}

/// Trains from PyTorch's weights, then writes what cubenet trained, with a batch and
/// cubenet's logits, for `scripts/roundtrip.py check` (target/tmp/roundtrip/).
#[test]
fn cubenet_weights_are_written_for_pytorch() {
    let (mut net, state, x, _) = from_pytorch::<LeNet5>("lenet5");
    train_five_steps(&mut net, &x.data);
    let logits = net.forward(&x.data).unwrap();
    let out = net.state_dict().unwrap();
    assert_ne!(
        tensor(&out, "fc3.bias").data,
        tensor(&state, "fc3.bias").data
    );
    // The file reads back as written.
    let (_, _, again) = write_for_pytorch("lenet5", out, &x, logits);
    assert_eq!(again.len(), 12);
}

/// scripts/roundtrip.py `resnet()`: torchvision BasicBlocks (identity and stride-2 projection
/// shortcuts), BatchNorm2d buffers, global average pool, Dropout before the classifier.
#[network(input = [3, 16, 16])]
pub struct SmallResNet {
    #[layer(padding = 1, bias = false)]
    conv1: Conv2d<3, 8, 3>,
    bn1: BatchNorm2d<8>,
    relu: Relu,
    layer1: BasicBlock<8, 8>,
    #[layer(stride = 2, downsample = true)]
    layer2: BasicBlock<8, 16>,
    avgpool: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    #[layer(p = 0.2)]
    drop: Dropout,
    fc: Linear<16, 10>,
}

const BN_PREFIXES: [&str; 6] = [
    "bn1",
    "layer1.bn1",
    "layer1.bn2",
    "layer2.bn1",
    "layer2.bn2",
    "layer2.downsample.1",
];

/// PyTorch's ResNet, trained 30 steps in train mode (so its running statistics and batch
/// counts are not the initial ones), loads into cubenet; in eval mode cubenet gives
/// PyTorch's eval logits (running statistics, Dropout the identity), and the state dict,
/// buffers included, reads back bit for bit.
#[test]
fn pytorch_resnet_with_batchnorm_buffers_loads_into_cubenet_with_the_same_eval_logits() {
    let (mut net, state, x, want) = from_pytorch::<SmallResNet>("resnet");
    let x = &x.data;
    for bn in BN_PREFIXES {
        assert_eq!(
            tensor(&state, &format!("{bn}.num_batches_tracked")).data,
            [30.0]
        );
        assert!(tensor(&state, &format!("{bn}.running_mean"))
            .data
            .iter()
            .all(|&v| v != 0.0));
    }
    net.eval();
    let logits = net.forward(x).unwrap();
    assert_logits_close("PyTorch ResNet in cubenet (eval)", &logits, &want);
    assert_eq!(
        net.forward(x).unwrap(),
        logits,
        "eval forward is deterministic"
    );
    let back = net.state_dict().unwrap();
    assert_eq!(back.len(), state.len());
    for t in &state {
        assert_eq!(tensor(&back, &t.name).data, t.data, "{}", t.name);
    }
    // In training mode the same batch gives other logits (batch statistics, Dropout).
    net.train();
    assert_ne!(net.forward(x).unwrap(), logits);
}

/// Trains PyTorch's ResNet 5 more steps in cubenet (train mode: batch statistics, running
/// statistics and batch counts updated), then `eval()`, and writes what cubenet trained (its
/// `state_dict`, `num_batches_tracked` as int64) with a batch and cubenet's eval logits, for
/// `scripts/roundtrip.py check` (target/tmp/roundtrip/cubenet_resnet.safetensors).
#[test]
fn cubenet_resnet_weights_and_buffers_are_written_for_pytorch() {
    let (mut net, state, x, _) = from_pytorch::<SmallResNet>("resnet");
    assert!(net.training());
    train_five_steps(&mut net, &x.data);
    net.eval();
    let logits = net.forward(&x.data).unwrap();
    let out = net.state_dict().unwrap();
    assert_eq!(out.len(), state.len());
    assert_ne!(tensor(&out, "fc.bias").data, tensor(&state, "fc.bias").data);
    for bn in BN_PREFIXES {
        let key = format!("{bn}.running_mean");
        assert_ne!(tensor(&out, &key).data, tensor(&state, &key).data, "{key}");
        let key = format!("{bn}.running_var");
        assert_ne!(tensor(&out, &key).data, tensor(&state, &key).data, "{key}");
        let key = format!("{bn}.num_batches_tracked");
        assert!(
            tensor(&out, &key).data[0] > 30.0,
            "{key}: {:?}",
            tensor(&out, &key).data
        );
    }
    let (path, out, again) = write_for_pytorch("resnet", out, &x, logits);
    // PyTorch's dtypes: int64 batch counts, f32 for the rest.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for t in &out {
        let dtype = st.tensor(&t.name).unwrap().dtype();
        let want = if t.name.ends_with(".num_batches_tracked") {
            safetensors::Dtype::I64
        } else {
            safetensors::Dtype::F32
        };
        assert_eq!(dtype, want, "{}", t.name);
    }
    // The file reads back as written.
    assert_eq!(again.len(), out.len());
    for t in &out {
        assert_eq!(tensor(&again, &t.name).data, t.data, "{}", t.name);
    }
}
