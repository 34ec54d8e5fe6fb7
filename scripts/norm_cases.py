"""PyTorch parity cases for BatchNorm2d, BatchNorm1d, Dropout, AvgPool2d, AdaptiveAvgPool2d and
the train/eval modes.

Produces tests/fixtures/norm_cases.safetensors for tests/parity_norm.rs. Each case is a small
network built like the `#[network]` struct of the same name in that test (same layers, same field
names, so the `state_dict` keys agree), run in float32 on the CPU in training mode:
nn.CrossEntropyLoss (mean) on the last Linear's outputs, torch.optim.SGD(lr=0.1, momentum=0.9).

Initialisation: PyTorch's default init for the convs and linears (torch.manual_seed(seed)); every
BatchNorm then gets non-default values from a second generator, so that the affine parameters
and the eval path through the running statistics are not trivial: weight ~ U(0.5, 1.5),
bias ~ N(0, 0.3), running_mean ~ N(0, 0.5), running_var ~ U(0.5, 2) (num_batches_tracked 0).

The sequence, mirrored by the Rust test (the network in training mode throughout, until the
last line; every training-mode forward updates the BatchNorm running statistics and
num_batches_tracked, as PyTorch's does):
  1. logits = model(x1)                                   (`Network::forward`)
  2. grad_loss = CE(model(x1), y1); backward -> grad.*     (`Network::compute_gradients`)
  3. step 1: zero_grad; loss1 = CE(model(x1), y1); backward; opt.step() -> step1.*
     (`Network::train_step`; the momentum buffers start here: pass 2 leaves them untouched)
  4. step 2: the same on (x2, y2) -> loss2, step2.*
  5. model.eval(); eval_logits = model(x2)                 (`Network::eval` then `forward`)

Dropout is not torch.nn.Dropout (whose mask comes from torch's generator) but the deterministic
mask cubenet draws, reproduced here with u32 arithmetic (`dropout_mask`): for the k-th Dropout
of the network (0-based, in layer order) on the training-mode forward pass number `counter`
(0-based: passes 1..4 above are counters 0..3 for a network made with seed 0; eval passes do not
count), element i = s * len + e (sample s, element e of the sample's C,H,W-ordered tensor of
`len` elements) is kept when
  mix(mix(launch_seed(seed, counter) ^ salt(k)) ^ i) >= floor(p * 2**32)
and scaled by float32(1 / (1 - p)); out = x * (keep * scale), so autograd's backward applies the
same mask and scale.

Cases:
  bn2d           conv Conv2d(1, 4, 3) -> bn BatchNorm2d(4) -> Relu -> MaxPool2d(2) -> flatten
                 -> fc Linear(36, 3); input 1x8x8
  bn_first       bn0 BatchNorm2d(2, eps=1e-3, momentum=0.2) (the first layer: its input is the
                 data) -> conv Conv2d(2, 3, 3, bias=False) -> bn1 BatchNorm2d(3) -> GELU
                 -> flatten -> fc Linear(27, 3); input 2x5x5
  bn1d           flatten -> fc1 Linear(12, 8, bias=False) -> bn BatchNorm1d(8) -> Tanh
                 -> fc2 Linear(8, 3); input 1x3x4
  dropout        flatten -> fc1 Linear(12, 16) -> Relu -> drop1 Dropout(0.3) -> fc2 Linear(16, 8)
                 -> Relu -> drop2 Dropout(0.5) -> fc3 Linear(8, 3); input 1x3x4
  avgpool        conv Conv2d(2, 3, 3, padding=1) -> Relu -> pool AvgPool2d(3, stride=2,
                 padding=1) (count_include_pad) -> conv2 Conv2d(3, 4, 1)
                 -> gap AdaptiveAvgPool2d(1) -> flatten -> fc Linear(4, 3); input 2x7x7
  avgpool_nopad  pool1 AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False)
                 (the first layer: 2x4x13 -> 2x5x7) -> conv Conv2d(2, 3, 3, padding=1)
                 -> pool2 AvgPool2d(3, stride=1, padding=1, count_include_pad=False) (edge
                 windows of 4 and 6 pixels; its backward reaches conv) -> gap
                 AdaptiveAvgPool2d((2, 3)) on 5x7 (uneven, overlapping windows: rows [0,3) [2,5),
                 columns [0,3) [2,5) [4,7)) -> flatten -> fc Linear(18, 3); input 2x4x13
  resnet         conv1 Conv2d(3, 4, 3, padding=1, bias=False) -> bn1 -> relu
                 -> layer1 BasicBlock(4, 4) (identity shortcut)
                 -> layer2 BasicBlock(4, 8, stride=2, downsample) (1x1 conv + BatchNorm2d shortcut)
                 -> avgpool AdaptiveAvgPool2d(1) -> flatten -> fc Linear(8, 3); input 3x8x8
  resnet_first   layer1 BasicBlock(2, 3, downsample) on the input (stride 1, channels change)
                 -> layer2 BasicBlock(3, 3) -> flatten -> fc Linear(75, 3); input 2x5x5
                 (BasicBlock is torchvision's, with the same submodule names)

Keys (float32; labels int64; num_batches_tracked as float32, as cubenet's state_dict has it):
  <case>.x<k>, <case>.y<k>          batch k (1-based), 4 samples, x = 2 * randn
  <case>.init.<key>                 the full state_dict (parameters and buffers) before pass 1
  <case>.logits                     pass 1's logits
  <case>.grad_loss, <case>.grad.<key>   pass 2's loss and the gradient of every parameter
  <case>.loss<k>                    the loss of step k (before its update)
  <case>.step<k>.<key>              the full state_dict after step k
  <case>.eval_logits                logits of batch 2 in eval mode after step 2

Rerun from the repository root:
  venv/bin/python scripts/norm_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, setup_determinism, write_fixture  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "norm_cases.safetensors")
F32 = torch.float32
T = {}  # everything written
LR, MOMENTUM = 0.1, 0.9
BATCH = 4
NET_SEED = 0  # the seed the Rust test passes to `Network::new`

# ---- cubenet's dropout mask (u32 arithmetic on Python ints) ----

M = 0xFFFFFFFF


def mix(x):
    """lowbias32."""
    x &= M
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M
    x ^= x >> 15
    x = (x * 0x846CA68B) & M
    x ^= x >> 16
    return x


def launch_seed(net_seed, counter):
    return mix((net_seed & M) ^ mix(((net_seed >> 32) & M) ^ mix(counter & M)))


def salt(k):
    return ((k + 1) * 0x9E3779B9) & M


def dropout_mask(net_seed, counter, k, p, n, length):
    """keep * scale for an (n, length) batch, float32."""
    threshold = int(math.floor(p * 2.0**32))
    assert 0 <= threshold <= M
    base = mix(launch_seed(net_seed, counter) ^ salt(k))
    scale = torch.tensor(1.0 / (1.0 - p), dtype=torch.float64).to(F32)
    keep = [1.0 if mix(base ^ i) >= threshold else 0.0 for i in range(n * length)]
    return torch.tensor(keep, dtype=F32).reshape(n, length) * scale


class Counter:
    """Training-mode forward passes the network has run (cubenet's dropout `counter`)."""

    def __init__(self):
        self.n = 0


class HashDropout(nn.Module):
    """Dropout with cubenet's mask: the `ordinal`-th Dropout of its network."""

    def __init__(self, p, ordinal, counter):
        super().__init__()
        self.p, self.ordinal, self.counter = p, ordinal, counter
        self.kept = []  # (counter, kept fraction) per training pass, for the printout

    def forward(self, x):
        if not self.training:
            return x
        n = x.shape[0]
        length = x[0].numel()
        mask = dropout_mask(NET_SEED, self.counter.n, self.ordinal, self.p, n, length)
        self.kept.append((self.counter.n, (mask != 0).float().mean().item()))
        return x * mask.reshape(x.shape)


class Net(nn.Sequential):
    """nn.Sequential that counts its training-mode forward passes."""

    def __init__(self, layers, counter):
        super().__init__(OrderedDict(layers))
        self.counter = counter

    def forward(self, x):
        out = super().forward(x)
        if self.training:
            self.counter.n += 1
        return out


def bn2d(c):
    return Net([("conv", nn.Conv2d(1, 4, 3)), ("bn", nn.BatchNorm2d(4)), ("act", nn.ReLU()),
                ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(36, 3))], c)


