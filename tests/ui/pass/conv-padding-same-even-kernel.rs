//! `padding = "same"` with even kernels: PyTorch pads `d (k - 1) / 2` before and one more row
//! or column after when that total is odd, so the output keeps the input's size.
use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    #[layer(padding = "same")]
    conv1: Conv2d<1, 6, 4>,
    relu: Relu,
    #[layer(padding = "same")]
    conv2: Conv2d<6, 4, { (2, 3) }>,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<784, 10>,
}

fn main() {
    // 1 x 28 x 28 -> conv1 + relu 6 x 28 x 28 -> conv2 + pool 4 x 14 x 14 (fc's 784) -> 10.
    let out: Vec<usize> = Net::LAYOUT.blocks.iter().map(|b| b.out_len).collect();
    assert_eq!(out, [6 * 28 * 28, 4 * 14 * 14, 10]);
}
