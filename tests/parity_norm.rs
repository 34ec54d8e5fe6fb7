//! PyTorch parity of BatchNorm2d, BatchNorm1d, Dropout, AvgPool2d and AdaptiveAvgPool2d, and of
//! the train/eval modes, inside whole `#[network]`s: BatchNorm after a conv (then an activation
//! and a max-pool), as the first layer (non-default `eps` and `momentum`) and after a linear
//! without bias; two Dropouts (`p = 0.3` and the default 0.5) with cubenet's deterministic mask;
//! an average pool with padding counted, one with `count_include_pad = false` as the first layer
//! and one after a conv, and adaptive average pools to 1x1 and to uneven, overlapping 2x3
//! windows; two small ResNets of torchvision `BasicBlock`s (identity and projection shortcuts,
//! stride 2, a block on the network input).
//!
//! For every case, on a network made with seed 0 and loaded with the case's initial state (the
//! BatchNorms with random affine parameters and running statistics): in training mode, the
//! logits of batch 1 (`forward`, which also updates the running statistics), the loss and every
//! parameter gradient of batch 1 (`compute_gradients`), then two SGD steps (lr 0.1, momentum
//! 0.9) with the loss of each and the whole `state_dict` after it, parameters and buffers
//! (`running_mean`, `running_var`, `num_batches_tracked`); then `eval()` and the logits of
//! batch 2 from the running statistics, without dropout, leaving the state unchanged. And a
//! `state_dict` round-trip keeps the buffers.
//!
//! Expected values: `tests/fixtures/norm_cases.safetensors`, written by
//! `scripts/norm_cases.py` with PyTorch 2.15 on the CPU (float32; the script's docstring has the
//! sequence and the dropout mask). Tolerance `1e-4 * max(1, |expected|)`.
mod common;

use common::parity::BUFFERS;
use common::*;
use cubenet::prelude::*;
use cubenet::NamedTensor;

const TOL: f32 = 1e-4;

fn fixture() -> Fixture {
    Fixture::load("norm_cases.safetensors")
}

/// Loads `<case>.init.*`; checks, in training mode, the logits of batch 1, the loss and
/// gradients of batch 1, then two `train_step`s (loss of, and state after, each; see
/// `common::parity`); then in eval mode the logits of batch 2, against PyTorch.
fn check_case<N: Network>(case: &str) {
    let fx = fixture();
    // Passes 1 to 4 (dropout counters 0 to 3): forward, gradients, two SGD steps.
    let parity = Parity::<N>::new(&fx, case, TOL)
        .logits("logits")
        .gradients("grad_loss")
        .steps([Sgd::new(0.1).with_momentum(0.9); 2]);
    let mut net = parity.run();
    let want = &parity.want;

    // Eval mode: running statistics, no dropout, and no state change.
    net.eval();
    assert!(!net.training(), "{case}: eval() leaves training mode");
    let (x2, _) = parity.batch(2);
    let logits = net.forward(&x2).unwrap();
    want.values("eval logits", &logits, "eval_logits");
    want.state("after the eval forward", &net, "step2.");
    let again = net.forward(&x2).unwrap();
    assert_eq!(logits, again, "{case}: eval forward is deterministic");
    net.train();
    assert!(net.training(), "{case}: train() returns to training mode");
}

#[network(input = [1, 8, 8])]
pub struct Bn2d {
    conv: Conv2d<1, 4, 3>,
    bn: BatchNorm2d<4>,
    act: Relu,
    pool: MaxPool2d<2>,
    flatten: Flatten,
    fc: Linear<36, 3>,
}

/// conv -> BatchNorm2d -> ReLU -> max-pool -> linear.
#[test]
fn batchnorm2d_after_conv_matches_pytorch() {
    check_case::<Bn2d>("bn2d");
}

#[network(input = [2, 5, 5])]
pub struct BnFirst {
    #[layer(eps = 1e-3, momentum = 0.2)]
    bn0: BatchNorm2d<2>,
    #[layer(bias = false)]
    conv: Conv2d<2, 3, 3>,
    bn1: BatchNorm2d<3>,
    act: Gelu,
    flatten: Flatten,
    fc: Linear<27, 3>,
}

/// BatchNorm2d(eps 1e-3, momentum 0.2) on the input, conv without bias -> BatchNorm2d ->
/// GELU -> linear.
#[test]
fn batchnorm2d_first_with_eps_and_momentum_matches_pytorch() {
    check_case::<BnFirst>("bn_first");
}

#[network(input = [1, 3, 4])]
pub struct Bn1d {
    flatten: Flatten,
    #[layer(bias = false)]
    fc1: Linear<12, 8>,
    bn: BatchNorm1d<8>,
    act: Tanh,
    fc2: Linear<8, 3>,
}

/// linear without bias -> BatchNorm1d (statistics over the batch of 4) -> Tanh -> linear.
#[test]
fn batchnorm1d_matches_pytorch() {
    check_case::<Bn1d>("bn1d");
}

#[network(input = [1, 3, 4])]
pub struct DropoutNet {
    flatten: Flatten,
    fc1: Linear<12, 16>,
    act1: Relu,
    #[layer(p = 0.3)]
    drop1: Dropout,
    fc2: Linear<16, 8>,
    act2: Relu,
    drop2: Dropout,
    fc3: Linear<8, 3>,
}

/// Two Dropouts (p 0.3, and the default 0.5): a different mask on each training pass and for
/// each layer, the same mask in the backward pass, none in eval mode.
#[test]
fn dropout_matches_pytorch_with_the_same_mask() {
    check_case::<DropoutNet>("dropout");
}

