"""CIFAR-10 tutorial LeNet: two SGD-with-momentum steps, as PyTorch computes them.

Produces tests/fixtures/cifar_lenet_sgd.safetensors (float32 tensors; labels int64).

Network (the PyTorch "Training a Classifier" tutorial net; attribute names
conv1, conv2, fc1, fc2, fc3), input 3x32x32:
  conv1 = Conv2d(3, 6, 5), relu, max_pool2d(2)
  conv2 = Conv2d(6, 16, 5), relu, max_pool2d(2), flatten (16*5*5 = 400)
  fc1 = Linear(400, 120), relu; fc2 = Linear(120, 84), relu; fc3 = Linear(84, 10)
Batch: 8 synthetic images: torch.manual_seed(1); x = torch.rand(8,3,32,32)*2-1
(i.e. already normalised with mean/std 0.5); y = torch.randint(0, 10, (8,)).
Init: torch.manual_seed(0), then the model is built (default PyTorch init).
Optimizer: torch.optim.SGD(lr=0.001, momentum=0.9), two steps on the same batch.
Single-threaded, torch.use_deterministic_algorithms(True).

Tensor names: see scripts/sgd_fixture_common.py (init.*, x, y, logits0, loss0,
loss1, grad1.*, step1.*, loss2, grad2.*, step2.*).

Rerun from the repository root:
  venv/bin/python scripts/cifar_lenet_sgd_fixture.py
(environment: scripts/requirements-oracle.txt)
"""

import os
import sys

import torch

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, LeNet, print_summary, run_two_sgd_steps, setup_determinism  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "cifar_lenet_sgd.safetensors")


def main():
    setup_determinism()
    torch.manual_seed(1)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    y = torch.randint(0, 10, (8,))

    torch.manual_seed(0)
    model = LeNet(in_channels=3, conv1_padding=0)

    t = run_two_sgd_steps(
        model, x, y, lr=0.001, momentum=0.9, out_path=OUT,
        metadata={
            "network": "CIFAR tutorial LeNet: conv1(3,6,5) relu pool2 conv2(6,16,5) relu pool2 fc1(400,120) relu fc2(120,84) relu fc3(84,10)",
            "data": "torch.manual_seed(1); x = torch.rand(8,3,32,32)*2-1; y = torch.randint(0,10,(8,))",
            "init": "torch.manual_seed(0) then model construction",
        },
    )
    print_summary(t, OUT)
    print("y =", t["y"].tolist())


if __name__ == "__main__":
    main()
