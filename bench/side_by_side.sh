#!/usr/bin/env bash
# cubenet's training step beside PyTorch eager's, on this machine, in one run.
#
#   bench/side_by_side.sh [lenet5|cifar] [repetitions]
#   BACKEND=wgpu bench/side_by_side.sh lenet5      # lavapipe instead of the cpu runtime
#
# Both run the same network (LeNet-5 on 1x28x28, or the CIFAR tutorial LeNet on 3x32x32),
# batch 100, fp32, SGD lr 0.01 momentum 0.9, on random data, with the same number of threads
# (all cores: cubecl's cpu runtime uses every core, lavapipe gets LP_NUM_THREADS and PyTorch
# torch.set_num_threads). They alternate, REPS times each; the figures are the medians.
# cubenet's side is examples/step_profile.rs (cubenet::zoo's networks) built with
# `--features $BACKEND` (default `cpu`: wgpu + cubecl's cpu runtime, so a GPU adapter wins
# when there is one and the cpu runtime runs otherwise; it was 6-8x faster than lavapipe
# here); PyTorch's is bench/pytorch_step.py (eager). The cpu and cuda features need LLVM:
# scripts/prepare-llvm.sh is run first (idempotent; installs Debian packages when missing).
# If PyTorch is missing, it is installed into ./venv (about 5 GB, from PyPI, pinned in
# scripts/requirements-oracle.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
NET="${1:-lenet5}"
REPS="${2:-5}"
STEPS="${STEPS:-20}"
THREADS="$(nproc)"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
export LP_NUM_THREADS="$THREADS"

if ! venv/bin/python -c "import torch" 2>/dev/null; then
  echo "installing PyTorch (CPU) into ./venv ..." >&2
  python3 -m venv venv
  venv/bin/pip install -q -r scripts/requirements-oracle.txt
fi
BACKEND="${BACKEND:-cpu}"
case "$BACKEND" in
  cpu|cuda) scripts/prepare-llvm.sh >&2; features=(--features "$BACKEND") ;;
  wgpu) features=() ;;
  *) echo "BACKEND must be cpu, wgpu or cuda (got '$BACKEND')" >&2; exit 2 ;;
esac
cargo build -q --release "${features[@]}" --example step_profile
bin="${CARGO_TARGET_DIR:-target}/release/examples/step_profile"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

cub=(); pt=(); line=""
for i in $(seq "$REPS"); do
  line="$("$bin" --net "$NET" --steps "$STEPS" | tail -n 1)"
  echo "cubenet  #$i: $line" >&2
  cub+=("$(echo "$line" | field samples_per_s)")
  p="$(venv/bin/python bench/pytorch_step.py --net "$NET" --steps "$STEPS" --threads "$THREADS")"
  echo "pytorch  #$i: $p" >&2
  pt+=("$(echo "$p" | field samples_per_s)")
done
c="$(printf '%s\n' "${cub[@]}" | median)"
t="$(printf '%s\n' "${pt[@]}" | median)"
name="$(echo "$line" | field net)"
dev="$(echo "$line" | field device)"
k="$(echo "$line" | field kernels_per_step)"
g="$(echo "$line" | field gflops)"
macs_ratio="$(awk -v c="$c" -v t="$t" 'BEGIN {printf "%.3f", c / t}')"
gflops="$(awk -v g="$g" -v s="$(echo "$line" | field samples_per_s)" -v c="$c" 'BEGIN {printf "%.3f", g * c / s}')"
echo "figures: medians of $REPS alternating runs of $STEPS steps each, batch 100, $THREADS threads, $(uname -n), $(date -u +%F)" >&2
echo "net=$name backend=$dev cubenet_samples_per_s=$c pytorch_samples_per_s=$t ratio=$macs_ratio cubenet_gflops=$gflops kernels_per_step=$k"
