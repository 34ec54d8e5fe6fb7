//! The README's complete program: dataset -> loader -> network -> fit -> checkpoint ->
//! reload -> predict (`cargo run --release --features cpu --example quickstart`).
use std::path::Path;
use std::sync::Arc;

use cubenet::prelude::*;

/// LeNet-5 for 28 x 28 grayscale images (10 classes).
#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = 2)]
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<400, 120>,
    relu3: Relu,
    fc2: Linear<120, 84>,
    relu4: Relu,
    fc3: Linear<84, 10>,
}

fn main() -> cubenet::Result<()> {
    // Data: Fashion-MNIST's IDX files (Debian: apt-get install dataset-fashion-mnist).
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    let train = Arc::new(Dataset::mnist(dir, Split::Train)?);
    let test = Arc::new(Dataset::mnist(dir, Split::Test)?);
    let norm = Normalize::from_dataset(&train)?;
    let train_loader = DataLoader::builder(train)
        .batch_size(64)
        .shuffle(true)
        .seed(0)
        .normalize(norm.clone())
        .build()?;
    let test_loader = DataLoader::builder(test.clone())
        .batch_size(1000)
        .normalize(norm.clone())
        .build()?;

    // The network: batches of up to 64 samples, PyTorch's default init from seed 0.
    let device = default_device();
    let mut net = Net::new(&device, 64, 0)?;
    let cfg = TrainConfig::new(1, Sgd::new(0.05).with_momentum(0.9));
    let reports = fit(&mut net, &train_loader, Some(&test_loader), &cfg)?;
    println!(
        "test accuracy {:.4}",
        reports[0].test_accuracy.unwrap_or(0.0)
    );

    // Save the weights (safetensors, PyTorch's state_dict keys), load them into a new network.
    let path = std::env::temp_dir().join("quickstart.safetensors");
    cubenet::checkpoint::save(&path, &net.state_dict()?)?;
    let mut reloaded = Net::new(&device, 64, 1)?;
    reloaded.load_state_dict(&cubenet::checkpoint::load(&path)?)?;
    reloaded.eval();

    // Predict the first 5 test images (normalised as in training), any number of rows.
    let batch = DataLoader::builder(test)
        .batch_size(5)
        .normalize(norm)
        .build()?;
    let first = batch.epoch(0).next().expect("the test set is not empty");
    let classes = reloaded.predict(&first.images)?;
    println!("predicted {classes:?}, labels {:?}", first.labels);
    Ok(())
}
