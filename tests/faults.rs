//! Faults become errors that say what happened, never panics.
use std::sync::Arc;

use cubenet::prelude::*;

#[path = "common/tiny.rs"]
mod tiny;

use tiny::Tiny;

fn loader() -> DataLoader {
    let images: Vec<u8> = (0..32 * 16).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..32).map(|i| (i % 2) as u8).collect();
    let ds = Dataset::from_raw(images, labels, [1, 4, 4], 2).unwrap();
    DataLoader::new(Arc::new(ds), 8, true, false, Normalize::identity(1), 0).unwrap()
}

#[test]
fn a_diverging_run_stops_at_the_first_non_finite_loss_naming_the_step() {
    let mut net = Tiny::new(&cubenet::default_device(), 8, 0).unwrap();
    // An absurd learning rate makes the loss overflow within a few steps.
    let cfg = TrainConfig::new(5, Sgd::new(1e30));
    let err = fit(&mut net, &loader(), None, &cfg).unwrap_err();
    match &err {
        cubenet::Error::NonFinite {
            loss,
            epoch,
            step,
            batch,
        } => {
            assert!(!loss.is_finite());
            assert!(*epoch >= 1 && *step >= 1 && *batch < 4, "{err}");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("non-finite loss") && text.contains("epoch") && text.contains("step"),
        "{text}"
    );
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let mut net = Tiny::new(&cubenet::default_device(), 4, 0).unwrap();
    let sgd = Sgd::new(0.1);
    // 5 samples for a capacity of 4.
    let err = net
        .train_step(&[0.0; 5 * 16], &[0; 5], &sgd)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceeds the capacity of 4"), "{err}");
    // Not a whole number of samples.
    let err = net
        .train_step(&[0.0; 17], &[0], &sgd)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a positive multiple"), "{err}");
    // Labels and images disagree.
    let err = net
        .train_step(&[0.0; 32], &[0], &sgd)
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 labels for 2 images"), "{err}");
    // A label outside 0..2 names the sample.
    let err = net
        .train_step(&[0.0; 32], &[1, 2], &sgd)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 2 of sample 1"), "{err}");
    // Batch capacity 0 and epochs 0.
    assert!(Tiny::new(&cubenet::default_device(), 0, 0).is_err());
    let cfg = TrainConfig::new(0, sgd);
    assert!(fit(&mut net, &loader(), None, &cfg)
        .unwrap_err()
        .to_string()
        .contains("epochs"));
}

/// A device that cannot be started (here a discrete GPU no test machine has) is an error that
/// names the device and the fixes, not cubecl's panic from its device thread.
#[cfg(feature = "wgpu")]
#[test]
fn a_device_that_cannot_start_is_an_error_not_a_panic() {
    use cubecl::device::{WgpuDevice, WgpuDeviceKind};
    let device = cubenet::Device::Wgpu(WgpuDevice::new(WgpuDeviceKind::DiscreteGpu(99)));
    let err = match Tiny::new(&device, 8, 0) {
        Err(e) => e,
        Ok(_) => panic!("a 100th discrete GPU was found"),
    };
    let text = err.to_string();
    assert!(matches!(err, cubenet::Error::Device(_)), "{text}");
    assert!(text.contains("DiscreteGpu(99)"), "{text}");
    assert!(text.contains("mesa-vulkan-drivers"), "{text}");
    assert!(text.contains("--features cpu"), "{text}");
    // The same for describe, and the default device still works afterwards.
    assert!(cubenet::describe(&device).is_err());
    assert!(Tiny::new(&cubenet::default_device(), 8, 0).is_ok());
}

/// A dataset of f32 value targets reaching a cross-entropy network is an error naming both,
/// before any step is taken.
#[test]
fn value_targets_for_a_classifier_are_an_error() {
    let mut net = Tiny::new(&cubenet::default_device(), 8, 0).unwrap();
    let ds = Dataset::from_f32(
        vec![0.5; 8 * 16],
        [1, 4, 4],
        Targets::Values {
            values: vec![0.0; 8 * 16],
            len_per_sample: 16,
        },
    )
    .unwrap();
    let values = DataLoader::new(Arc::new(ds), 8, false, false, Normalize::identity(1), 0).unwrap();
    let cfg = TrainConfig::new(1, Sgd::new(0.1));
    let want = "the training set has f32 value targets (16 per sample), but the network's loss \
                cross_entropy needs class labels";
    let err = fit(&mut net, &values, None, &cfg).unwrap_err().to_string();
    assert!(err.contains(want), "{err}");
    let err = fit(&mut net, &loader(), Some(&values), &cfg)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the evaluation set has f32 value targets"),
        "{err}"
    );
    let err = evaluate(&mut net, &values).unwrap_err().to_string();
    assert!(
        err.contains("the evaluation set has f32 value targets"),
        "{err}"
    );
    assert_eq!(net.state().steps(), 0);
}
