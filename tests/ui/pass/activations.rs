//! Every activation with every way of writing its options.
use cubenet::prelude::*;

#[network(input = [1, 8, 8])]
pub struct Net {
    conv1: Conv2d<1, 2, 3>,
    #[layer(approximate = "none")]
    gelu: Gelu,
    pool: MaxPool2d<2>,
    conv2: Conv2d<2, 3, 1>,
    #[layer(negative_slope = 1)]
    leaky: LeakyRelu,
    flatten: Flatten,
    fc1: Linear<27, 8>,
    sigmoid: Sigmoid,
    fc2: Linear<8, 6>,
    tanh: Tanh,
    fc3: Linear<6, 4>,
    #[layer(approximate = "tanh")]
    gelu_tanh: Gelu,
    fc4: Linear<4, 2>,
}

fn main() {
    assert_eq!(Net::KERNELS_PER_STEP, 14);
    // input 64; conv1 block 18 (output, its gradient and, for GELU, the pre-activation:
    // 3 x 18) and its dense d(conv output) 2 x 6 x 6; conv2 2 x 27 and d(conv output) 27
    // (LeakyRelu); fc1 2 x 8; fc2 2 x 6; fc3 3 x 4 (GELU); fc4 2 x 2; the loss 1.
    assert_eq!(
        Net::LAYOUT.acts_per_sample,
        64 + 54 + 72 + 54 + 27 + 16 + 12 + 12 + 4 + 1
    );
}
