//! Weights cross between PyTorch and cubenet through safetensors files with PyTorch's
//! `state_dict` keys and layouts (scripts/roundtrip.py writes and checks the PyTorch side).
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

fn assert_logits_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (g - w).abs() / (w.abs() + 1e-3);
        assert!(rel <= 1e-4, "logit {i}: cubenet {g}, PyTorch {w}");
    }
}

/// `safetensors.torch.save_file(model.state_dict())` from PyTorch loads into cubenet as is,
/// and gives PyTorch's logits.
#[test]
fn pytorch_weights_load_into_cubenet_with_the_same_logits() {
    let state = checkpoint::load(&fixture("torch_lenet5_state_dict.safetensors")).unwrap();
    let io = checkpoint::load(&fixture("torch_lenet5_logits.safetensors")).unwrap();
    let mut net = LeNet5::new(&cubenet::default_device(), 8, 0).unwrap();
    net.load_state_dict(&state).unwrap();
    let logits = net.forward(&tensor(&io, "x").data).unwrap();
    assert_logits_close(&logits, &tensor(&io, "logits").data);
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
    let state = checkpoint::load(&fixture("torch_lenet5_state_dict.safetensors")).unwrap();
    let io = checkpoint::load(&fixture("torch_lenet5_logits.safetensors")).unwrap();
    let x = &tensor(&io, "x").data;
    let mut net = LeNet5::new(&cubenet::default_device(), 8, 0).unwrap();
    net.load_state_dict(&state).unwrap();
    let labels: Vec<u32> = (0..8).map(|i| (i * 3 % 10) as u32).collect();
    let sgd = Sgd::new(0.05).with_momentum(0.9);
    for _ in 0..5 {
        net.train_step(x, &labels, &sgd).unwrap();
    }
    let logits = net.forward(x).unwrap();
    let mut out = net.state_dict().unwrap();
    assert_ne!(
        tensor(&out, "fc3.bias").data,
        tensor(&state, "fc3.bias").data
    );
    out.push(NamedTensor {
        name: "check.x".into(),
        shape: vec![8, 1, 28, 28],
        data: x.clone(),
    });
    out.push(NamedTensor {
        name: "check.logits".into(),
        shape: vec![8, 10],
        data: logits,
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("roundtrip");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cubenet_lenet5.safetensors");
    checkpoint::save(&path, &out).unwrap();
    // The file reads back as written.
    let again = checkpoint::load(&path).unwrap();
    assert_eq!(again.len(), 12);
    eprintln!(
        "wrote {} (check with: venv/bin/python scripts/roundtrip.py check {})",
        path.display(),
        path.display()
    );
}
