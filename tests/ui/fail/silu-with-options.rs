use cubenet::prelude::*;

#[network(input = [1, 12, 12])]
pub struct Net {
    conv: Conv2d<1, 4, 3>,
    #[layer(beta = 1.0)]
    silu: SiLU,
    flatten: Flatten,
    fc: Linear<400, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
