use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = 2, padding_mode = "reflect")]
    conv: Conv2d<1, 6, 5>,
    relu: Relu,
    flatten: Flatten,
    fc: Linear<4704, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
