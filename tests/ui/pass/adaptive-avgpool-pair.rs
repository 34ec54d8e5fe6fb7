//! AdaptiveAvgPool2d to a `(h, w)` output, as in torchvision's VGG head, and a Dropout
//! with `p = 0` (the identity).
use cubenet::prelude::*;

#[network(input = [1, 13, 11])]
pub struct Net {
    conv1: Conv2d<1, 4, 3>,
    relu1: Relu,
    // torch.nn.AdaptiveAvgPool2d((3, 2)): 4 x 11 x 9 -> 4 x 3 x 2.
    #[layer(output_size = (3, 2))]
    gap: AdaptiveAvgPool2d,
    flatten: Flatten,
    #[layer(p = 0)]
    drop: Dropout,
    fc1: Linear<24, 5>,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 5);
}
