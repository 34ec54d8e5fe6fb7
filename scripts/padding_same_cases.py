"""PyTorch parity cases for torch.nn.Conv2d's string paddings, `padding='same'` (odd kernels;
even kernels, where an odd total d (k - 1) pads one more row or column after than before;
dilation; stride 1) and `padding='valid'`.

Produces tests/fixtures/padding_same_cases.safetensors for tests/parity_conv.rs, with the keys
and the pass sequence of scripts/activation_cases_mobile.py (whose `case` this script runs, on
inputs 2 * randn): the logits of batch 1, the loss and gradients of batch 1, then two steps of
torch.optim.SGD(lr=0.1, momentum=0.9), float32 on the CPU, PyTorch's default init.

Cases:
  same_odd      conv1 Conv2d(2, 4, 3, padding='same') -> ReLU -> conv2 Conv2d(4, 3, 5,
                padding='same') -> flatten -> fc Linear(108, 3); input 2x6x6
  same_dilated  conv Conv2d(2, 4, (3, 4), padding='same', dilation=(2, 2)) (total padding
                (4, 6)) -> ReLU -> MaxPool2d(2) -> flatten -> fc Linear(48, 3); input 2x6x8
  same_even     conv1 Conv2d(2, 4, 2, padding='same') (padding 0 before, 1 after) -> ReLU ->
                pool MaxPool2d(3, stride=2) (its last window holds the last conv row and
                column) -> conv2 Conv2d(4, 3, 4, padding='same') (1 before, 2 after) ->
                flatten -> fc Linear(27, 3); input 2x7x7
  same_even_dilated
                conv Conv2d(2, 4, (2, 3), padding='same', dilation=(3, 1)) (totals 3 x 2: 1 x 1
                before, 2 x 1 after) -> Tanh -> flatten -> fc Linear(192, 3); input 2x6x8
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


def same_even():
    return seq(("conv1", nn.Conv2d(2, 4, 2, padding="same")), ("act", nn.ReLU()),
               ("pool", nn.MaxPool2d(3, stride=2)), ("conv2", nn.Conv2d(4, 3, 4, padding="same")),
               ("flatten", nn.Flatten()), ("fc", nn.Linear(27, 3)))


def same_even_dilated():
    return seq(("conv", nn.Conv2d(2, 4, (2, 3), padding="same", dilation=(3, 1))), ("act", nn.Tanh()),
               ("flatten", nn.Flatten()), ("fc", nn.Linear(192, 3)))


def valid():
    return seq(("conv", nn.Conv2d(2, 4, 3, padding="valid")), ("act", nn.Tanh()),
               ("flatten", nn.Flatten()), ("fc", nn.Linear(64, 3)))


def main():
    setup_determinism()
    m.INPUT_SCALE = 2.0
    m.case("same_odd", same_odd, (2, 6, 6), 61)
    m.case("same_dilated", same_dilated, (2, 6, 8), 63)
    m.case("valid", valid, (2, 6, 6), 65)
    m.case("same_even", same_even, (2, 7, 7), 67)
    m.case("same_even_dilated", same_even_dilated, (2, 6, 8), 69)
    meta = {"generator": "scripts/padding_same_cases.py", "torch_version": torch.__version__,
            "loss": "CrossEntropyLoss(reduction='mean')", "optimizer": f"SGD(lr={m.LR}, momentum={m.MOMENTUM})"}
    write_fixture(OUT, m.T, meta)


if __name__ == "__main__":
    main()
