//! A MobileNet-style network: a depthwise conv (`groups = in_channels`), a grouped pointwise
//! conv and SiLU activations.
use cubenet::prelude::*;

#[network(input = [3, 16, 16])]
pub struct Net {
    #[layer(stride = 2, padding = 1, bias = false)]
    stem: Conv2d<3, 8, 3>,
    bn1: BatchNorm2d<8>,
    act1: SiLU,
    #[layer(padding = 1, groups = 8, bias = false)]
    dw: Conv2d<8, 8, 3>,
    bn2: BatchNorm2d<8>,
    act2: SiLU,
    #[layer(groups = 2)]
    pw: Conv2d<8, 16, 1>,
    act3: SiLU,
    gap: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc: Linear<16, 10>,
}

fn main() {
    let shape = |name: &str| {
        Net::LAYOUT
            .params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.shape)
    };
    // torch.nn.Conv2d(8, 8, 3, groups=8).weight.shape == (8, 1, 3, 3);
    // torch.nn.Conv2d(8, 16, 1, groups=2).weight.shape == (16, 4, 1, 1).
    assert_eq!(shape("dw.weight"), Some(&[8usize, 1, 3, 3][..]));
    assert_eq!(shape("pw.weight"), Some(&[16usize, 4, 1, 1][..]));
    // 3*8*9 + 2*8 + 8*9 + 2*8 + 16*4 + 16 + 16*10 + 10
    assert_eq!(Net::LAYOUT.num_params, 216 + 16 + 72 + 16 + 64 + 16 + 160 + 10);
}
