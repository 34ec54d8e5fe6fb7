use cubenet::prelude::*;

/// ResNet-8: identity and projection shortcuts, global average pooling.
#[network(input = [3, 32, 32])]
pub struct ResNet8 {
    #[layer(padding = 1, bias = false)]
    conv1: Conv2d<3, 16, 3>,
    bn1: BatchNorm2d<16>,
    relu: Relu,
    layer1: BasicBlock<16, 16>,
    #[layer(stride = 2, downsample = true)]
    layer2: BasicBlock<16, 32>,
    #[layer(stride = 2, downsample = true)]
    layer3: BasicBlock<32, 64>,
    avgpool: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc: Linear<64, 10>,
}

fn main() {
    let names: Vec<&str> = ResNet8::LAYOUT.params.iter().map(|p| p.name).collect();
    assert_eq!(names[3], "layer1.conv1.weight");
    assert!(names.contains(&"layer2.downsample.0.weight"));
    // bn1, two per block, and the projections of layer2 and layer3.
    assert_eq!(ResNet8::LAYOUT.batch_norms.len(), 9);
}
