"""PyTorch <-> cubenet weight round trip for LeNet-5 (input 1x28x28).

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
"""

import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgd_fixture_common import REPO_ROOT, LeNet, setup_determinism  # noqa: E402

FIX = os.path.join(REPO_ROOT, "tests", "fixtures")


def lenet5():
    return LeNet(in_channels=1, conv1_padding=2)


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


def check(path):
    tensors = load_file(path)
    x, want = tensors.pop("check.x"), tensors.pop("check.logits")
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
