"""PyTorch <-> cubenet weight round trip for LeNet-5 (input 1x28x28) and a small ResNet with
BatchNorm buffers and residual blocks (input 3x16x16).

Two directions, both with PyTorch's `state_dict` keys and layouts in safetensors files:

  venv/bin/python scripts/roundtrip.py export
      PyTorch -> cubenet. Builds LeNet-5 (scripts/sgd_fixture_common.py) with
      torch.manual_seed(1), trains it 20 SGD steps on a fixed random batch (so the weights
      are not the default init), saves `model.state_dict()` with
      safetensors.torch.save_file to tests/fixtures/torch_lenet5_state_dict.safetensors,
      and a batch `x` [8,1,28,28] with PyTorch's logits to
      tests/fixtures/torch_lenet5_logits.safetensors. tests/roundtrip.rs loads the state
      dict into cubenet with `load_state_dict` and compares its logits (1e-4 relative).

  venv/bin/python scripts/roundtrip.py check FILE
      cubenet -> PyTorch. FILE is written by tests/roundtrip.rs (target/tmp/roundtrip/
      cubenet_lenet5.safetensors): the weights cubenet trained (its `state_dict`) plus the
      batch `check.x` and cubenet's logits `check.logits`. Loads the weights into PyTorch's
      LeNet-5 with load_state_dict(strict=True) and asserts the logits agree to 1e-4
      relative. Exit status 0 on agreement.

The ResNet (`resnet()` below; tests/roundtrip.rs `SmallResNet`): conv1 Conv2d(3,8,3,padding=1,
bias=False) -> bn1 BatchNorm2d(8) -> relu -> layer1 BasicBlock(8,8) -> layer2 BasicBlock(8,16,
stride=2, downsample) -> avgpool AdaptiveAvgPool2d(1) -> flatten -> drop Dropout(0.2) -> fc
Linear(16,10); torchvision's BasicBlock and state_dict keys (`layer2.downsample.1.running_var`,
`bn1.num_batches_tracked`, ...). Both directions compare logits in EVAL mode (running
statistics; Dropout is the identity):

  export also writes tests/fixtures/torch_resnet_state_dict.safetensors: the ResNet with
      torch.manual_seed(3), trained 30 SGD steps (momentum 0.9) in TRAIN mode on shifted,
      scaled random batches of 16, so the running means / variances are far from 0 / 1 and
      every `num_batches_tracked` is 30 (int64, as PyTorch writes it); and
      tests/fixtures/torch_resnet_logits.safetensors: a batch `x` [8,3,16,16] and its logits
      after model.eval().

  check FILE on tests/roundtrip.rs's target/tmp/roundtrip/cubenet_resnet.safetensors (cubenet
      loaded PyTorch's ResNet, trained 5 more steps in train mode, then `eval()`) picks the
      ResNet by its keys, also requires every `num_batches_tracked` to be int64, loads with
      load_state_dict(strict=True), calls model.eval() and compares the logits the same way.
"""

import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from norm_cases import BasicBlock  # noqa: E402  (torchvision's BasicBlock)
from sgd_fixture_common import REPO_ROOT, LeNet, setup_determinism  # noqa: E402

FIX = os.path.join(REPO_ROOT, "tests", "fixtures")


def lenet5():
    return LeNet(in_channels=1, conv1_padding=2)


def resnet():
    """tests/roundtrip.rs `SmallResNet` (input 3x16x16)."""
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 8, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(8)),
        ("relu", nn.ReLU()), ("layer1", BasicBlock(8, 8)),
        ("layer2", BasicBlock(8, 16, stride=2, downsample=True)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("drop", nn.Dropout(0.2)),
        ("fc", nn.Linear(16, 10))]))


def resnet_batch(g, n):
    """Inputs with per-channel offsets and scales, so running statistics move off 0 / 1."""
    shift = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)
    scale = torch.tensor([2.0, 0.5, 1.5]).view(1, 3, 1, 1)
    return torch.randn(n, 3, 16, 16, generator=g) * scale + shift


def max_rel_err(a, b):
    return ((a - b).abs() / (b.abs() + 1e-3)).max().item()


def export():
    setup_determinism()
    torch.manual_seed(1)
    model = lenet5()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(FIX, "torch_lenet5_state_dict.safetensors"))
    xb = torch.randn(8, 1, 28, 28, generator=g)
    with torch.no_grad():
        logits = model(xb)
    save_file({"x": xb, "logits": logits}, os.path.join(FIX, "torch_lenet5_logits.safetensors"))
    print("keys:", sorted(state))
    print("logits[0]:", logits[0].tolist())
    export_resnet()


def export_resnet():
    torch.manual_seed(3)
    model = resnet()
    g = torch.Generator().manual_seed(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    xs = resnet_batch(g, 16)
    ys = torch.randint(0, 10, (16,), generator=g)
    for step in range(30):
        # A fresh batch every 3 steps: the statistics vary between steps.
        if step % 3 == 0:
            xs = resnet_batch(g, 16)
            ys = torch.randint(0, 10, (16,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xs), ys).backward()
        opt.step()
    model.eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    assert all(state[k].dtype == torch.int64 and state[k].item() == 30
               for k in state if k.endswith("num_batches_tracked"))
    save_file(state, os.path.join(FIX, "torch_resnet_state_dict.safetensors"))
    xb = resnet_batch(g, 8)
    with torch.no_grad():
        logits = model(xb)
    save_file({"x": xb, "logits": logits}, os.path.join(FIX, "torch_resnet_logits.safetensors"))
    print("resnet keys:", sorted(state))
    print("resnet bn1.running_mean:", state["bn1.running_mean"].tolist())
    print("resnet bn1.running_var:", state["bn1.running_var"].tolist())
    print("resnet logits[0]:", logits[0].tolist())


def check(path):
    tensors = load_file(path)
    x, want = tensors.pop("check.x"), tensors.pop("check.logits")
    if "layer1.conv1.weight" in tensors:
        # The ResNet: PyTorch's int64 batch counts, then eval mode (running statistics).
        counts = {k: t for k, t in tensors.items() if k.endswith(".num_batches_tracked")}
        bad = [f"{k}: {t.dtype}" for k, t in counts.items() if t.dtype != torch.int64]
        if len(counts) != 6 or bad:
            print(f"FAIL: expected 6 int64 num_batches_tracked, found {len(counts)} {bad}")
            sys.exit(1)
        print("num_batches_tracked:", sorted({int(t) for t in counts.values()}))
        model = resnet()
        model.load_state_dict(tensors, strict=True)
        model.eval()
    else:
        model = lenet5()
        model.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        got = model(x)
    err = max_rel_err(got, want)
    print(f"{path}: {len(tensors)} tensors loaded (strict); logits {tuple(got.shape)}, max relative difference {err:.2e}")
    if not err <= 1e-4:
        print("FAIL: PyTorch's logits differ from cubenet's")
        sys.exit(1)
    print("OK: PyTorch reproduces cubenet's logits")


if __name__ == "__main__":
    setup_determinism()
    if len(sys.argv) >= 2 and sys.argv[1] == "export":
        export()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
