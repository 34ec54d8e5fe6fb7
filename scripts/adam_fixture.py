"""PyTorch parity cases for Adam, AdamW, gradient clipping and the learning-rate schedules.

Produces tests/fixtures/optim_cases.safetensors for tests/parity_optim.rs. Every case trains the
same small network (built like `OptNet` in that test: same layers and field names, so the
`state_dict` keys agree), initialised by PyTorch's default init from a fixed seed, in float32
on the CPU: nn.CrossEntropyLoss (mean), two optimizer steps on two batches of 4, optionally
with torch.nn.utils.clip_grad_norm_ between backward() and step().

  network  conv Conv2d(1, 3, 3, padding=1) -> ReLU -> MaxPool2d(2) -> flatten
           -> fc1 Linear(27, 8) -> ReLU -> fc2 Linear(8, 3); input 1x6x6
  cases    adam       Adam(lr=0.01)                                  (torch defaults otherwise)
           adam_l2    Adam(lr=0.01, weight_decay=0.1)                (L2 added to the gradient)
           adamw      AdamW(lr=0.01, weight_decay=0.1)               (decoupled)
           sgd_clip   SGD(lr=0.1, momentum=0.9) + clip_grad_norm_(max_norm=0.3)
           adam_clip  Adam(lr=0.01, betas=(0.8, 0.99)) + clip_grad_norm_(max_norm=0.3)
  Adam and AdamW run with foreach=False (torch's _single_tensor_adam, the CPU default).

Keys (float32; labels int64; schedules float64):
  <case>.x<k>, <case>.y<k>          batch of step k (1-based), x = 2 * randn
  <case>.init.<key>                 the parameters before step 1
  <case>.logits                     forward of batch 1 at init
  <case>.loss1, <case>.grad.<key>   loss and (unclipped) gradients of batch 1 at init
  <case>.loss2                      loss of batch 2 after step 1 (before step 2)
  <case>.total_norm<k>              clip_grad_norm_'s return value at step k (clip cases)
  <case>.step<k>.<key>              parameters after step k
  <case>.exp_avg.<key>, <case>.exp_avg_sq.<key>   Adam state after step 2 (Adam cases)
  sched.step_lr      StepLR(step_size=2, gamma=0.5), base lr 0.1: get_last_lr() at epochs 0..7
  sched.cosine       CosineAnnealingLR(T_max=5, eta_min=0.001), base 0.1: epochs 0..12
  sched.linear       LinearLR(start_factor=0.25, end_factor=1.0, total_iters=4), base 0.1: 0..7
  sched.linear_down  LinearLR(start_factor=1.0, end_factor=0.5, total_iters=3), base 0.1: 0..5

Rerun from the repository root:
  venv/bin/python scripts/adam_fixture.py
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

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "optim_cases.safetensors")
T = {}  # everything written


def put(key, value):
    assert key not in T, key
    T[key] = value.detach().clone().contiguous()


def net():
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(1, 3, 3, padding=1)), ("relu1", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(27, 8)), ("relu2", nn.ReLU()),
        ("fc2", nn.Linear(8, 3))]))


def case(name, make_opt, seed, clip=None):
    torch.manual_seed(seed)
    model = net()
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(2.0 * torch.randn(4, 1, 6, 6, generator=g), torch.randint(0, 3, (4,), generator=g))
               for _ in range(2)]
    for k, (x, y) in enumerate(batches, start=1):
        put(f"{name}.x{k}", x)
        put(f"{name}.y{k}", y)
    for key, v in model.state_dict().items():
        put(f"{name}.init.{key}", v)
    opt = make_opt(model.parameters())
    for k, (x, y) in enumerate(batches, start=1):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if k == 1:
            put(f"{name}.logits", logits)
            for key, p in model.named_parameters():
                put(f"{name}.grad.{key}", p.grad)
                nz = p.grad[p.grad != 0].abs()
                if nz.numel():
                    print(f"   {name} {key}: smallest non-zero |grad| {nz.min().item():.3g}")
        put(f"{name}.loss{k}", loss.detach().reshape(1))
        if clip is not None:
            total = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            assert total.item() > clip, f"{name}: step {k} is not clipped ({total.item()} <= {clip})"
            put(f"{name}.total_norm{k}", total.reshape(1))
        opt.step()
        for key, v in model.state_dict().items():
            put(f"{name}.step{k}.{key}", v)
    if isinstance(opt, torch.optim.Adam):
        for key, p in model.named_parameters():
            st = opt.state[p]
            assert st["step"].item() == 2
            put(f"{name}.exp_avg.{key}", st["exp_avg"])
            put(f"{name}.exp_avg_sq.{key}", st["exp_avg_sq"])
    norms = [T[f"{name}.total_norm{k}"].item() for k in (1, 2)] if clip else []
    print(f"== {name}: losses {T[f'{name}.loss1'].item():.7g}, {T[f'{name}.loss2'].item():.7g}"
          + (f", total norms {norms}" if norms else ""))


def schedule(key, make, epochs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    put(key, torch.tensor(lrs, dtype=torch.float64))
    print(f"== {key}: {lrs}")


def main():
    setup_determinism()
    case("adam", lambda p: torch.optim.Adam(p, lr=0.01, foreach=False), 31)
    case("adam_l2", lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1, foreach=False), 33)
    case("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, foreach=False), 35)
    case("sgd_clip", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 37, clip=0.3)
    case("adam_clip", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), foreach=False), 39, clip=0.3)
    sch = torch.optim.lr_scheduler
    schedule("sched.step_lr", lambda o: sch.StepLR(o, step_size=2, gamma=0.5), 8)
    schedule("sched.cosine", lambda o: sch.CosineAnnealingLR(o, T_max=5, eta_min=0.001), 13)
    schedule("sched.linear", lambda o: sch.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4), 8)
    schedule("sched.linear_down", lambda o: sch.LinearLR(o, start_factor=1.0, end_factor=0.5, total_iters=3), 6)
    for k, v in T.items():
        assert v.dtype in (torch.float32, torch.float64, torch.int64), k
    meta = {"generator": "scripts/adam_fixture.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')"}
    write_fixture(OUT, T, meta)


if __name__ == "__main__":
    main()
