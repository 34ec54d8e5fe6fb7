use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    bn1: BatchNorm2d<8>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    bn2: BatchNorm2d<16>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<256, 120>,
    relu3: Relu,
    fc2: Linear<120, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
