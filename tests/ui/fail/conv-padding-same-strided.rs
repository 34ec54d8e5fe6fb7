use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = "same", stride = 2)]
    conv: Conv2d<1, 6, 3>,
    relu: Relu,
    flatten: Flatten,
    fc: Linear<1176, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
