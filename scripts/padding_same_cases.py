"""PyTorch parity cases for torch.nn.Conv2d's string paddings, `padding='same'` (odd kernels,
and even kernels whose dilation makes d (k - 1) even; stride 1) and `padding='valid'`.

Produces tests/fixtures/padding_same_cases.safetensors for tests/parity_conv.rs, with the keys
and the pass sequence of scripts/activation_cases_mobile.py (whose `case` this script runs, on
inputs 2 * randn): the logits of batch 1, the loss and gradients of batch 1, then two steps of
torch.optim.SGD(lr=0.1, momentum=0.9), float32 on the CPU, PyTorch's default init.

Cases:
  same_odd      conv1 Conv2d(2, 4, 3, padding='same') -> ReLU -> conv2 Conv2d(4, 3, 5,
                padding='same') -> flatten -> fc Linear(108, 3); input 2x6x6
  same_dilated  conv Conv2d(2, 4, (3, 4), padding='same', dilation=(2, 2)) (total padding
                (4, 6)) -> ReLU -> MaxPool2d(2) -> flatten -> fc Linear(48, 3); input 2x6x8
  valid         conv Conv2d(2, 4, 3, padding='valid') -> Tanh -> flatten -> fc Linear(64, 3);
                input 2x6x6

Rerun from the repository root:
  venv/bin/python scripts/padding_same_cases.py
(environment: scripts/requirements-oracle.txt)
"""

import os
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # keep scripts/__pycache__ out of the work tree
import activation_cases_mobile as m  # noqa: E402
from activation_cases_mobile import seq  # noqa: E402
from sgd_fixture_common import REPO_ROOT, setup_determinism, write_fixture  # noqa: E402

OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "padding_same_cases.safetensors")


def same_odd():
    return seq(("conv1", nn.Conv2d(2, 4, 3, padding="same")), ("act", nn.ReLU()),
               ("conv2", nn.Conv2d(4, 3, 5, padding="same")), ("flatten", nn.Flatten()),
               ("fc", nn.Linear(108, 3)))


def same_dilated():
    return seq(("conv", nn.Conv2d(2, 4, (3, 4), padding="same", dilation=(2, 2))), ("act", nn.ReLU()),
               ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(48, 3)))


def valid():
    return seq(("conv", nn.Conv2d(2, 4, 3, padding="valid")), ("act", nn.Tanh()),
               ("flatten", nn.Flatten()), ("fc", nn.Linear(64, 3)))


def main():
    setup_determinism()
    m.INPUT_SCALE = 2.0
    m.case("same_odd", same_odd, (2, 6, 6), 61)
    m.case("same_dilated", same_dilated, (2, 6, 8), 63)
    m.case("valid", valid, (2, 6, 6), 65)
    meta = {"generator": "scripts/padding_same_cases.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')", "optimizer": f"SGD(lr={m.LR}, momentum={m.MOMENTUM})"}
    write_fixture(OUT, m.T, meta)


if __name__ == "__main__":
    main()
