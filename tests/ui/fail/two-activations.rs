use cubenet::prelude::*;

#[network(input = [1, 12, 12])]
pub struct Net {
    conv: Conv2d<1, 4, 3>,
    flatten: Flatten,
    fc1: Linear<400, 32>,
    act1: Tanh,
    act2: Sigmoid,
    fc2: Linear<32, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
