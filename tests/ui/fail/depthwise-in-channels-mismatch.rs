use cubenet::prelude::*;

// A depthwise conv still declares the channels it receives: `conv1` gives 8, not 4.
#[network(input = [1, 12, 12])]
pub struct Net {
    conv1: Conv2d<1, 8, 3>,
    #[layer(groups = 4)]
    dw: Conv2d<4, 8, 3>,
    flatten: Flatten,
    fc: Linear<512, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
