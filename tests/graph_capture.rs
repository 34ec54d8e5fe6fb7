//! Training steps replayed as recorded device graphs (`TrainConfig::graph_capture`,
//! `NetState::set_graph_capture`) compute bit for bit what launched kernels compute: the same
//! losses and the same `state_dict` after `fit`, after SGD steps with full and short batches,
//! after Adam steps (whose update pass runs outside the graph) and with Dropout (whose seed
//! changes every step, so it never replays).
//!
//! How many steps replay is a property of the keys (batch size, optimiser scalars, the first
//! step's flag): on wgpu and CUDA, which record graphs, exactly the counts below; on cubecl's
//! cpu runtime, which has no graph support, none (every step launches its kernels).
use std::sync::Arc;

use cubenet::prelude::*;

#[path = "common/stripes.rs"]
mod stripes;

use stripes::{stripes, Small};

/// Whether the network's backend records graphs (cubecl's cpu runtime does not).
fn records<N: Network>(net: &N) -> bool {
    !net.state().client().name().starts_with("cpu")
}

fn state_bits<N: Network>(net: &N) -> Vec<u32> {
    net.state_dict()
        .unwrap()
        .iter()
        .flat_map(|t| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// `fit` for 3 epochs of 44 stripes in batches of 8 (the last of each epoch 4): the reports'
/// training and test losses and the final `state_dict`, and the replayed steps.
fn fit_small(graph_capture: bool) -> (Vec<(u64, u64)>, Vec<u32>, u64, bool) {
    let device = cubenet::default_device();
    let mut net = Small::new(&device, 8, 3).unwrap();
    let loader = DataLoader::new(
        Arc::new(stripes(44)),
        8,
        true,
        false,
        Normalize::identity(1),
        5,
    )
    .unwrap();
    let cfg = TrainConfig {
        progress: false,
        graph_capture,
        ..TrainConfig::new(3, Sgd::new(0.05).with_momentum(0.9))
    };
    let reports = fit(&mut net, &loader, Some(&loader), &cfg).unwrap();
    let summary = reports
        .iter()
        .map(|r| (r.train_loss.to_bits(), r.test_loss.unwrap().to_bits()))
        .collect();
    (
        summary,
        state_bits(&net),
        net.state().graph_replays(),
        records(&net),
    )
}

#[test]
fn fit_with_graph_capture_is_bitwise_the_same() {
    let (reports, state, replays, _) = fit_small(false);
    assert_eq!(replays, 0, "capture off: nothing replays");
    let (captured_reports, captured_state, captured_replays, records) = fit_small(true);
    assert_eq!(captured_reports, reports);
    assert_eq!(captured_state, state);
    // Keys per epoch: 5 full batches, then one of 4. Epoch 1: the first step (its own flag),
    // a full one launched, one recorded (run as the warm-up), two replayed, the short one
    // launched; epoch 2: 5 replays, the short one recorded; epoch 3: 6 replays.
    assert_eq!(captured_replays, if records { 2 + 5 + 6 } else { 0 });
}

#[network(input = [1, 12, 12])]
pub struct WithDropout {
    #[layer(padding = 1)]
    conv1: Conv2d<1, 4, 3>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<144, 16>,
    relu2: Relu,
    #[layer(p = 0.3)]
    drop: Dropout,
    fc2: Linear<16, 3>,
}

/// `train_step` (SGD, or Adam through `train_step_with`) on batches of the given sizes: the
/// losses and the final `state_dict` as bits, and the replayed steps.
fn steps<N: Network>(capture: bool, adam: bool, sizes: &[usize]) -> (Vec<u32>, Vec<u32>, u64) {
    let device = cubenet::default_device();
    let mut net = N::new(&device, 8, 7).unwrap();
    net.state_mut().set_graph_capture(capture);
    let len = N::LAYOUT.input_len();
    let images: Vec<f32> = (0..8 * len)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let labels: Vec<u32> = (0..8).map(|i| i * 7 % 3).collect();
    let sgd = Sgd::new(0.05).with_momentum(0.9).with_nesterov(true);
    let adam_opt = Optimizer::Adam(Adam::new(1e-3));
    let mut losses = Vec::new();
    for &n in sizes {
        let (x, y) = (&images[..n * len], &labels[..n]);
        let loss = if adam {
            net.train_step_with(x, y, &adam_opt, None).unwrap()
        } else {
            net.train_step(x, y, &sgd).unwrap()
        };
        losses.push(loss.to_bits());
    }
    (losses, state_bits(&net), net.state().graph_replays())
}

#[test]
fn train_steps_with_graph_capture_are_bitwise_the_same() {
    let records = {
        let net = Small::new(&cubenet::default_device(), 8, 7).unwrap();
        records(&net)
    };
    let sizes = [8, 8, 8, 8, 5, 8, 8, 5, 5];
    // SGD: step 1 has its own flag; the second 8 is launched, the third recorded, then
    // replays of 8 (steps 4, 6, 7) and of 5 (step 9, recorded at step 8).
    for (adam, replays) in [(false, 4), (true, 5)] {
        let plain = steps::<Small>(false, adam, &sizes);
        let captured = steps::<Small>(true, adam, &sizes);
        assert_eq!(
            (&captured.0, &captured.1),
            (&plain.0, &plain.1),
            "adam: {adam}"
        );
        // Adam computes gradients with the same arguments every step (its update runs after
        // the graph), so its first step replays too: 8 8 8 replays from the third on.
        assert_eq!(
            captured.2,
            if records { replays } else { 0 },
            "adam: {adam}"
        );
    }
    // Dropout draws new masks every step (its seed is a launch argument): never replayed.
    let plain = steps::<WithDropout>(false, false, &sizes);
    let captured = steps::<WithDropout>(true, false, &sizes);
    assert_eq!((&captured.0, &captured.1), (&plain.0, &plain.1), "dropout");
    assert_eq!(captured.2, 0, "dropout");
}

/// A run that does everything else between steps: evaluation and prediction in eval mode,
/// loading weights, a rate that goes down and back up, clipped SGD, a new cube size, a
/// BatchNorm network. Capture on or off, the losses and weights agree bit for bit, and (on a
/// backend that records graphs) repeated steps still replay.
#[test]
fn graph_capture_survives_what_happens_between_steps() {
    fn run(capture: bool) -> (Vec<u32>, Vec<u32>, u64) {
        let device = cubenet::default_device();
        let mut net = cubenet::zoo::FashionBn::new(&device, 6, 5).unwrap();
        net.state_mut().set_graph_capture(capture);
        let len = cubenet::zoo::FashionBn::LAYOUT.input_len();
        let images: Vec<f32> = (0..6 * len)
            .map(|i| ((i * 53) % 97) as f32 / 48.0 - 1.0)
            .collect();
        let labels: Vec<u32> = (0..6).map(|i| (i * 7 % 10) as u32).collect();
        let (lr_a, lr_b) = (
            Sgd::new(0.05).with_momentum(0.9),
            Sgd::new(0.01).with_momentum(0.9),
        );
        let clip = Optimizer::Sgd(lr_a);
        let mut losses = Vec::new();
        let mut saved = None;
        for step in 0..14 {
            let sgd = if (5..8).contains(&step) { &lr_b } else { &lr_a };
            let loss = match step {
                9 => net
                    .train_step_with(&images, &labels, &clip, Some(0.5))
                    .unwrap(),
                _ => net.train_step(&images, &labels, sgd).unwrap(),
            };
            losses.push(loss.to_bits());
            match step {
                3 => {
                    net.eval();
                    let (correct, loss) = net.evaluate(&images, &labels).unwrap();
                    losses.push(correct as u32);
                    losses.push((loss as f32).to_bits());
                    losses.extend(
                        net.predict(&images[..2 * len])
                            .unwrap()
                            .iter()
                            .map(|&p| p as u32),
                    );
                    net.train();
                }
                4 => saved = Some(net.state_dict().unwrap()),
                8 => net.load_state_dict(saved.as_ref().unwrap()).unwrap(),
                10 => net.state_mut().set_cube_dim(7),
                _ => {}
            }
        }
        (losses, state_bits(&net), net.state().graph_replays())
    }
    let plain = run(false);
    let captured = run(true);
    assert_eq!((&captured.0, &captured.1), (&plain.0, &plain.1));
    let records = {
        let net = Small::new(&cubenet::default_device(), 8, 7).unwrap();
        records(&net)
    };
    // Replayed: steps 3 and 4 (lr 0.05, recorded at 2), 7 (lr 0.01, recorded at 6), 8 and 10
    // (lr 0.05 again; 9, clipped, computes gradients under its own key), and 13: the new cube
    // size after step 10 drops the graphs, so 11 launches and 12 records.
    assert_eq!(captured.2, if records { 2 + 1 + 2 + 1 } else { 0 });
}
