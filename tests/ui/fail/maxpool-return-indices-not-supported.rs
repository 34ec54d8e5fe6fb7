use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv: Conv2d<1, 6, 5>,
    relu: Relu,
    #[layer(return_indices = true)]
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<864, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
