//! A training step is bitwise reproducible (issue 14): repeated, with a different cube size,
//! and (on cubecl's cpu runtime, where both configuration rows run) with the other target
//! row's tiles. Chunks and summation order depend only on the shapes and the batch size, so
//! none of these may change a bit of the losses, the weights or the running statistics.
//! FashionBn has a split-K linear (fc1, 800 inputs in 2 ranges) and BatchNorm1d/2d; ResNet8
//! has strided convs, residual sums and projection shortcuts.
use cubenet::prelude::*;
use cubenet::zoo::{FashionBn, ResNet8};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 6;
const STEPS: usize = 2;

/// Losses and the full `state_dict` (as bits) after `STEPS` SGD steps on seeded data, with
/// cubes of `cube_dim` units (`None`: the runtime's choice).
fn run<N: Network>(cube_dim: Option<u32>) -> (Vec<u32>, Vec<u32>, usize) {
    let device = cubenet::default_device();
    let mut net = N::new(&device, BATCH, 3).unwrap();
    if let Some(d) = cube_dim {
        net.state_mut().set_cube_dim(d);
    }
    let target = net.state().target();
    let len = N::LAYOUT.input_len();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let sgd = Sgd::new(0.05).with_momentum(0.9);
    let mut losses = Vec::new();
    for _ in 0..STEPS {
        let images: Vec<f32> = (0..BATCH * len)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let labels: Vec<u32> = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
        losses.push(net.train_step(&images, &labels, &sgd).unwrap().to_bits());
    }
    let state: Vec<u32> = net
        .state_dict()
        .unwrap()
        .iter()
        .flat_map(|t| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect();
    (losses, state, target)
}

fn check<N: Network>(name: &str) {
    let (losses, state, target) = run::<N>(None);
    assert!(
        losses
            .iter()
            .all(|&l| f32::from_bits(l).is_finite() && l != 0),
        "{name}"
    );
    assert_eq!(
        run::<N>(None),
        (losses.clone(), state.clone(), target),
        "{name}: repeated"
    );
    for dim in [1, 7, 32] {
        assert_eq!(
            run::<N>(Some(dim)),
            (losses.clone(), state.clone(), target),
            "{name}: cubes of {dim} units"
        );
    }
    // The cpu runtime runs either row; `CUBENET_TARGET` is read when a network is created
    // (one test function in this binary, so no other test sees it).
    if target == cubenet::Target::Cpu as usize {
        std::env::set_var("CUBENET_TARGET", "gpu");
        let other = run::<N>(None);
        std::env::remove_var("CUBENET_TARGET");
        assert_eq!(other.2, cubenet::Target::Gpu as usize);
        assert_eq!((other.0, other.1), (losses, state), "{name}: gpu row");
    }
}

#[test]
fn steps_are_bitwise_identical_across_repeats_cube_sizes_and_target_rows() {
    check::<FashionBn>("FashionBn");
    check::<ResNet8>("ResNet8");
}
