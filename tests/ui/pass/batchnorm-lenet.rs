//! LeNet-5 with a BatchNorm after every layer with weights but the last: BatchNorm2d blocks
//! take an activation and a MaxPool2d (in either order), BatchNorm1d blocks an activation.
use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = 2, bias = false)]
    conv1: Conv2d<1, 6, 5>,
    bn1: BatchNorm2d<6>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    #[layer(eps = 1e-3, momentum = 0.01)]
    bn2: BatchNorm2d<16>,
    pool2: MaxPool2d<2>,
    relu2: Relu,
    flatten: Flatten,
    fc1: Linear<400, 120>,
    #[layer(num_features = 120, eps = 1e-5, momentum = 1)]
    bn3: BatchNorm1d,
    relu3: Relu,
    fc2: Linear<120, 84>,
    bn4: BatchNorm1d<84>,
    #[layer(negative_slope = 0.1)]
    act4: LeakyRelu,
    fc3: Linear<84, 10>,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 10);
}