def bn_first(c):
    return Net([("bn0", nn.BatchNorm2d(2, eps=1e-3, momentum=0.2)), ("conv", nn.Conv2d(2, 3, 3, bias=False)),
                ("bn1", nn.BatchNorm2d(3)), ("act", nn.GELU()), ("flatten", nn.Flatten()),
                ("fc", nn.Linear(27, 3))], c)


def bn1d(c):
    return Net([("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 8, bias=False)), ("bn", nn.BatchNorm1d(8)),
                ("act", nn.Tanh()), ("fc2", nn.Linear(8, 3))], c)


def dropout(c):
    return Net([("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 16)), ("act1", nn.ReLU()),
                ("drop1", HashDropout(0.3, 0, c)), ("fc2", nn.Linear(16, 8)), ("act2", nn.ReLU()),
                ("drop2", HashDropout(0.5, 1, c)), ("fc3", nn.Linear(8, 3))], c)


def avgpool(c):
    return Net([("conv", nn.Conv2d(2, 3, 3, padding=1)), ("act", nn.ReLU()),
                ("pool", nn.AvgPool2d(3, stride=2, padding=1)), ("conv2", nn.Conv2d(3, 4, 1)),
                ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 3))], c)


def avgpool_nopad(c):
    return Net([("pool1", nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False)),
                ("conv", nn.Conv2d(2, 3, 3, padding=1)),
                ("pool2", nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)),
                ("gap", nn.AdaptiveAvgPool2d((2, 3))), ("flatten", nn.Flatten()), ("fc", nn.Linear(18, 3))], c)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (same submodule names, so the same state_dict keys):
    conv1 3x3 (stride, padding 1, no bias) -> bn1 -> relu -> conv2 3x3 (padding 1, no bias) -> bn2,
    plus the shortcut (identity, or downsample = 1x1 conv with the stride, no bias, + BatchNorm2d),
    then relu."""

    def __init__(self, inplanes, planes, stride=1, downsample=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def resnet(c):
    return Net([("conv1", nn.Conv2d(3, 4, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(4)),
                ("relu", nn.ReLU()), ("layer1", BasicBlock(4, 4)),
                ("layer2", BasicBlock(4, 8, stride=2, downsample=True)),
                ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(8, 3))], c)


def resnet_first(c):
    return Net([("layer1", BasicBlock(2, 3, downsample=True)), ("layer2", BasicBlock(3, 3)),
                ("flatten", nn.Flatten()), ("fc", nn.Linear(75, 3))], c)


def randomise_batchnorms(model, g):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.3 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.5 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def put_state(prefix, model):
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            v = v.to(F32)
        put(f"{prefix}.{k}", v)


def case(name, make, input_shape, seed):
    torch.manual_seed(seed)
    counter = Counter()
    model = make(counter)
    randomise_batchnorms(model, torch.Generator().manual_seed(seed + 2))
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(2.0 * torch.randn(BATCH, *input_shape, generator=g), torch.randint(0, 3, (BATCH,), generator=g))
               for _ in range(2)]
    for k, (x, y) in enumerate(batches, start=1):
        put(f"{name}.x{k}", x)
        put(f"{name}.y{k}", y)
    put_state(f"{name}.init", model)
    model.train()
    (x1, y1), _ = batches
    # 1. forward
    put(f"{name}.logits", model(x1))
    # 2. gradients
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    opt.zero_grad()
    loss = F.cross_entropy(model(x1), y1)
    loss.backward()
    put(f"{name}.grad_loss", loss.detach().reshape(1))
    for key, p in model.named_parameters():
        put(f"{name}.grad.{key}", p.grad)
    # 3, 4. two steps
    for k, (x, y) in enumerate(batches, start=1):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        put(f"{name}.loss{k}", loss.detach().reshape(1))
        opt.step()
        put_state(f"{name}.step{k}", model)
    assert counter.n == 4
    # 5. eval
    model.eval()
    with torch.no_grad():
        put(f"{name}.eval_logits", model(batches[1][0]))
    assert counter.n == 4
    drops = [f"{n}: " + ", ".join(f"pass {c} keeps {f:.2f}" for c, f in m.kept)
             for n, m in model.named_children() if isinstance(m, HashDropout)]
    print(f"== {name}: grad_loss {T[f'{name}.grad_loss'].item():.7g}, losses {T[f'{name}.loss1'].item():.7g}, "
          f"{T[f'{name}.loss2'].item():.7g}" + "".join(f"\n   {d}" for d in drops))
    for key, _ in model.named_parameters():
        assert (T[f"{name}.grad.{key}"] != 0).any(), f"{name}: zero gradient of {key}"


def main():
    setup_determinism()
    # the mask's building blocks, pinned (also computed by hand in the docstring's terms)
    assert mix(0) == 0 and salt(0) == 0x9E3779B9 and int(math.floor(0.3 * 2.0**32)) == 1288490188
    case("bn2d", bn2d, (1, 8, 8), 41)
    case("bn_first", bn_first, (2, 5, 5), 43)
    case("bn1d", bn1d, (1, 3, 4), 45)
    case("dropout", dropout, (1, 3, 4), 47)
    case("avgpool", avgpool, (2, 7, 7), 49)
    case("avgpool_nopad", avgpool_nopad, (2, 4, 13), 51)
    case("resnet", resnet, (3, 8, 8), 53)
    case("resnet_first", resnet_first, (2, 5, 5), 55)
    for k, v in T.items():
        assert v.dtype in (F32, torch.int64), k
    meta = {"generator": "scripts/norm_cases.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')", "optimizer": f"SGD(lr={LR}, momentum={MOMENTUM})",
            "net_seed": str(NET_SEED)}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
