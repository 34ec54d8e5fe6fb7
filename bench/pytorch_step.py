"""PyTorch side of bench/side_by_side.sh: times the training step of the same network as
cubenet's examples/step_profile.rs (cubenet::zoo's LeNet5, CifarLeNet, FashionBn, ResNet8;
forward, cross-entropy, backward, SGD lr 0.01 momentum 0.9; training mode), fp32, on random data, with a given number of threads; eager by default, or
`--compile` (torch.compile of the model), on the CPU or `--device cuda`.

    venv/bin/python bench/pytorch_step.py --net lenet5 --batch-size 100 --steps 20 --threads 2
    python3 bench/pytorch_step.py --net lenet5 --device cuda --compile --batch-size 1000

Prints one line: net=<name> samples_per_s=<x> ms_per_step=<y> device=<d> mode=<eager|compile>
params=<n> (the sum of numel over model.parameters(), as cubenet's SUMMARY counts: 61,706
LeNet-5, 62,006 CIFAR LeNet, 117,418 FashionBn, 78,042 ResNet8). `--params` prints
`net=<name> params=<n> tensors=<t>` and exits without timing.
"""
import argparse
import time

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# The same LeNet and torchvision BasicBlock the fixture scripts build.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from norm_cases import BasicBlock  # noqa: E402
from sgd_fixture_common import LeNet  # noqa: E402


class FashionBn(nn.Module):
    """cubenet::zoo::FashionBn: conv-BN-relu-pool x2, linear-BN1d-relu, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(800, 128)
        self.bn3 = nn.BatchNorm1d(128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.bn3(self.fc1(x)))
        return self.fc2(x)


class ResNet8(nn.Module):
    """cubenet::zoo::ResNet8: 3x3 stem with BN, BasicBlocks 16/32/64, global average pool."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, 2, True)
        self.layer3 = BasicBlock(32, 64, 2, True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="lenet5", choices=["lenet5", "cifar", "bn", "resnet8"])
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--params", action="store_true", help="print the parameter count and exit")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.net == "lenet5":
        model, shape, name = LeNet(1, 2), (1, 28, 28), "lenet5"
    elif a.net == "cifar":
        model, shape, name = LeNet(3, 0), (3, 32, 32), "cifar_lenet"
    elif a.net == "bn":
        model, shape, name = FashionBn(), (1, 28, 28), "fashion_bn"
    else:
        model, shape, name = ResNet8(), (3, 32, 32), "resnet8"
    params = list(model.parameters())
    nparams = sum(t.numel() for t in params)
    if a.params:
        print(f"net={name} params={nparams} tensors={len(params)}")
        return
    x = (torch.rand(a.batch_size, *shape) * 2 - 1).to(a.device)
    y = torch.randint(0, 10, (a.batch_size,)).to(a.device)
    model = model.to(a.device)
    fwd = torch.compile(model) if a.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(fwd(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # the host reads the loss, as cubenet's step does

    for _ in range(3):  # warm-up (and torch.compile's compilation)
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    secs = time.perf_counter() - start
    sps = a.steps * a.batch_size / secs
    mode = "compile" if a.compile else "eager"
    print(
        f"net={name} samples_per_s={sps:.1f} ms_per_step={1e3 * secs / a.steps:.1f} "
        f"device={a.device} mode={mode} params={nparams}"
    )


if __name__ == "__main__":
    main()
