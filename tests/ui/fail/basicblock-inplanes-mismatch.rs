use cubenet::prelude::*;

#[network(input = [3, 32, 32])]
pub struct Net {
    #[layer(padding = 1, bias = false)]
    conv1: Conv2d<3, 16, 3>,
    bn1: BatchNorm2d<16>,
    relu: Relu,
    layer1: BasicBlock<8, 16>,
    avgpool: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc: Linear<16, 10>,
}

fn main() {
    let _ = Net::KERNELS_PER_STEP;
}
