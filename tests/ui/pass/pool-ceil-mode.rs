//! `ceil_mode` pools: the shapes the layers after them must match are PyTorch's.
use cubenet::prelude::*;

#[network(input = [1, 12, 13])]
pub struct Net {
    // torch.nn.Conv2d(1, 4, 3): 1 x 12 x 13 -> 4 x 10 x 11.
    conv1: Conv2d<1, 4, 3>,
    relu1: Relu,
    // torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True): 4 x 10 x 11 -> 4 x 6 x 6
    // (floor: 4 x 5 x 6).
    #[layer(stride = 2, padding = 1, ceil_mode = true)]
    pool1: MaxPool2d<3>,
    // torch.nn.Conv2d(4, 4, 2): -> 4 x 5 x 5.
    conv2: Conv2d<4, 4, 2>,
    // torch.nn.MaxPool2d(2, ceil_mode=True): -> 4 x 3 x 3 (floor: 4 x 2 x 2).
    #[layer(ceil_mode = true)]
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<36, 3>,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 3);
}
