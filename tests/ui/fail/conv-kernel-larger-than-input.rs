use cubenet::prelude::*;

#[network(input = [1, 4, 4])]
pub struct Net {
    conv1: Conv2d<1, 6, 7>,
    relu1: Relu,
    flatten: Flatten,
    fc1: Linear<24, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
