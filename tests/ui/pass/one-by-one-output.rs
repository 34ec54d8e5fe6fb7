//! Convolutions down to a 1 x 1 spatial output.
use cubenet::prelude::*;

#[network(input = [1, 8, 8])]
pub struct Net {
    conv1: Conv2d<1, 4, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<4, 8, 2>,
    flatten: Flatten,
    fc1: Linear<8, 3>,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 3);
}
