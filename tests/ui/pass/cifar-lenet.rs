//! The PyTorch CIFAR-10 tutorial's network of `examples/cifar10.rs`.
use cubenet::prelude::*;

#[network(input = [3, 32, 32])]
pub struct CifarNet {
    conv1: Conv2d<3, 6, 5>,
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
    assert_eq!(CifarNet::KERNELS_PER_STEP, 12);
    assert_eq!(CifarNet::LAYOUT.input_shape, [3, 32, 32]);
}
