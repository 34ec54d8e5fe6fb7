"""LeNet-5 on Fashion-MNIST: two SGD-with-momentum steps, as PyTorch computes them.

Produces tests/fixtures/lenet5_sgd.safetensors (float32 tensors; labels int64).

Network (PyTorch attribute names conv1, conv2, fc1, fc2, fc3), input 1x28x28:
  conv1 = Conv2d(1, 6, 5, padding=2), relu, max_pool2d(2)
  conv2 = Conv2d(6, 16, 5), relu, max_pool2d(2), flatten (16*5*5 = 400)
  fc1 = Linear(400, 120), relu; fc2 = Linear(120, 84), relu; fc3 = Linear(84, 10)
Init: torch.manual_seed(0), then the model is built (default PyTorch init).
Batch: the first 100 training images/labels of Fashion-MNIST, read from
/usr/share/datasets/fashion-mnist/train-{images-idx3,labels-idx1}-ubyte.gz
(gzip IDX, parsed with numpy), x = (byte/255 - 0.2860) / 0.3530.
Optimizer: torch.optim.SGD(lr=0.01, momentum=0.9), two steps on the same batch.
Single-threaded, torch.use_deterministic_algorithms(True).

Tensor names: see scripts/sgd_fixture_common.py (init.*, x, y, logits0, loss0,
loss1, grad1.*, step1.*, loss2, grad2.*, step2.*).

Rerun from the repository root:
  venv/bin/python scripts/lenet5_sgd_fixture.py
(environment: scripts/requirements-oracle.txt)
"""

import gzip
import os
import struct
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
from sgd_fixture_common import REPO_ROOT, LeNet, print_summary, run_two_sgd_steps, setup_determinism  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "lenet5_sgd.safetensors")
N = 100
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype_code == 0x08, "expected unsigned-byte IDX"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims))
    return arr.reshape(dims)


def main():
    setup_determinism()
    images = read_idx(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz"))
    assert images.shape[1:] == (28, 28) and labels.shape[0] == images.shape[0]

    x = torch.from_numpy(images[:N].astype(np.float32)).reshape(N, 1, 28, 28)
    x = (x / 255.0 - MEAN) / STD
    y = torch.from_numpy(labels[:N].astype(np.int64))

    torch.manual_seed(0)
    model = LeNet(in_channels=1, conv1_padding=2)

    t = run_two_sgd_steps(
        model, x, y, lr=0.01, momentum=0.9, out_path=OUT,
        metadata={
            "network": "LeNet-5: conv1(1,6,5,p2) relu pool2 conv2(6,16,5) relu pool2 fc1(400,120) relu fc2(120,84) relu fc3(84,10)",
            "data": "first 100 Fashion-MNIST train images, (byte/255 - 0.2860)/0.3530",
            "init": "torch.manual_seed(0) then model construction",
        },
    )
    print_summary(t, OUT)
    print("y[:10] =", t["y"][:10].tolist())


if __name__ == "__main__":
    main()
