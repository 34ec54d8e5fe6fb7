use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    flatten: Flatten,
    relu: Relu,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
