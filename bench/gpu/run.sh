#!/usr/bin/env bash
# Runs on a machine with an NVIDIA GPU, PyTorch and CUDA (no Rust, no network needed), in a
# copy of this repository holding bench/gpu/dist from bench/gpu/build.sh:
#   1. checks cubenet's CUDA kernels against PyTorch's reference (tests/lenet5_parity.rs:
#      LeNet-5 and the CIFAR LeNet, logits, loss, every gradient and two SGD steps, 1e-4);
#   2. times the training step of both networks at batch 100 and 1000: cubenet (the binary
#      built with `--features cuda`), PyTorch eager and PyTorch torch.compile, alternating;
#   3. prints one table (markdown), plus `nvidia-smi -L` and the versions above it.
#
#   bench/gpu/run.sh [steps]      (default 50 timed steps after 3 warm-up steps)
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=bench/gpu/dist
steps="${1:-50}"
py="${PYTHON:-python3}"
[[ -f "$dist/step_profile.gz" ]] || { echo "run.sh: $dist missing; run bench/gpu/build.sh on a Rust machine first" >&2; exit 1; }
bin="$(mktemp -d)"
for b in step_profile lenet5_parity; do
    gzip -dc "$dist/$b.gz" >"$bin/$b"
    chmod +x "$bin/$b"
done

echo "## machine"
nvidia-smi -L || true
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
echo "cubenet commit $(cat "$dist/COMMIT" 2>/dev/null || echo unknown)"

echo "## check against PyTorch (tests/lenet5_parity.rs on the GPU)"
check="passed"
CUBENET_FIXTURES="$dist/fixtures" "$bin/lenet5_parity" --test-threads 1 >"$bin/check.log" 2>&1 || check="FAILED"
tail -n 20 "$bin/check.log"

field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
rows=()
for net in lenet5 cifar; do
    for bs in 100 1000; do
        c="$("$bin/step_profile" --net "$net" --batch-size "$bs" --steps "$steps" | tail -n 1)"
        echo "cubenet: $c" >&2
        dev="$(echo "$c" | field device)"
        case "${dev,,}" in *cuda*) ;; *) echo "run.sh: cubenet ran on '$dev', not CUDA" >&2; exit 1 ;; esac
        e="$("$py" bench/pytorch_step.py --device cuda --net "$net" --batch-size "$bs" --steps "$steps")"
        echo "pytorch: $e" >&2
        t="$("$py" bench/pytorch_step.py --device cuda --compile --net "$net" --batch-size "$bs" --steps "$steps" 2>/dev/null | tail -n 1)" || t="samples_per_s=n/a"
        echo "pytorch: $t" >&2
        cs="$(echo "$c" | field samples_per_s)"
        es="$(echo "$e" | field samples_per_s)"
        ts="$(echo "$t" | field samples_per_s)"
        ratio="$(awk -v c="$cs" -v e="$es" 'BEGIN {printf "%.2f", c / e}')"
        rows+=("| $net | $bs | $cs | $es | $ts | $ratio | $(echo "$c" | field kernels_per_step) |")
    done
done

echo "## training step, samples/s ($steps steps after 3 warm-up, fp32, SGD momentum; reference check: $check)"
echo "| net | batch | cubenet (cuda) | PyTorch eager | PyTorch torch.compile | cubenet / eager | kernels/step |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
