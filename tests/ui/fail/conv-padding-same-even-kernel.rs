use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = "same")]
    conv: Conv2d<1, 6, 4>,
    relu: Relu,
    flatten: Flatten,
    fc: Linear<4704, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
