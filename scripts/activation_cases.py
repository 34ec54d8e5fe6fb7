"""PyTorch parity cases for the fused activations (Tanh, Sigmoid, LeakyReLU, GELU both forms,
SiLU) and for grouped and depthwise convolution (MobileNet-style blocks).

Produces tests/fixtures/activation_cases.safetensors for tests/parity_activations.rs. Each case
is a small network built like the `#[network]` struct of the same name in that test (same
layers, same field names, so the `state_dict` keys agree), initialised by PyTorch's default
init from a fixed seed, run in float32 on the CPU: nn.CrossEntropyLoss (mean) on the last
Linear's outputs, then two steps of torch.optim.SGD(lr=0.1, momentum=0.9) on two batches.

Cases (every activation on a conv block and on a linear block; GELU both forms; LeakyReLU with
a non-default slope and the default; an activation followed by a max-pool, and a pool followed
by an activation):
  tanh_sigmoid  conv Conv2d(1, 3, 3, padding=1) -> Tanh -> MaxPool2d(2) -> flatten
                -> fc1 Linear(27, 8) -> Sigmoid -> fc2 Linear(8, 3); input 1x6x6
  gelu          conv Conv2d(2, 4, 3) -> GELU() -> MaxPool2d(2) -> flatten
                -> fc1 Linear(16, 6) -> GELU(approximate='tanh') -> fc2 Linear(6, 3); input 2x7x7
  leaky         conv Conv2d(1, 3, 3) -> MaxPool2d(2) -> LeakyReLU(0.2) -> flatten
                -> fc1 Linear(12, 5) -> LeakyReLU() -> fc2 Linear(5, 3); input 1x7x7
  mixed         conv1 Conv2d(1, 2, 3, padding=1) -> Sigmoid -> MaxPool2d(3, stride=2)
                (overlapping) -> conv2 Conv2d(2, 3, 1) -> GELU(approximate='tanh') -> flatten
                -> fc1 Linear(12, 4) -> GELU() -> fc2 Linear(4, 4) -> Tanh -> fc3 Linear(4, 3);
                input 1x6x6
  silu          conv Conv2d(2, 4, 3, padding=1) -> SiLU -> MaxPool2d(2) -> flatten
                -> fc1 Linear(36, 6) -> SiLU -> fc2 Linear(6, 3); input 2x6x6
  grouped       conv1 Conv2d(4, 6, 3, groups=2) -> ReLU -> dw Conv2d(6, 6, 3, padding=1,
                groups=6) (depthwise) -> SiLU -> MaxPool2d(2) -> pw Conv2d(6, 4, 1, groups=2)
                -> flatten -> fc Linear(36, 3); input 4x8x8

Keys (float32; labels int64):
  <case>.x<k>, <case>.y<k>      batch of step k (1-based), 4 samples, x = 2 * randn
  <case>.init.<key>             the parameters before step 1
  <case>.logits                 forward of batch 1 at init
  <case>.loss1, <case>.grad.<key>   loss and gradients of batch 1 at init
  <case>.loss2                  loss of batch 2 after step 1 (before step 2)
  <case>.step<k>.<key>          parameters after step k

Rerun from the repository root:
  venv/bin/python scripts/activation_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, setup_determinism, write_fixture  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "activation_cases.safetensors")
F32 = torch.float32
T = {}  # everything written
LR, MOMENTUM = 0.1, 0.9


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def seq(*layers):
    return nn.Sequential(OrderedDict(layers))


def tanh_sigmoid():
    return seq(("conv", nn.Conv2d(1, 3, 3, padding=1)), ("act1", nn.Tanh()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(27, 8)), ("act2", nn.Sigmoid()),
               ("fc2", nn.Linear(8, 3)))


def gelu():
    return seq(("conv", nn.Conv2d(2, 4, 3)), ("act1", nn.GELU()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(16, 6)), ("act2", nn.GELU(approximate="tanh")),
               ("fc2", nn.Linear(6, 3)))


def leaky():
    return seq(("conv", nn.Conv2d(1, 3, 3)), ("pool", nn.MaxPool2d(2)), ("act1", nn.LeakyReLU(0.2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 5)), ("act2", nn.LeakyReLU()),
               ("fc2", nn.Linear(5, 3)))


def mixed():
    return seq(("conv1", nn.Conv2d(1, 2, 3, padding=1)), ("act1", nn.Sigmoid()),
               ("pool", nn.MaxPool2d(3, stride=2)), ("conv2", nn.Conv2d(2, 3, 1)),
               ("act2", nn.GELU(approximate="tanh")), ("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 4)),
               ("act3", nn.GELU()), ("fc2", nn.Linear(4, 4)), ("act4", nn.Tanh()), ("fc3", nn.Linear(4, 3)))


def silu():
    return seq(("conv", nn.Conv2d(2, 4, 3, padding=1)), ("act1", nn.SiLU()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(36, 6)), ("act2", nn.SiLU()),
               ("fc2", nn.Linear(6, 3)))


def grouped():
    return seq(("conv1", nn.Conv2d(4, 6, 3, groups=2)), ("act1", nn.ReLU()),
               ("dw", nn.Conv2d(6, 6, 3, padding=1, groups=6)), ("act2", nn.SiLU()), ("pool", nn.MaxPool2d(2)),
               ("pw", nn.Conv2d(6, 4, 1, groups=2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(36, 3)))


def case(name, make, input_shape, seed):
    """Two SGD-momentum steps from PyTorch's default init (torch.manual_seed(seed))."""
    torch.manual_seed(seed)
    model = make()
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(2.0 * torch.randn(4, *input_shape, generator=g), torch.randint(0, 3, (4,), generator=g))
               for _ in range(2)]
    for k, (x, y) in enumerate(batches, start=1):
        put(f"{name}.x{k}", x)
        put(f"{name}.y{k}", y)
    for k, v in model.state_dict().items():
        put(f"{name}.init.{k}", v)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    for k, (x, y) in enumerate(batches, start=1):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if k == 1:
            put(f"{name}.logits", logits)
            for key, p in model.named_parameters():
                put(f"{name}.grad.{key}", p.grad)
        put(f"{name}.loss{k}", loss.detach().reshape(1))
        opt.step()
        for key, v in model.state_dict().items():
            put(f"{name}.step{k}.{key}", v)
    print(f"== {name}: losses {T[f'{name}.loss1'].item():.7g}, {T[f'{name}.loss2'].item():.7g}")


def main():
    setup_determinism()
    case("tanh_sigmoid", tanh_sigmoid, (1, 6, 6), 21)
    case("gelu", gelu, (2, 7, 7), 23)
    case("leaky", leaky, (1, 7, 7), 25)
    case("mixed", mixed, (1, 6, 6), 27)
    case("silu", silu, (2, 6, 6), 29)
    case("grouped", grouped, (4, 8, 8), 31)
    for k, v in T.items():
        assert v.dtype in (F32, torch.int64), k
    meta = {"generator": "scripts/activation_cases.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')", "optimizer": f"SGD(lr={LR}, momentum={MOMENTUM})"}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
