"""Writes tests/fixtures/softmax_cases.safetensors: logits and torch.softmax(logits, dim=1)
for tests/parity_softmax.rs (cubenet::softmax, Network::predict_proba).

    venv/bin/python scripts/softmax_fixture.py

Cases (float32): `a.*` 16 x 10 logits ~ N(0, 5^2); `b.*` 3 x 7 with very large and very
negative logits (an unshifted exp would overflow or underflow); `c.*` 4 x 1 (one class).
"""
import pathlib

import torch
from safetensors.torch import save_file

torch.manual_seed(7)
cases = {
    "a": torch.randn(16, 10) * 5,
    "b": torch.tensor(
        [
            [100.0, 99.0, -100.0, 0.0, 88.5, 1e-3, -1e-3],
            [-1000.0, -1001.0, -999.5, -2000.0, -1000.0, -998.0, -1003.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    ),
    "c": torch.randn(4, 1),
}
out = {}
for name, logits in cases.items():
    out[f"{name}.logits"] = logits.contiguous()
    out[f"{name}.probs"] = torch.softmax(logits, dim=1).contiguous()
path = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/softmax_cases.safetensors"
save_file(out, str(path))
print(f"wrote {path} ({len(out)} tensors, torch {torch.__version__})")
