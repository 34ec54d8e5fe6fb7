#!/usr/bin/env bash
# cubenet's training step beside PyTorch eager's, on this machine, in one run.
#
#   bench/side_by_side.sh [lenet5|cifar|bn|resnet8|all] [repetitions]
#   BACKEND=wgpu bench/side_by_side.sh lenet5      # lavapipe instead of the cpu runtime
#   PEAK_GFLOPS=350 STEPS=50 bench/side_by_side.sh all 7
#
# Both run the same network (cubenet::zoo's LeNet5 on 1x28x28, CifarLeNet (the CIFAR tutorial
# LeNet) on 3x32x32, FashionBn (conv-BN-relu-pool x2, linear-BN1d-relu, linear) on 1x28x28, or
# ResNet8 (torchvision BasicBlocks, 1x1-conv+BN projections) on 3x32x32; `all` runs the four
# in that order), batch 100, fp32, SGD lr 0.01 momentum 0.9, training mode (BatchNorm uses
# the batch statistics), on random data, with the same number of threads (all cores:
# cubecl's cpu runtime uses every core, lavapipe gets LP_NUM_THREADS and PyTorch
# torch.set_num_threads). They alternate, REPS times each, STEPS timed steps per run (after
# 3 warm-up steps); the figures are the medians.
# cubenet's side is examples/step_profile.rs (`--net` lenet5, cifar, bn, resnet8) built with
# `--features $BACKEND` (default `cpu`: wgpu + cubecl's cpu runtime, so a GPU adapter wins
# when there is one and the cpu runtime runs otherwise; it was 6-8x faster than lavapipe
# here); PyTorch's is bench/pytorch_step.py (eager). The cpu and cuda features need LLVM:
# scripts/prepare-llvm.sh is run first (idempotent; installs Debian packages when missing).
# If PyTorch is missing, it is installed into ./venv (about 5 GB, from PyPI, pinned in
# scripts/requirements-oracle.txt).
# pct_of_peak is cubenet's GFLOP/s (2 x the step's multiply-adds per sample x samples/s) over
# this machine's fp32 peak as PyTorch's matmul reaches it: bench/peak.sh, measured once per
# invocation (before the first net), or PEAK_GFLOPS when set.
#
# One last line per net (stdout; the runs go to stderr):
#   net=<name> cubenet_samples_per_s=<x> pytorch_samples_per_s=<y> ratio=<x/y>
#   cubenet_gflops=<g> peak_gflops=<p> pct_of_peak=<100 g/p> backend=<device> kernels_per_step=<k>
set -euo pipefail
cd "$(dirname "$0")/.."
NET="${1:-lenet5}"
REPS="${2:-5}"
STEPS="${STEPS:-20}"
THREADS="$(nproc)"
case "$NET" in
  lenet5|cifar|bn|resnet8) nets=("$NET") ;;
  all) nets=(lenet5 cifar bn resnet8) ;;
  *) echo "usage: $0 [lenet5|cifar|bn|resnet8|all] [repetitions] (got '$NET')" >&2; exit 2 ;;
esac
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

if [[ -n "${PEAK_GFLOPS:-}" ]]; then
  peak="$PEAK_GFLOPS"
  echo "peak: PEAK_GFLOPS=$peak (from the environment)" >&2
else
  p="$(PYTHON=venv/bin/python bench/peak.sh --threads "$THREADS" | tail -n 1)"
  echo "peak: $p" >&2
  peak="$(echo "$p" | field peak_gflops)"
fi
awk -v p="$peak" 'BEGIN {exit !(p + 0 > 0)}' || { echo "side_by_side.sh: bad peak_gflops '$peak'" >&2; exit 1; }

run_net() {
  local net="$1" i line="" p c t name dev k g ratio gflops pct
  local cub=() pt=()
  for i in $(seq "$REPS"); do
    line="$("$bin" --net "$net" --steps "$STEPS" | tail -n 1)"
    echo "cubenet  #$i: $line" >&2
    cub+=("$(echo "$line" | field samples_per_s)")
    p="$(venv/bin/python bench/pytorch_step.py --net "$net" --steps "$STEPS" --threads "$THREADS")"
    echo "pytorch  #$i: $p" >&2
    pt+=("$(echo "$p" | field samples_per_s)")
  done
  c="$(printf '%s\n' "${cub[@]}" | median)"
  t="$(printf '%s\n' "${pt[@]}" | median)"
  name="$(echo "$line" | field net)"
  dev="$(echo "$line" | field device)"
  k="$(echo "$line" | field kernels_per_step)"
  g="$(echo "$line" | field gflops)"
  ratio="$(awk -v c="$c" -v t="$t" 'BEGIN {printf "%.3f", c / t}')"
  # step_profile's gflops is of its own (last) run; scaled to the median samples/s.
  gflops="$(awk -v g="$g" -v s="$(echo "$line" | field samples_per_s)" -v c="$c" 'BEGIN {printf "%.3f", g * c / s}')"
  pct="$(awk -v g="$gflops" -v p="$peak" 'BEGIN {printf "%.2f", 100 * g / p}')"
  echo "figures ($name): medians of $REPS alternating runs of $STEPS steps each, batch 100, $THREADS threads, $(uname -n), $(date -u +%F)" >&2
  echo "net=$name cubenet_samples_per_s=$c pytorch_samples_per_s=$t ratio=$ratio cubenet_gflops=$gflops peak_gflops=$peak pct_of_peak=$pct backend=$dev kernels_per_step=$k"
}

for net in "${nets[@]}"; do
  run_net "$net"
done
