use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    flatten: Flatten,
    fc1: Linear<3456, 120>,
    bn1: BatchNorm1d<120>,
    relu2: Relu,
    pool: MaxPool2d<2>,
    fc2: Linear<120, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
