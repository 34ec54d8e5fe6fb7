//! Ready-made networks: the two LeNets this project measures itself with, and the networks of
//! the BatchNorm and ResNet examples.
//!
//! Both are ordinary `#[network]` structs (see their definitions); copy one to start your own.
use crate::network;

/// LeNet-5 for 1 x 28 x 28 images (MNIST, Fashion-MNIST): conv 1→6 k5 padding 2, relu,
/// maxpool 2, conv 6→16 k5, relu, maxpool 2, linear 400→120→84→10 with relu.
/// 61,706 parameters; the training step is 12 kernels.
#[network(input = [1, 28, 28])]
pub struct LeNet5 {
    #[layer(padding = 2)]
    conv1: Conv2d<1, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<400, 120>,
    relu3: Relu,
    fc2: Linear<120, 84>,
    relu4: Relu,
    fc3: Linear<84, 10>,
}

/// The PyTorch CIFAR-10 tutorial's LeNet for 3 x 32 x 32 images
/// (<https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html>): conv 3→6 k5, relu,
/// maxpool 2, conv 6→16 k5, relu, maxpool 2, linear 400→120→84→10 with relu.
/// 62,006 parameters; the training step is 12 kernels.
#[network(input = [3, 32, 32])]
pub struct CifarLeNet {
    conv1: Conv2d<3, 6, 5>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<6, 16, 5>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<400, 120>,
    relu3: Relu,
    fc2: Linear<120, 84>,
    relu4: Relu,
    fc3: Linear<84, 10>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Network;

    #[test]
    fn parameter_counts_match_pytorch() {
        // torchvision-style counts: sum of numel over the state_dict.
        assert_eq!(LeNet5::LAYOUT.num_params, 61_706);
        assert_eq!(CifarLeNet::LAYOUT.num_params, 62_006);
        assert_eq!(LeNet5::TRAIN_KERNELS.len(), LeNet5::KERNELS_PER_STEP);
    }
}

/// The network of the `fashion_mnist_bn` example: conv 1→16 k5 padding 2, BatchNorm2d, relu,
/// maxpool 2, conv 16→32 k5, BatchNorm2d, relu, maxpool 2, linear 800→128, BatchNorm1d, relu,
/// linear 128→10. 117,418 parameters.
#[network(input = [1, 28, 28])]
pub struct FashionBn {
    #[layer(padding = 2)]
    conv1: Conv2d<1, 16, 5>,
    bn1: BatchNorm2d<16>,
    relu1: Relu,
    pool1: MaxPool2d<2>,
    conv2: Conv2d<16, 32, 5>,
    bn2: BatchNorm2d<32>,
    relu2: Relu,
    pool2: MaxPool2d<2>,
    flatten: Flatten,
    fc1: Linear<800, 128>,
    bn3: BatchNorm1d<128>,
    relu3: Relu,
    fc2: Linear<128, 10>,
}

/// ResNet-8 for 3 x 32 x 32 images (the `cifar10_resnet` example): a 3x3 stem with
/// BatchNorm, three BasicBlocks (16, 32, 64 channels; stride 2 and a projection between
/// stages), global average pooling, linear 64→10.
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
