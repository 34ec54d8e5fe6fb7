//! Dropout, AvgPool2d and AdaptiveAvgPool2d, each a block of its own: the shapes after the
//! pools are PyTorch's.
use cubenet::prelude::*;

#[network(input = [3, 32, 32])]
pub struct Net {
    // torch.nn.Conv2d(3, 8, 3, padding=1): 3 x 32 x 32 -> 8 x 32 x 32.
    #[layer(padding = 1)]
    conv1: Conv2d<3, 8, 3>,
    relu1: Relu,
    // torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False): -> 8 x 16 x 16.
    #[layer(stride = 2, padding = 1, count_include_pad = false)]
    avg1: AvgPool2d<3>,
    #[layer(p = 0.1)]
    drop1: Dropout,
    conv2: Conv2d<8, 16, 3>,
    bn2: BatchNorm2d<16>,
    relu2: Relu,
    // torch.nn.AvgPool2d((2, 7)): 16 x 14 x 14 -> 16 x 7 x 2.
    avg2: AvgPool2d<{ (2, 7) }>,
    // torch.nn.AdaptiveAvgPool2d(1): -> 16 x 1 x 1.
    gap: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc1: Linear<16, 32>,
    relu3: Relu,
    // torch.nn.Dropout() (p = 0.5).
    drop2: Dropout,
    fc2: Linear<32, 10>,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 10);
}
