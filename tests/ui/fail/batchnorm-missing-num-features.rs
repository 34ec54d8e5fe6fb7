use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    bn1: BatchNorm2d,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<864, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
