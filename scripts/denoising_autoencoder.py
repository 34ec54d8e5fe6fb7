"""The PyTorch side of examples/denoising_autoencoder.rs: the same network (Flatten ->
Linear(784, 64) -> ReLU -> Linear(64, 784), PyTorch's default init), the same recipe (Adam
lr 1e-3, batch 128, shuffled each epoch, 5 epochs, Gaussian noise of std 0.4 added to pixels
in [0, 1], nn.MSELoss against the clean image) and the same measure (MSE over every pixel of
the 10000 noisy test images, noise drawn once from a fixed seed). The noise and the shuffle
come from PyTorch's generator, not cubenet's, so the two runs agree in distribution, not bit
for bit.

Run from the repository root (environment: scripts/requirements-oracle.txt):
  venv/bin/python scripts/denoising_autoencoder.py [--data /usr/share/datasets/fashion-mnist]
Prints one line per epoch and `test_mse=<x>` last.
"""

import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn


def idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w).copy())


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(folder, stem))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--noise", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    train = idx_images(find(a.data, "train-images-idx3-ubyte")).float() / 255
    test = idx_images(find(a.data, "t10k-images-idx3-ubyte")).float() / 255
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 784))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.MSELoss()
    g = torch.Generator().manual_seed(1_000_000)
    test_x = test + a.noise * torch.randn(test.shape, generator=g)
    start = time.time()
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(train))
        total, batches = 0.0, 0
        for i in range(0, len(train), a.batch_size):
            clean = train[perm[i:i + a.batch_size]]
            x = clean + a.noise * torch.randn(clean.shape)
            opt.zero_grad()
            loss = loss_fn(model(x), clean.flatten(1))
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        model.eval()
        with torch.no_grad():
            mse = loss_fn(model(test_x), test.flatten(1)).item()
        print(f"epoch {epoch}/{a.epochs}: train_mse {total / batches:.5f} test_mse {mse:.5f} "
              f"({time.time() - start:.1f} s)", flush=True)
    print(f"test_mse={mse:.5f} epochs={a.epochs} noise={a.noise}")


if __name__ == "__main__":
    main()
