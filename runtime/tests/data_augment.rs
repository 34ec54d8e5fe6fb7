//! Augmentation (torchvision's RandomCrop with padding and RandomHorizontalFlip) and f32
//! datasets through the loader.

use cubenet_runtime::data::{
    sample_rng, Batch, DataLoader, Dataset, Normalize, RandomCrop, RandomHorizontalFlip, Targets,
    Transform,
};
use std::sync::Arc;

/// `n` samples of `c x h x w` bytes, sample `i` pixel `k` = `(i * 7 + k) % 251 + 1` (never 0,
/// so padding shows), class `i % 3`.
fn bytes_dataset(n: usize, [c, h, w]: [usize; 3]) -> Arc<Dataset> {
    let s = c * h * w;
    let images = (0..n * s)
        .map(|k| ((k / s * 7 + k % s) % 251 + 1) as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    Arc::new(Dataset::from_raw(images, labels, [c, h, w], 3).unwrap())
}

fn cifar_recipe() -> Vec<Transform> {
    vec![
        RandomCrop::new(8, 2).into(),
        RandomHorizontalFlip::default().into(),
    ]
}

fn train_loader(ds: Arc<Dataset>, seed: u64) -> DataLoader {
    let norm = Normalize {
        mean: vec![0.49, 0.48, 0.45],
        std: vec![0.25, 0.24, 0.26],
    };
    DataLoader::new(ds, 5, true, false, norm, seed)
        .unwrap()
        .with_transforms(cifar_recipe())
        .unwrap()
}

fn bits(batches: &[Batch]) -> Vec<Vec<u32>> {
    batches
        .iter()
        .map(|b| b.images.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn same_seed_same_batches_bitwise() {
    let ds = bytes_dataset(23, [3, 8, 8]);
    let (a, b) = (
        train_loader(Arc::clone(&ds), 9),
        train_loader(Arc::clone(&ds), 9),
    );
    let run =
        |l: &DataLoader| -> Vec<Vec<Batch>> { (0..2).map(|e| l.epoch(e).collect()).collect() };
    let (ra, rb) = (run(&a), run(&b));
    for e in 0..2 {
        assert_eq!(bits(&ra[e]), bits(&rb[e]), "epoch {e}");
        assert_eq!(ra[e], rb[e]);
    }
    // Another epoch crops (and shuffles) differently; so does another seed.
    assert_ne!(bits(&ra[0]), bits(&ra[1]));
    let c: Vec<Batch> = train_loader(Arc::clone(&ds), 10).epoch(0).collect();
    assert_ne!(bits(&ra[0]), bits(&c));
    // Resuming mid-epoch gives the same augmented batches as the uninterrupted epoch.
    let tail: Vec<Batch> = a.epoch_from(1, 2).collect();
    assert_eq!(tail, ra[1][2..]);
    // Same sample order without augmentation, different pixels: the transforms did something.
    let plain = DataLoader::new(ds, 5, true, false, a.normalize().clone(), 9).unwrap();
    let p: Vec<Batch> = plain.epoch(0).collect();
    assert_eq!(p[0].indices, ra[0][0].indices);
    assert_ne!(p[0].images, ra[0][0].images);
}

#[test]
fn different_epochs_give_different_crops_of_the_same_sample() {
    // Without shuffling, sample 0 is at position 0 of every epoch: only the epoch changes.
    let ds = bytes_dataset(1, [1, 6, 6]);
    let l = DataLoader::new(ds, 1, false, false, Normalize::identity(1), 3)
        .unwrap()
        .with_transforms(vec![RandomCrop::new(6, 3).into()])
        .unwrap();
    let crops: std::collections::BTreeSet<Vec<u32>> = (0..20)
        .map(|e| {
            l.epoch(e)
                .next()
                .unwrap()
                .images
                .iter()
                .map(|x| x.to_bits())
                .collect()
        })
        .collect();
    assert!(
        crops.len() >= 10,
        "only {} distinct crops in 20 epochs",
        crops.len()
    );
}

#[test]
fn crop_offsets_cover_0_to_2p_uniformly() {
    // 8x8 image, padding 3, output 8x8: top and left uniform in 0..=6 (7 values each).
    let crop = RandomCrop::new(8, 3);
    let draws = 14_000;
    let (mut tops, mut lefts) = ([0usize; 7], [0usize; 7]);
    for pos in 0..draws {
        let (t, l) = crop.get_params(8, 8, &mut sample_rng(42, 1, pos));
        tops[t] += 1; // panics (index out of range) if t > 6
        lefts[l] += 1;
    }
    // Each count is Binomial(14000, 1/7): mean 2000, sd 41.4; +-250 is 6 sd.
    for counts in [tops, lefts] {
        assert!(
            counts.iter().all(|&c| (1750..=2250).contains(&c)),
            "{counts:?}"
        );
        // Pearson chi-square with 6 degrees of freedom; 22.46 is its 0.999 quantile.
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - 2000.0).powi(2) / 2000.0)
            .sum();
        assert!(chi2 < 22.46, "chi-square {chi2} for {counts:?}");
    }
    // A non-square crop: ranges 0..=(h + 2p - size[0]) and 0..=(w + 2p - size[1]).
    let crop = RandomCrop {
        size: [3, 5],
        padding: 1,
    };
    let (mut max_t, mut max_l) = (0, 0);
    for pos in 0..2000 {
        let (t, l) = crop.get_params(4, 6, &mut sample_rng(1, 0, pos));
        (max_t, max_l) = (max_t.max(t), max_l.max(l));
    }
    assert_eq!((max_t, max_l), (3, 3));
}

#[test]
fn flip_frequency_is_p() {
    for p in [0.0, 0.3, 0.5, 1.0] {
        let flip = RandomHorizontalFlip::new(p);
        let n = 20_000;
        let k = (0..n)
            .filter(|&pos| flip.get_params(&mut sample_rng(7, 2, pos)))
            .count();
        // sd of the frequency <= 0.0036; 0.02 is over 5 sd.
        let f = k as f64 / n as f64;
        assert!((f - p).abs() < 0.02, "p {p}: frequency {f}");
    }
    assert_eq!(RandomHorizontalFlip::default().p, 0.5);
}

#[test]
fn hand_checked_crop_and_flip() {
    // torchvision: F.crop(F.pad(img, 1, fill=0), top=2, left=0, height=4, width=4) on the 1x4x4
    // image 1..=16, worked by hand: the 6x6 padded image has a zero border; rows 2..6 and
    // columns 0..4 of it are input rows 1..4 (then the bottom border) and input columns
    // -1..3 (the left border, then columns 0..2).
    let img: Vec<u8> = (1..=16).collect();
    let crop = RandomCrop::new(4, 1);
    let out = crop.crop(&img, [1, 4, 4], 2, 0);
    #[rustfmt::skip]
    let want = [
        0, 5, 6, 7,
        0, 9, 10, 11,
        0, 13, 14, 15,
        0, 0, 0, 0,
    ];
    assert_eq!(out, want);
    // F.hflip of it: each row reversed.
    #[rustfmt::skip]
    let flipped = [
        7, 6, 5, 0,
        11, 10, 9, 0,
        15, 14, 13, 0,
        0, 0, 0, 0,
    ];
    assert_eq!(RandomHorizontalFlip::flip(&out, [1, 4, 4]), flipped);
    // Offset (1, 1) is the image itself; two channels are cropped alike.
    assert_eq!(crop.crop(&img, [1, 4, 4], 1, 1), img);
    let two: Vec<f32> = (0..8).map(|v| v as f32 + 0.5).collect();
    let c2 = RandomCrop {
        size: [2, 2],
        padding: 1,
    };
    assert_eq!(
        c2.crop(&two, [2, 2, 2], 0, 1),
        [0.0, 0.0, 0.5, 1.5, 0.0, 0.0, 4.5, 5.5]
    );
}

#[test]
fn loader_applies_the_per_sample_stream_then_normalises_with_zero_padding() {
    let ds = bytes_dataset(9, [2, 4, 4]);
    let norm = Normalize {
        mean: vec![0.5, 0.25],
        std: vec![0.25, 0.5],
    };
    let transforms = vec![
        Transform::from(RandomCrop::new(4, 1)),
        RandomHorizontalFlip::new(0.5).into(),
    ];
    let l = DataLoader::new(Arc::clone(&ds), 4, true, false, norm.clone(), 11)
        .unwrap()
        .with_transforms(transforms.clone())
        .unwrap();
    let epoch = 3;
    let mut padded = 0;
    for b in l.epoch(epoch) {
        for (r, &i) in b.indices.iter().enumerate() {
            // The same steps by hand from sample_rng(seed, epoch, position).
            let mut rng = sample_rng(11, epoch, (b.index * 4 + r) as u64);
            let (mut x, mut shape) = (ds.image(i).to_vec(), [2, 4, 4]);
            for t in &transforms {
                (x, shape) = t.apply(&x, shape, &mut rng);
            }
            let want: Vec<f32> = x
                .iter()
                .enumerate()
                .map(|(k, &v)| (f32::from(v) / 255.0 - norm.mean[k / 16]) / norm.std[k / 16])
                .collect();
            assert_eq!(b.images[r * 32..(r + 1) * 32], want[..], "sample {i}");
            // Padding is byte 0 before normalisation: (0 - mean) / std.
            padded += x.iter().filter(|&&v| v == 0).count();
            for (k, &v) in x.iter().enumerate() {
                if v == 0 {
                    let c = k / 16;
                    assert_eq!(b.images[r * 32 + k], -norm.mean[c] / norm.std[c]);
                }
            }
            assert_eq!(b.labels[r], (i % 3) as u32);
        }
    }
    assert!(padded > 0, "no crop touched the padding");
}

#[test]
fn transform_settings_are_checked() {
    let ds = bytes_dataset(2, [1, 4, 4]);
    let l = DataLoader::new(ds, 2, false, false, Normalize::identity(1), 0).unwrap();
    let bad = |t: Transform| l.clone().with_transforms(vec![t]).unwrap_err().to_string();
    let m = bad(RandomCrop::new(7, 1).into());
    assert!(
        m.contains("7 x 7") && m.contains("padded by 1 to 6 x 6"),
        "{m}"
    );
    assert!(bad(RandomCrop::new(0, 1).into()).contains("RandomCrop"));
    assert!(bad(RandomHorizontalFlip::new(1.5).into()).contains("[0, 1]"));
    assert!(bad(RandomHorizontalFlip::new(f64::NAN).into()).contains("[0, 1]"));
    // A smaller crop changes the batch's sample shape.
    let small = l
        .with_transforms(vec![RandomCrop::new(3, 0).into()])
        .unwrap();
    assert_eq!(small.sample_shape(), [1, 3, 3]);
    assert_eq!(small.epoch(0).next().unwrap().images.len(), 2 * 9);
}

#[test]
fn f32_dataset_gives_stored_values_and_aligned_targets() {
    let (n, s) = (11, 6); // 2 x 1 x 3 values per sample
    let samples: Vec<f32> = (0..n * s).map(|k| (k as f32).sin() * 3.7 + 1e-3).collect();
    let targets: Vec<f32> = (0..n * 2).map(|k| k as f32 * -0.5).collect();
    let ds = Arc::new(
        Dataset::from_f32(
            samples.clone(),
            [2, 1, 3],
            Targets::Values {
                values: targets.clone(),
                len_per_sample: 2,
            },
        )
        .unwrap(),
    );
    let l = DataLoader::new(Arc::clone(&ds), 4, true, false, Normalize::identity(2), 5).unwrap();
    let mut seen = 0;
    for b in l.epoch(1) {
        assert!(b.labels.is_empty());
        assert_eq!((b.images.len(), b.targets.len()), (b.len * s, b.len * 2));
        for (r, &i) in b.indices.iter().enumerate() {
            assert_eq!(b.images[r * s..(r + 1) * s], samples[i * s..(i + 1) * s]);
            assert_eq!(b.targets[r * 2..(r + 1) * 2], targets[i * 2..(i + 1) * 2]);
        }
        seen += b.len;
    }
    assert_eq!(seen, n);
    assert_ne!(
        l.order(1),
        (0..n).collect::<Vec<_>>(),
        "the test should shuffle"
    );

    // f32 samples are normalised as (v - mean) / std.
    let norm = Normalize {
        mean: vec![1.0, -2.0],
        std: vec![2.0, 0.5],
    };
    let l = DataLoader::new(ds, 11, false, false, norm, 0).unwrap();
    let b = l.epoch(0).next().unwrap();
    for (k, (&g, &v)) in b.images.iter().zip(&samples).enumerate() {
        let c = (k / 3) % 2;
        assert_eq!(g, (v - [1.0, -2.0][c]) / [2.0, 0.5][c], "element {k}");
    }
}

#[test]
fn class_batches_have_no_value_targets_and_inputs_can_be_targets() {
    let ds = bytes_dataset(4, [1, 2, 2]);
    let l = DataLoader::new(Arc::clone(&ds), 4, false, false, Normalize::identity(1), 0).unwrap();
    let b = l.epoch(0).next().unwrap();
    assert!(b.targets.is_empty());
    assert_eq!(b.labels, [0, 1, 2, 0]);
    // An autoencoder's dataset: each sample's normalised input is its target.
    let norm = Normalize {
        mean: vec![0.5],
        std: vec![0.5],
    };
    let ae = (*ds)
        .clone()
        .with_targets(ds.inputs_as_targets(&norm).unwrap())
        .unwrap();
    assert_eq!(ae.num_classes(), 0);
    let l = DataLoader::new(Arc::new(ae), 3, true, false, norm, 8).unwrap();
    for b in l.epoch(0) {
        assert!(b.labels.is_empty());
        assert_eq!(b.targets, b.images);
    }
    let e = (*ds)
        .clone()
        .with_targets(Targets::Values {
            values: vec![0.0; 3],
            len_per_sample: 1,
        })
        .unwrap_err();
    assert!(e.to_string().contains("for 3 targets"), "{e}");
}
