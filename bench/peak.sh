#!/usr/bin/env bash
# This machine's fp32 peak as PyTorch sees it (bench/peak.py: torch.matmul of 2048 and 4096
# square fp32 matrices with all threads, median of 5 runs each, the better size kept).
#
#   bench/peak.sh [peak.py options]      # e.g. --sizes 1024 2048 --runs 3, --device cuda
#
# Last line (stdout): peak_gflops=<x> size=<n> threads=<t> device=<d>. bench/side_by_side.sh
# runs it once per invocation unless PEAK_GFLOPS is set (export PEAK_GFLOPS=... to reuse a
# measured value). Uses ./venv's Python when it has PyTorch, else $PYTHON or python3.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif venv/bin/python -c "import torch" 2>/dev/null; then
    py=venv/bin/python
else
    py=python3
fi
exec "$py" bench/peak.py "$@"
