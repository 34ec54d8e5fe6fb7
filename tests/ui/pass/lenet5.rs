//! The LeNet-5 of `examples/fashion_mnist.rs`.
use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct LeNet5 {
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

fn main() {
    assert_eq!(LeNet5::KERNELS_PER_STEP, 12);
}
