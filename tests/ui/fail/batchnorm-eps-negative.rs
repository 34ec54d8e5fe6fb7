use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<864, 32>,
    #[layer(eps = -1e-5)]
    bn1: BatchNorm1d<32>,
    relu2: Relu,
    fc2: Linear<32, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
