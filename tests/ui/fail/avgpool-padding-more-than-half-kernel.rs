use cubenet::prelude::*;

#[network(input = [1, 28, 28])]
pub struct Net {
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    #[layer(stride = 2, padding = 2)]
    avg: AvgPool2d<3>,
    flatten: Flatten,
    fc1: Linear<864, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
