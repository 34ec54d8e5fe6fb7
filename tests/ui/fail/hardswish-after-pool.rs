use cubenet::prelude::*;

#[network(input = [1, 12, 12])]
pub struct Net {
    conv: Conv2d<1, 4, 3>,
    pool: MaxPool2d<2>,
    act: Hardswish,
    flatten: Flatten,
    fc: Linear<100, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
