"""PyTorch parity cases for ReLU6 and Hardswish (MobileNet's activations), in a file of their
own so that tests/fixtures/activation_cases.safetensors stays as it was written (regenerating
that one with today's PyTorch build changes the last bits of some of its tensors; its script,
scripts/activation_cases.py, is unchanged).

Produces tests/fixtures/activation_cases_mobile.safetensors for tests/parity_activations.rs.
Each case is a small network built like the `#[network]` struct of the same name in that test,
initialised by PyTorch's default init from a fixed seed, run in float32 on the CPU in training
mode, with nn.CrossEntropyLoss (mean) on the last Linear's outputs and
torch.optim.SGD(lr=0.1, momentum=0.9). The sequence is the one tests/common/parity.rs runs (and
scripts/norm_cases.py writes), so that a BatchNorm's running statistics see the same passes:
  1. forward of batch 1 (the logits)
  2. forward + backward of batch 1 (the loss and every gradient; no step)
  3, 4. one SGD step on batch 1, then one on batch 2 (the loss before, the state after each)
The inputs are 8 * randn so that pre-activations reach both of ReLU6's bounds (0 and 6) and
both of Hardswish's (-3 and 3).

Cases:
  relu6      conv Conv2d(2, 4, 3, padding=1) -> ReLU6 -> MaxPool2d(2) -> flatten
             -> fc1 Linear(36, 6) -> ReLU6 -> fc2 Linear(6, 3); input 2x6x6
  hardswish  conv Conv2d(2, 4, 3, padding=1) -> Hardswish -> MaxPool2d(2) -> flatten
             -> fc1 Linear(36, 6) -> Hardswish -> fc2 Linear(6, 3); input 2x6x6
  mobile     stem Conv2d(3, 8, 3, padding=1, bias=False) -> bn BatchNorm2d(8) -> Hardswish
             -> dw Conv2d(8, 8, 3, padding=1, groups=8) -> MaxPool2d(2) -> ReLU6 (after the
             pool: ReLU6 is monotonic) -> pw Conv2d(8, 4, 1) -> flatten -> fc Linear(36, 3);
             input 3x6x6 (the BatchNorm's running statistics are in every state_dict)

Keys (float32; labels int64; num_batches_tracked as float32, as cubenet's state_dict has it):
  <case>.x<k>, <case>.y<k>      batch k (1-based), 4 samples
  <case>.init.<key>             the state_dict before pass 1
  <case>.logits                 pass 1's logits
  <case>.grad_loss, <case>.grad.<key>   pass 2's loss and gradients
  <case>.loss<k>, <case>.step<k>.<key>  the loss of step k and the state_dict after it

Rerun from the repository root:
  venv/bin/python scripts/activation_cases_mobile.py
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

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "activation_cases_mobile.safetensors")
F32 = torch.float32
T = {}  # everything written
LR, MOMENTUM = 0.1, 0.9
BATCH = 4
INPUT_SCALE = 8.0


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def put_state(prefix, model):
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            v = v.to(F32)
        put(f"{prefix}.{k}", v)


def seq(*layers):
    return nn.Sequential(OrderedDict(layers))


def relu6():
    return seq(("conv", nn.Conv2d(2, 4, 3, padding=1)), ("act1", nn.ReLU6()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(36, 6)), ("act2", nn.ReLU6()),
               ("fc2", nn.Linear(6, 3)))


def hardswish():
    return seq(("conv", nn.Conv2d(2, 4, 3, padding=1)), ("act1", nn.Hardswish()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(36, 6)), ("act2", nn.Hardswish()),
               ("fc2", nn.Linear(6, 3)))


def mobile():
    return seq(("stem", nn.Conv2d(3, 8, 3, padding=1, bias=False)), ("bn", nn.BatchNorm2d(8)),
               ("act1", nn.Hardswish()), ("dw", nn.Conv2d(8, 8, 3, padding=1, groups=8)),
               ("pool", nn.MaxPool2d(2)), ("act2", nn.ReLU6()), ("pw", nn.Conv2d(8, 4, 1)),
               ("flatten", nn.Flatten()), ("fc", nn.Linear(36, 3)))


def case(name, make, input_shape, seed):
    """Passes 1 to 4 of the docstring from PyTorch's default init (torch.manual_seed(seed))."""
    torch.manual_seed(seed)
    model = make()
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(INPUT_SCALE * torch.randn(BATCH, *input_shape, generator=g),
                torch.randint(0, 3, (BATCH,), generator=g)) for _ in range(2)]
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
        assert (p.grad != 0).any(), f"{name}: zero gradient of {key}"
    # 3, 4. two steps
    for k, (x, y) in enumerate(batches, start=1):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        put(f"{name}.loss{k}", loss.detach().reshape(1))
        opt.step()
        put_state(f"{name}.step{k}", model)
    print(f"== {name}: grad_loss {T[f'{name}.grad_loss'].item():.7g}, losses {T[f'{name}.loss1'].item():.7g}, "
          f"{T[f'{name}.loss2'].item():.7g}")


def main():
    setup_determinism()
    case("relu6", relu6, (2, 6, 6), 41)
    case("hardswish", hardswish, (2, 6, 6), 43)
    case("mobile", mobile, (3, 6, 6), 45)
    for k, v in T.items():
        assert v.dtype in (F32, torch.int64), k
    meta = {"generator": "scripts/activation_cases_mobile.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')", "optimizer": f"SGD(lr={LR}, momentum={MOMENTUM})"}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
