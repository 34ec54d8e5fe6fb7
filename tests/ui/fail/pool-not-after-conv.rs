use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    pool1: MaxPool2d<2>,
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    flatten: Flatten,
    fc1: Linear<600, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
