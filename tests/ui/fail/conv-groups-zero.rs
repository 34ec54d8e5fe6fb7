use cubenet::prelude::*;

#[network(input = [4, 12, 12])]
pub struct Net {
    #[layer(groups = 0)]
    conv: Conv2d<4, 8, 3>,
    flatten: Flatten,
    fc: Linear<800, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
