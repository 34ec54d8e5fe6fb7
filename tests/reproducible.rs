//! Two runs with the same seed, data and settings give bitwise-identical losses, weights and
//! checkpoint files: weight gradients are reduced in a fixed order without float atomics, and
//! every random draw (init, shuffle) comes from the seed.
use std::sync::Arc;

use cubenet::prelude::*;

#[path = "common/stripes.rs"]
mod stripes;

use stripes::{stripes, Small};

fn train(seed: u64, dir: &std::path::Path) -> (Vec<f32>, Vec<u8>) {
    let loader = DataLoader::new(
        Arc::new(stripes(40)),
        8,
        true,
        false,
        Normalize::identity(1),
        seed,
    )
    .unwrap();
    let device = cubenet::default_device();
    let mut net = Small::new(&device, 8, seed).unwrap();
    let sgd = Sgd::new(0.05).with_momentum(0.9).with_weight_decay(1e-4);
    let mut losses = Vec::new();
    for epoch in 0..2 {
        for batch in loader.epoch(epoch) {
            losses.push(net.train_step(&batch.images, &batch.labels, &sgd).unwrap());
        }
    }
    let path = dir.join(format!("weights-{seed}.safetensors"));
    cubenet::checkpoint::save(&path, &net.state_dict().unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    (losses, bytes)
}

#[test]
fn same_seed_gives_bitwise_identical_losses_and_weight_files() {
    let dir = std::env::temp_dir().join(format!("cubenet-repro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (losses_a, file_a) = train(7, &dir);
    let (losses_b, file_b) = train(7, &dir);
    assert_eq!(losses_a.len(), 10, "2 epochs of 5 batches");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&losses_a),
        bits(&losses_b),
        "losses differ between identical runs"
    );
    assert!(
        file_a == file_b,
        "weight files differ between identical runs"
    );
    // A different seed changes the initial weights and the order, hence the result.
    let (losses_c, file_c) = train(8, &dir);
    assert_ne!(bits(&losses_a), bits(&losses_c));
    assert!(file_a != file_c);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoint_round_trip_restores_the_network() {
    let device = cubenet::default_device();
    let net = Small::new(&device, 4, 3).unwrap();
    let path =
        std::env::temp_dir().join(format!("cubenet-ckpt-{}.safetensors", std::process::id()));
    let saved = net.state_dict().unwrap();
    cubenet::checkpoint::save(&path, &saved).unwrap();
    let mut other = Small::new(&device, 4, 4).unwrap();
    assert_ne!(other.state_dict().unwrap(), saved);
    other
        .load_state_dict(&cubenet::checkpoint::load(&path).unwrap())
        .unwrap();
    assert_eq!(other.state_dict().unwrap(), saved);
    // Keys are PyTorch's state_dict keys with PyTorch's shapes.
    let names: Vec<_> = saved
        .iter()
        .map(|t| (t.name.as_str(), t.shape.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("conv1.weight", vec![4, 1, 3, 3]),
            ("conv1.bias", vec![4]),
            ("fc1.weight", vec![16, 144]),
            ("fc1.bias", vec![16]),
            ("fc2.weight", vec![3, 16]),
            ("fc2.bias", vec![3])
        ]
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn loading_a_mismatched_state_dict_lists_every_problem() {
    let device = cubenet::default_device();
    let mut net = Small::new(&device, 4, 3).unwrap();
    let mut sd = net.state_dict().unwrap();
    sd.retain(|t| t.name != "fc2.bias");
    sd[0].shape = vec![4, 1, 9];
    sd.push(cubenet::NamedTensor {
        name: "fc3.weight".into(),
        shape: vec![1],
        data: vec![0.0],
    });
    let err = net.load_state_dict(&sd).unwrap_err().to_string();
    assert!(err.contains("missing key `fc2.bias`"), "{err}");
    assert!(
        err.contains("`conv1.weight`: expected shape [4, 1, 3, 3], found [4, 1, 9]"),
        "{err}"
    );
    assert!(err.contains("unexpected key `fc3.weight`"), "{err}");
}
