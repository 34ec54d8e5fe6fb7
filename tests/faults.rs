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

/// A training loader whose batches exceed the network's capacity fails before any step, naming
/// the loader, its batch size and the capacity; a test loader with larger batches is evaluated
/// in chunks of the capacity and gives what batches of the capacity give.
#[test]
fn a_training_batch_above_the_capacity_fails_before_the_first_step() {
    let device = cubenet::default_device();
    let mut net = Tiny::new(&device, 4, 0).unwrap();
    let cfg = TrainConfig::new(1, Sgd::new(0.1));
    let err = fit(&mut net, &loader(), None, &cfg)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training loader's batch size 8 exceeds the capacity of 4"),
        "{err}"
    );
    assert_eq!(net.state().steps(), 0, "no step was taken");
    // The test loader (batches of 8) is evaluated in chunks of 4.
    let images: Vec<u8> = (0..32 * 16).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..32).map(|i| (i % 2) as u8).collect();
    let ds = Arc::new(Dataset::from_raw(images, labels, [1, 4, 4], 2).unwrap());
    let small = DataLoader::new(ds.clone(), 4, true, false, Normalize::identity(1), 0).unwrap();
    let big = DataLoader::new(ds.clone(), 8, false, false, Normalize::identity(1), 0).unwrap();
    let by4 = DataLoader::new(ds, 4, false, false, Normalize::identity(1), 0).unwrap();
    let reports = fit(&mut net, &small, Some(&big), &cfg).unwrap();
    let (acc, loss) = evaluate(&mut net, &by4).unwrap();
    assert_eq!(reports[0].test_accuracy, Some(acc));
    assert_eq!(reports[0].test_loss, Some(loss));
}

/// `forward`, `predict` and `predict_proba` take any number of rows: 3 x capacity + 1 rows
/// give the same values as one row at a time (eval mode).
#[test]
fn forward_and_predict_take_more_rows_than_the_capacity() {
    let mut net = Tiny::new(&cubenet::default_device(), 4, 7).unwrap();
    net.eval();
    let rows = 3 * 4 + 1;
    let x: Vec<f32> = (0..rows * 16)
        .map(|i| ((i * 29 % 61) as f32) / 30.0 - 1.0)
        .collect();
    let all = net.forward(&x).unwrap();
    assert_eq!(all.len(), rows * 2);
    let one_by_one: Vec<f32> = x
        .chunks(16)
        .flat_map(|row| net.forward(row).unwrap())
        .collect();
    assert_eq!(all, one_by_one);
    let classes = net.predict(&x).unwrap();
    assert_eq!(classes.len(), rows);
    for (r, &c) in classes.iter().enumerate() {
        let z = &all[2 * r..2 * r + 2];
        assert_eq!(c, usize::from(z[1] > z[0]), "row {r}");
    }
    assert_eq!(net.predict_proba(&x).unwrap().len(), rows * 2);
    let labels: Vec<u32> = (0..rows as u32).map(|i| i % 2).collect();
    let (correct, _) = net.evaluate(&x, &labels).unwrap();
    let want = classes
        .iter()
        .zip(&labels)
        .filter(|(c, l)| **c == **l as usize)
        .count();
    assert_eq!(correct, want);
}
