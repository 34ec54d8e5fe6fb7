//! A network without convolutions: logistic regression on flattened images.
use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    flatten: Flatten,
    fc1: Linear<784, 10>,
}

fn main() {
    assert_eq!(Net::KERNELS_PER_STEP, 2);
}
