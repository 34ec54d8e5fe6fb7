//! Every option of every layer, by name and positionally, per axis and for both axes.
use cubenet::prelude::*;

#[network(input = [3, 17, 20])]
pub struct Net {
    // torch.nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
    // bias=False): 3 x 17 x 20 -> 8 x 9 x 16.
    #[layer(stride = (2, 1), padding = (1, 2), dilation = (1, 2), bias = false)]
    conv1: Conv2d<3, 8, { (3, 5) }>,
    // Pool before relu; torch.nn.MaxPool2d(3, stride=2, padding=1): 8 x 9 x 16 -> 8 x 5 x 8.
    #[layer(stride = 2, padding = 1)]
    pool1: MaxPool2d<3>,
    relu1: Relu,
    // Every option by name: 8 x 5 x 8 -> 4 x 3 x 4.
    #[layer(
        in_channels = 8,
        out_channels = 4,
        kernel_size = 3,
        stride = 2,
        padding = 1,
        dilation = 1,
        bias = true
    )]
    conv2: Conv2d,
    // Per-axis pool: kernel (2, 3), stride (1, 3), padding (1, 0): 4 x 3 x 4 -> 4 x 4 x 1.
    #[layer(kernel_size = (2, 3), stride = (1, 3), padding = (1, 0))]
    pool2: MaxPool2d,
    flatten: Flatten,
    #[layer(bias = false)]
    fc1: Linear<16, 12>,
    relu2: Relu,
    /// Doc comments on layers are allowed.
    #[layer(in_features = 12, out_features = 5)]
    fc2: Linear,
}

fn main() {
    assert_eq!(Net::LAYOUT.classes, 5);
    let names: Vec<&str> = Net::LAYOUT.params.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "conv2.weight",
            "conv2.bias",
            "fc1.weight",
            "fc2.weight",
            "fc2.bias"
        ]
    );
}
