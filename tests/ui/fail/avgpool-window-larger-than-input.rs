use cubenet::prelude::*;

#[network(input = [1, 12, 12])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    avg: AvgPool2d<5>,
    flatten: Flatten,
    fc1: Linear<6, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
