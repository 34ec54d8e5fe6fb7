//! Property test of every file reader: random, truncated, oversized and mutated files give an
//! error (or data), never a panic. Seeded (reproducible) and bounded: a fixed number of cases
//! or `CUBENET_FUZZ_SECONDS` (default 20) per reader, whichever ends first.
use std::path::Path;
use std::time::{Duration, Instant};

use cubenet::data::{read_cifar_batch, read_idx_images, read_idx_labels, Dataset, Split};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn budget() -> Duration {
    let secs = std::env::var("CUBENET_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

/// A valid IDX images file: magic, dims, then pixels.
fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        v.extend(d.to_be_bytes());
    }
    v.extend((0..n * rows * cols).map(|i| (i * 7) as u8));
    v
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend(n.to_be_bytes());
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

fn cifar(n: usize) -> Vec<u8> {
    (0..n * 3073)
        .map(|i| {
            if i % 3073 == 0 {
                (i / 3073 % 10) as u8
            } else {
                i as u8
            }
        })
        .collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One mangled version of `seed`: random bytes, a truncation, a big or small header claim,
/// appended garbage, or random byte flips.
fn mangle(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.random_range(0..6) {
        0 => (0..rng.random_range(0..2048))
            .map(|_| rng.random())
            .collect(),
        1 => {
            b.truncate(rng.random_range(0..=b.len()));
            b
        }
        2 if b.len() >= 8 => {
            // Overwrite a header word with an extreme value.
            let at = 4 * rng.random_range(0..(b.len() / 4).min(4));
            let v: u32 = [0, 1, u32::MAX, 0x7fff_ffff, rng.random()][rng.random_range(0..5)];
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            b
        }
        3 => {
            b.extend((0..rng.random_range(1..4096)).map(|_| rng.random::<u8>()));
            b
        }
        _ => {
            for _ in 0..rng.random_range(1..8) {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                }
            }
            b
        }
    }
}

fn run(name: &str, seeds: &[Vec<u8>], cases: usize, read: impl Fn(&Path)) {
    let dir = std::env::temp_dir().join(format!("cubenet-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input");
    let mut rng = ChaCha8Rng::seed_from_u64(0xF022);
    let start = Instant::now();
    let mut done = 0;
    while done < cases && start.elapsed() < budget() {
        let seed = &seeds[done % seeds.len()];
        let mut bytes = mangle(&mut rng, seed);
        if rng.random_bool(0.3) {
            bytes = gz(&bytes);
        }
        std::fs::write(&path, &bytes).unwrap();
        read(&path);
        done += 1;
    }
    eprintln!(
        "{name}: {done} cases in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).ok();
    assert!(done >= 50, "too few cases ran: {done}");
}

#[test]
fn idx_readers_never_panic() {
    let seeds = vec![
        idx_images(3, 4, 5),
        idx_labels(7),
        idx_images(0, 28, 28),
        idx_labels(0),
    ];
    run("idx", &seeds, 3000, |p| {
        let _ = read_idx_images(p);
        let _ = read_idx_labels(p);
    });
}

#[test]
fn cifar_reader_never_panics() {
    run("cifar", &[cifar(2), cifar(1)], 2000, |p| {
        let _ = read_cifar_batch(p);
    });
}

#[test]
fn dataset_loaders_never_panic_on_mismatched_files() {
    // Images and labels that disagree in count, each mangled.
    let dir = std::env::temp_dir().join(format!("cubenet-fuzz-{}-mnist", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = Instant::now();
    for case in 0..300 {
        if start.elapsed() > budget() {
            break;
        }
        let (ni, nl) = (rng.random_range(0..4), rng.random_range(0..4));
        let images = mangle(&mut rng, &idx_images(ni, 3, 3));
        let labels = mangle(&mut rng, &idx_labels(nl));
        std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
        if let Ok(ds) = Dataset::mnist(&dir, Split::Train) {
            // Whatever loads is consistent.
            assert_eq!(ds.images().len(), ds.len() * ds.sample_len(), "case {case}");
            assert!(ds.labels().iter().all(|&l| (l as usize) < ds.num_classes()));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoint_reader_never_panics() {
    let dir = std::env::temp_dir().join(format!("cubenet-fuzz-{}-ckpt", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.safetensors");
    cubenet::checkpoint::save(
        &good,
        &[cubenet::NamedTensor {
            name: "fc1.weight".into(),
            shape: vec![2, 3],
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }],
    )
    .unwrap();
    let seed = std::fs::read(&good).unwrap();
    run("checkpoint", &[seed], 3000, |p| {
        let _ = cubenet::checkpoint::load_with_metadata(p);
    });
    std::fs::remove_dir_all(&dir).ok();
}
