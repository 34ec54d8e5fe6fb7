//! A small conv network and a learnable data set for the training-loop tests
//! (`reproducible.rs`, `resume.rs`): include with `#[path = "common/stripes.rs"] mod stripes;`.
use cubenet::prelude::*;

/// conv 1→4 k3 padding 1, relu, max-pool 2, linear 144→16→3 with relu, for 1 x 12 x 12.
#[network(input = [1, 12, 12])]
pub struct Small {
    #[layer(padding = 1)]
    conv1: Conv2d<1, 4, 3>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<144, 16>,
    relu2: Relu,
    fc2: Linear<16, 3>,
}

/// `n` images of 12 x 12 whose class (0..3, image `i`'s is `7i mod 3`) sets the brightness of
/// a stripe.
pub fn stripes(n: u32) -> Dataset {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let label = (i * 7 % 3) as u8;
        labels.push(label);
        for p in 0..144u32 {
            let stripe = (p / 12) as u8 / 4 == label;
            images.push(if stripe {
                200
            } else {
                ((i * 31 + p * 17) % 50) as u8
            });
        }
    }
    Dataset::from_raw(images, labels, [1, 12, 12], 3).unwrap()
}
