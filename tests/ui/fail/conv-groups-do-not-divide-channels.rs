use cubenet::prelude::*;

// 6 input channels cannot be split into 4 equal groups.
#[network(input = [6, 12, 12])]
pub struct Net {
    #[layer(groups = 4)]
    conv: Conv2d<6, 8, 3>,
    flatten: Flatten,
    fc: Linear<800, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
