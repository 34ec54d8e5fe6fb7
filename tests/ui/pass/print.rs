//! `print` shows the shapes, the fusion plan and the generated code while building.
use cubenet::prelude::*;

#[network(input = [1, 28, 28], print)]
pub struct Net {
    flatten: Flatten,
    fc1: Linear<784, 32>,
    relu1: Relu,
    fc2: Linear<32, 10>,
}

fn main() {
    assert!(Net::SUMMARY.contains("kernel launches"));
}
