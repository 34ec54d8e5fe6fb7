use cubenet::prelude::*;

#[network(input = [3, 28, 28])]
pub struct Net {
    #[layer(stride = 2, padding = 1)]
    conv: Conv2d<3, 16, 3>,
    relu: Relu,
    pool: MaxPool2d<16>,
    flatten: Flatten,
    fc: Linear<16, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
