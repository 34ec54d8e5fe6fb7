//! Ready-made networks: the two LeNets this project measures itself with.
//!
//! Both are ordinary `#[network]` structs (see their definitions); copy one to start your own.
use crate::network;

/// LeNet-5 for 1 x 28 x 28 images (MNIST, Fashion-MNIST): conv 1→6 k5 padding 2, relu,
/// maxpool 2, conv 6→16 k5, relu, maxpool 2, linear 400→120→84→10 with relu.
/// 61,706 parameters; the training step is 9 kernels.
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
/// 62,006 parameters; the training step is 9 kernels.
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
