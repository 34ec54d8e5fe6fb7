"""Shared helpers for the LeNet SGD fixture scripts (not run directly).

Used by scripts/lenet5_sgd_fixture.py and scripts/cifar_lenet_sgd_fixture.py.
Both record, for one fixed batch, the initial parameters, the initial forward
pass and two SGD-with-momentum steps of a LeNet, as PyTorch computes them on
the CPU, into a safetensors file.

Tensor names written (``<key>`` is each ``model.state_dict()`` key, e.g.
``conv1.weight``, ``conv1.bias``, ..., ``fc3.bias``):

  init.<key>   parameters right after construction (default PyTorch init)
  x            the input batch, float32 [N, C, H, W]
  y            the class labels, int64 [N]
  logits0      forward of the initial model on x, float32 [N, 10]
  loss0        CrossEntropyLoss (mean) of logits0 vs y, float32 [1]
  loss1        loss computed in step 1 (equals loss0), float32 [1]
  grad1.<key>  gradients of loss1 w.r.t. the initial parameters
  step1.<key>  parameters after step 1
  loss2        loss at the step-1 parameters (computed in step 2, before its update), [1]
  grad2.<key>  gradients of loss2 w.r.t. the step-1 parameters
  step2.<key>  parameters after step 2 (momentum buffer = 0.9*grad1 + grad2)
"""

import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load, save

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_determinism():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


class LeNet(nn.Module):
    """conv1 -> relu -> maxpool2 -> conv2 -> relu -> maxpool2 -> flatten ->
    fc1 -> relu -> fc2 -> relu -> fc3."""

    def __init__(self, in_channels: int, conv1_padding: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=conv1_padding)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def _snapshot(model, prefix, out):
    for k, v in model.state_dict().items():
        out[f"{prefix}.{k}"] = v.detach().clone().contiguous()


def run_two_sgd_steps(model, x, y, lr, momentum, out_path, metadata):
    """Fill the tensor dict described in the module docstring and save it."""
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    t = {}
    _snapshot(model, "init", t)
    t["x"] = x.contiguous()
    t["y"] = y.contiguous()

    loss_fn = nn.CrossEntropyLoss()  # reduction='mean'
    with torch.no_grad():
        logits0 = model(x)
        loss0 = loss_fn(logits0, y)
    t["logits0"] = logits0.contiguous()
    t["loss0"] = loss0.reshape(1)

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    names = [k for k, _ in model.named_parameters()]
    assert names == list(model.state_dict().keys())

    for step in (1, 2):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        t[f"loss{step}"] = loss.detach().reshape(1).clone()
        for k, p in model.named_parameters():
            t[f"grad{step}.{k}"] = p.grad.detach().clone().contiguous()
        opt.step()
        _snapshot(model, f"step{step}", t)

    for k, v in t.items():
        assert k in ("y",) or v.dtype == torch.float32, k

    meta = {
        "torch_version": torch.__version__,
        "y_dtype": "int64",
        "loss": "CrossEntropyLoss(reduction='mean')",
        "optimizer": f"SGD(lr={lr}, momentum={momentum}, dampening=0, nesterov=False, weight_decay=0)",
    }
    meta.update(metadata)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "wb") as f:
        f.write(_reproducible_safetensors(t, meta))
    return t


def _reproducible_safetensors(tensors, metadata):
    """safetensors.torch.save, with the metadata keys sorted.

    The library writes __metadata__ from a hash map, in a different order each
    run; sorting it makes reruns byte-identical. Tensor entries, offsets and
    data are left exactly as the library wrote them.
    """
    raw = save(tensors, metadata=metadata)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    out = struct.pack("<Q", len(text)) + text + raw[8 + n :]
    assert load(out).keys() == tensors.keys()
    return out


def print_summary(t, out_path):
    print(f"wrote {os.path.relpath(out_path, REPO_ROOT)} ({os.path.getsize(out_path)} bytes, {len(t)} tensors)")
    for k in sorted(t):
        v = t[k]
        extra = ""
        if v.numel() == 1:
            extra = f" = {v.item():.9g}"
        elif v.dtype == torch.float32:
            extra = f" sum={v.double().sum().item():.9g} absmax={v.abs().max().item():.6g}"
        print(f"  {k:24s} {str(v.dtype):14s} {list(v.shape)}{extra}")
    print(f"loss0={t['loss0'].item():.9g} loss1={t['loss1'].item():.9g} loss2={t['loss2'].item():.9g}")
    print("logits0[0] =", [round(v, 6) for v in t["logits0"][0].tolist()])


def write_fixture(out, tensors, metadata):
    """Checks that every floating-point tensor is finite, writes `tensors` with `metadata` to
    `out` (see `_reproducible_safetensors`) and says so."""
    for k, v in tensors.items():
        if v.is_floating_point():
            assert torch.isfinite(v).all(), k
    with open(out, "wb") as f:
        f.write(_reproducible_safetensors(tensors, metadata))
    print(f"wrote {os.path.relpath(out, REPO_ROOT)} ({os.path.getsize(out)} bytes, {len(tensors)} tensors)")
