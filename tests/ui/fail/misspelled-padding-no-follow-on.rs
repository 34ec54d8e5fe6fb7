//! `paddng` is misspelled; with the `padding = 1` the user meant, `fc`'s 4704 input features
//! (6 x 28 x 28) are right, so this is the only error (no "expected 4056" computed as if the
//! padding were 0).
use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(paddng = 1)]
    conv: Conv2d<1, 6, 3>,
    relu: Relu,
    flatten: Flatten,
    fc: Linear<4704, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
