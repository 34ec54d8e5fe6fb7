"""PyTorch parity cases for the losses of `#[network(loss = ...)]`: cross-entropy with label
smoothing, MSE and BCE with logits (moderate logits, and logits of |z| >= 100).

Produces tests/fixtures/loss_cases.safetensors for tests/parity_losses.rs. Each case is a small
network built like the `#[network]` struct of the same name in that test (same field names, so
the `state_dict` keys agree), initialised by PyTorch's default init from a fixed seed, run in
float32 on the CPU: the loss (reduction 'mean') on the last Linear's outputs, then two steps of
torch.optim.SGD(lr=0.1, momentum=0.9) on two batches of 4 samples.

Cases:
  smoothing   conv Conv2d(1, 3, 3) -> ReLU -> MaxPool2d(2) -> flatten -> fc1 Linear(12, 6)
              -> ReLU -> fc2 Linear(6, 4); input 1x6x6; CrossEntropyLoss(label_smoothing=0.1),
              int64 labels
  mse         fc1 Linear(8, 16) -> Tanh -> fc2 Linear(16, 8) (an autoencoder-shaped MLP,
              input 1x2x4 flattened); MSELoss against float32 targets (2 * randn)
  bce         fc1 Linear(6, 8) -> ReLU -> fc2 Linear(8, 5); input 1x1x6; BCEWithLogitsLoss
              against float32 targets, hard 0/1 and soft (0.25, 0.75)
  bce_extreme the bce network with its input scaled so that logits reach |z| >= 100 (the
              max-subtracted form must stay finite); learning rate 1e-3

Keys (float32; cross-entropy labels int64, value targets float32 [N, C]):
  <case>.x<k>, <case>.y<k>      batch of step k (1-based)
  <case>.init.<key>             the parameters before step 1
  <case>.logits                 forward of batch 1 at init
  <case>.loss1, <case>.grad.<key>   loss and gradients of batch 1 at init
  <case>.loss2                  loss of batch 2 after step 1 (before step 2)
  <case>.step<k>.<key>          parameters after step k

Rerun from the repository root:
  venv/bin/python scripts/loss_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, setup_determinism, write_fixture  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "loss_cases.safetensors")
F32 = torch.float32
T = {}  # everything written
MOMENTUM = 0.9


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def seq(*layers):
    return nn.Sequential(OrderedDict(layers))


def smoothing_net():
    return seq(("conv", nn.Conv2d(1, 3, 3)), ("relu1", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
               ("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 6)), ("relu2", nn.ReLU()),
               ("fc2", nn.Linear(6, 4)))


def mse_net():
    return seq(("flatten", nn.Flatten()), ("fc1", nn.Linear(8, 16)), ("act", nn.Tanh()),
               ("fc2", nn.Linear(16, 8)))


def bce_net():
    return seq(("flatten", nn.Flatten()), ("fc1", nn.Linear(6, 8)), ("relu", nn.ReLU()),
               ("fc2", nn.Linear(8, 5)))


def case(name, make, input_shape, loss_fn, targets, seed, lr=0.1, x_scale=2.0):
    """Two SGD-momentum steps from PyTorch's default init (torch.manual_seed(seed))."""
    torch.manual_seed(seed)
    model = make()
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(x_scale * torch.randn(4, *input_shape, generator=g), targets(g)) for _ in range(2)]
    for k, (x, y) in enumerate(batches, start=1):
        put(f"{name}.x{k}", x)
        put(f"{name}.y{k}", y)
    for k, v in model.state_dict().items():
        put(f"{name}.init.{k}", v)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    for k, (x, y) in enumerate(batches, start=1):
        opt.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        if k == 1:
            put(f"{name}.logits", out)
            for key, p in model.named_parameters():
                put(f"{name}.grad.{key}", p.grad)
        put(f"{name}.loss{k}", loss.detach().reshape(1))
        opt.step()
        for key, v in model.state_dict().items():
            put(f"{name}.step{k}.{key}", v)
    print(f"== {name}: |out| max {T[f'{name}.logits'].abs().max().item():.4g}, "
          f"losses {T[f'{name}.loss1'].item():.7g}, {T[f'{name}.loss2'].item():.7g}")


def bce_targets(g):
    hard = torch.randint(0, 2, (4, 5), generator=g).to(F32)
    soft = torch.tensor([0.25, 0.75], dtype=F32)[torch.randint(0, 2, (4, 5), generator=g)]
    pick = torch.randint(0, 2, (4, 5), generator=g).bool()
    return torch.where(pick, hard, soft)


def main():
    setup_determinism()
    case("smoothing", smoothing_net, (1, 6, 6), nn.CrossEntropyLoss(label_smoothing=0.1),
         lambda g: torch.randint(0, 4, (4,), generator=g), 41)
    case("mse", mse_net, (1, 2, 4), nn.MSELoss(), lambda g: 2.0 * torch.randn(4, 8, generator=g), 43)
    case("bce", bce_net, (1, 1, 6), nn.BCEWithLogitsLoss(), bce_targets, 45)
    case("bce_extreme", bce_net, (1, 1, 6), nn.BCEWithLogitsLoss(), bce_targets, 45, lr=1e-3,
         x_scale=400.0)
    assert T["bce_extreme.logits"].abs().max() >= 100, "bce_extreme: logits must reach |z| >= 100"
    for k, v in T.items():
        assert v.dtype in (F32, torch.int64), k
    meta = {"generator": "scripts/loss_cases.py", "torch_version": torch.__version__,
            "losses": "CrossEntropyLoss(label_smoothing=0.1), MSELoss(), BCEWithLogitsLoss(); reduction 'mean'",
            "optimizer": f"SGD(momentum={MOMENTUM}), lr 0.1 (bce_extreme 1e-3)"}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
