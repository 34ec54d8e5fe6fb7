use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(bias = false)]
    conv: Conv2d<1, 6, 5>,
    #[layer(affine = false)]
    bn: BatchNorm2d<6>,
    relu: Relu,
    flatten: Flatten,
    fc: Linear<3456, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
