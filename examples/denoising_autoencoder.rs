//! A denoising autoencoder on Fashion-MNIST: 784 -> 64 -> 784 with `loss = mse`, trained to
//! map a noisy image (Gaussian noise, std `--noise`) to the clean one. Writes a PNG grid:
//! noisy inputs (top row), the network's outputs (middle) and the clean targets (bottom),
//! for the first test images.
//!
//! ```text
//! cargo run --release --features cpu --example denoising_autoencoder
//! ```
//! The same network and recipe in PyTorch: `scripts/denoising_autoencoder.py` (the README
//! shows both test MSEs).
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use cubenet::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 28 x 28 pixels in [0, 1] -> 64 features -> 784 outputs, compared with the clean image by
/// mean squared error (PyTorch's nn.MSELoss).
#[network(input = [1, 28, 28], loss = mse)]
pub struct DenoisingAutoencoder {
    flatten: Flatten,
    encoder: Linear<784, 64>,
    relu: Relu,
    decoder: Linear<64, 784>,
}

#[derive(Parser)]
#[command(about = "Train a denoising autoencoder (784 -> 64 -> 784, MSE) on Fashion-MNIST")]
struct Args {
    /// Folder with the four Fashion-MNIST IDX files (gzipped or not).
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    data: PathBuf,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Standard deviation of the Gaussian noise added to each pixel (pixels are in [0, 1]).
    #[arg(long, default_value_t = 0.4)]
    noise: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on the first N training images only (0: all 60000).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// The PNG grid written after training.
    #[arg(long, default_value = "denoising_autoencoder.png")]
    png: PathBuf,
}

/// `clean` plus N(0, std^2) noise per pixel (Box-Muller on a ChaCha8 stream seeded by
/// `seed`), so every run adds the same noise.
fn noisy(clean: &[f32], std: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    clean
        .iter()
        .map(|&p| {
            let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            p + std * z as f32
        })
        .collect()
}

/// Mean squared error over every pixel of the test set (noisy inputs, clean targets), in
/// eval mode.
fn test_mse(
    net: &mut DenoisingAutoencoder,
    test: &DataLoader,
    args: &Args,
) -> cubenet::Result<f64> {
    net.eval();
    let (mut sum, mut n) = (0.0, 0);
    for batch in test.epoch(0) {
        let x = noisy(&batch.images, args.noise, 1_000_000 + batch.index as u64);
        sum += net.evaluate(&x, &batch.images)?.1;
        n += batch.len;
    }
    net.train();
    Ok(sum / n as f64)
}

/// A grid of `cols` images per row, rows `rows` (each `cols x 784` values, clamped to
/// [0, 1]), scaled up 3x with a 2-pixel gap.
fn write_grid(path: &PathBuf, rows: &[&[f32]], cols: usize) -> cubenet::Result<()> {
    const S: u32 = 3;
    const GAP: u32 = 2;
    let cell = 28 * S + GAP;
    let mut img = image::GrayImage::from_pixel(
        cols as u32 * cell + GAP,
        rows.len() as u32 * cell + GAP,
        image::Luma([255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for c in 0..cols {
            for y in 0..28 * S {
                for x in 0..28 * S {
                    let v = row[c * 784 + (y / S * 28 + x / S) as usize].clamp(0.0, 1.0);
                    img.put_pixel(
                        GAP + c as u32 * cell + x,
                        GAP + r as u32 * cell + y,
                        image::Luma([(v * 255.0).round() as u8]),
                    );
                }
            }
        }
    }
    img.save(path)
        .map_err(|e| cubenet::Error::Config(format!("could not write {}: {e}", path.display())))
}

fn run(args: &Args) -> cubenet::Result<()> {
    let device = default_device();
    eprintln!("device: {}", cubenet::describe(&device)?);
    let mut train = Dataset::mnist(&args.data, Split::Train)?;
    if args.limit > 0 {
        train = train.head(args.limit);
    }
    let train = Arc::new(train);
    let test = Arc::new(Dataset::mnist(&args.data, Split::Test)?);
    let id = Normalize::identity(1);
    let train = DataLoader::new(train, args.batch_size, true, false, id.clone(), args.seed)?;
    let test = DataLoader::new(test, 1000, false, false, id, args.seed)?;
    let mut net = DenoisingAutoencoder::new(&device, args.batch_size.max(1000), args.seed)?;
    let adam: Optimizer = Adam::new(args.lr).into();
    let start = std::time::Instant::now();
    let mut mse = f64::NAN;
    for epoch in 1..=args.epochs {
        let (mut loss, mut batches) = (0.0, 0);
        for batch in train.epoch(epoch as u64) {
            let seed = (epoch as u64) << 32 | batch.index as u64;
            let x = noisy(&batch.images, args.noise, seed);
            loss += net.train_step_with(&x, &batch.images, &adam, None)? as f64;
            batches += 1;
        }
        mse = test_mse(&mut net, &test, args)?;
        eprintln!(
            "epoch {epoch}/{}: train_mse {:.5} test_mse {mse:.5} ({:.1} s)",
            args.epochs,
            loss / batches as f64,
            start.elapsed().as_secs_f64()
        );
    }
    // The grid: the first 8 test images.
    let batch = test.epoch(0).next().expect("the test set is not empty");
    let clean = &batch.images[..8 * 784];
    let x = noisy(clean, args.noise, 1_000_000);
    net.eval();
    let out = net.forward(&x)?;
    write_grid(&args.png, &[&x, &out, clean], 8)?;
    eprintln!("wrote {}", args.png.display());
    println!(
        "test_mse={mse:.5} epochs={} noise={}",
        args.epochs, args.noise
    );
    Ok(())
}

fn main() -> ExitCode {
    cubenet::quiet_vulkan_loader();
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