#[network(input = [2, 7, 7])]
pub struct AvgPoolNet {
    #[layer(padding = 1)]
    conv: Conv2d<2, 3, 3>,
    act: Relu,
    #[layer(stride = 2, padding = 1)]
    pool: AvgPool2d<3>,
    conv2: Conv2d<3, 4, 1>,
    gap: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc: Linear<4, 3>,
}

/// conv -> ReLU -> AvgPool2d(3, stride 2, padding 1) (padding counted) -> 1x1 conv -> global
/// average pool -> linear.
#[test]
fn avg_pool_and_global_average_pool_match_pytorch() {
    check_case::<AvgPoolNet>("avgpool");
}

#[network(input = [2, 4, 13])]
pub struct AvgPoolNoPad {
    #[layer(stride = (1, 2), padding = (1, 1), count_include_pad = false)]
    pool1: AvgPool2d<{ (2, 3) }>,
    #[layer(padding = 1)]
    conv: Conv2d<2, 3, 3>,
    #[layer(stride = 1, padding = 1, count_include_pad = false)]
    pool2: AvgPool2d<3>,
    gap: AdaptiveAvgPool2d<{ (2, 3) }>,
    flatten: Flatten,
    fc: Linear<18, 3>,
}

/// AvgPool2d((2, 3), stride (1, 2), padding (1, 1), count_include_pad=False) on the input ->
/// conv -> AvgPool2d(3, stride 1, padding 1, count_include_pad=False) -> adaptive average pool
/// 5x7 -> 2x3 (uneven, overlapping windows) -> linear.
#[test]
fn avg_pool_without_padding_count_and_adaptive_pool_match_pytorch() {
    check_case::<AvgPoolNoPad>("avgpool_nopad");
}

#[network(input = [3, 8, 8])]
pub struct ResNet {
    #[layer(padding = 1, bias = false)]
    conv1: Conv2d<3, 4, 3>,
    bn1: BatchNorm2d<4>,
    relu: Relu,
    layer1: BasicBlock<4, 4>,
    #[layer(stride = 2, downsample = true)]
    layer2: BasicBlock<4, 8>,
    avgpool: AdaptiveAvgPool2d<1>,
    flatten: Flatten,
    fc: Linear<8, 3>,
}

/// A small ResNet: stem conv -> BatchNorm2d -> ReLU, a BasicBlock with the identity shortcut,
/// one with stride 2 and the 1x1 conv + BatchNorm2d projection (`downsample`), global average
/// pool, linear. torchvision's BasicBlock and `state_dict` keys (`layer2.downsample.0.weight`).
#[test]
fn resnet_basic_blocks_match_pytorch() {
    check_case::<ResNet>("resnet");
}

#[network(input = [2, 5, 5])]
pub struct ResNetFirst {
    #[layer(downsample = true)]
    layer1: BasicBlock<2, 3>,
    layer2: BasicBlock<3, 3>,
    flatten: Flatten,
    fc: Linear<75, 3>,
}

/// A BasicBlock on the network input (no input gradient; a projection shortcut with stride 1
/// for the channel change), then one with the identity shortcut.
#[test]
fn resnet_block_on_the_input_matches_pytorch() {
    check_case::<ResNetFirst>("resnet_first");
}

/// A `state_dict` taken after training passes, loaded into a network made with another seed,
/// gives back the same state (buffers included) and the same eval logits; a state dict
/// without a buffer is refused.
#[test]
fn state_dict_round_trip_keeps_the_buffers() {
    let fx = fixture();
    let mut a = Bn2d::new(&device(), 4, 0).unwrap();
    assert!(
        a.load_state_dict(&[]).is_err(),
        "an empty state dict is refused"
    );
    a.load_state_dict(&fx.state("bn2d.init.")).unwrap();
    let x = fx.f32("bn2d.x1");
    a.forward(&x).unwrap();
    a.forward(&x).unwrap();
    let saved = a.state_dict().unwrap();
    let stats = saved
        .iter()
        .find(|t| t.name == "bn.num_batches_tracked")
        .expect("num_batches_tracked in the state dict");
    assert_eq!(stats.data, [2.0]);
    let init = fx.state("bn2d.init.");
    for key in ["bn.running_mean", "bn.running_var"] {
        let before = &init.iter().find(|t| t.name == key).unwrap().data;
        let after = &saved.iter().find(|t| t.name == key).unwrap().data;
        assert_ne!(before, after, "{key}: two training passes update it");
    }

    let mut b = Bn2d::new(&device(), 4, 1).unwrap();
    b.load_state_dict(&saved).unwrap();
    let mut got = b.state_dict().unwrap();
    let mut want = saved.clone();
    got.sort_by(|p, q| p.name.cmp(&q.name));
    want.sort_by(|p, q| p.name.cmp(&q.name));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.name, w.name);
        assert_eq!(g.shape, w.shape, "{}", g.name);
        assert_eq!(g.data, w.data, "{}: not restored exactly", g.name);
    }
    a.eval();
    b.eval();
    let x2 = fx.f32("bn2d.x2");
    assert_eq!(a.forward(&x2).unwrap(), b.forward(&x2).unwrap());

    for missing in BUFFERS {
        let partial: Vec<NamedTensor> = saved
            .iter()
            .filter(|t| !t.name.ends_with(missing))
            .cloned()
            .collect();
        let mut c = Bn2d::new(&device(), 4, 0).unwrap();
        assert!(
            c.load_state_dict(&partial).is_err(),
            "a state dict without bn{missing} is refused"
        );
    }
}
