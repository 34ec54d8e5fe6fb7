#!/usr/bin/env bash
# Runs on a machine with an NVIDIA GPU, PyTorch and CUDA (no Rust, no network needed), in a
# copy of this repository holding bench/gpu/dist from bench/gpu/build.sh:
#   1. checks cubenet's CUDA kernels against PyTorch's reference: tests/lenet5_parity.rs
#      (LeNet-5 and the CIFAR LeNet: logits, loss, every gradient and two SGD steps, 1e-4)
#      and tests/parity_norm.rs (BatchNorm2d/1d, pools, torchvision BasicBlock ResNets, in
#      training and eval mode);
#      and step_profile --check-graph per net (10 SGD steps launched and replayed as CUDA
#      graphs must give bitwise the same losses and weights);
#   2. prints step_profile's launch plan (`--plan`: units and longest loop of every training
#      kernel, per target row) of each network at batch 128;
#   3. measures the GPU's fp32 matmul peak as PyTorch reaches it (bench/peak.py, TF32 off);
#   4. times the training step of the four networks (lenet5, cifar, bn = FashionBn,
#      resnet8 = ResNet8) at batch 128 and 1024: cubenet (the binary built with
#      `--features cuda`, launching its kernels, then replaying the step as a CUDA graph,
#      `--graph`), PyTorch eager and PyTorch torch.compile, one after the other;
#   5. prints one table (markdown), plus `nvidia-smi -L` and the versions above it.
#
#   bench/gpu/run.sh [steps]      (default 50 timed steps after 3 warm-up steps)
#   NETS="bn resnet8" BATCHES=128 COMPILE=0 bench/gpu/run.sh 20     # a subset, no torch.compile
# Each row is also printed (stderr) as soon as it is measured, so a run cut short keeps them.
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=bench/gpu/dist
steps="${1:-50}"
py="${PYTHON:-python3}"
read -r -a nets <<<"${NETS:-lenet5 cifar bn resnet8}"
read -r -a batches <<<"${BATCHES:-128 1024}"
plan_batch="${PLAN_BATCH:-128}"
compile="${COMPILE:-1}"
compile_timeout="${COMPILE_TIMEOUT:-300}"   # seconds for one torch.compile run (compilation included)
[[ -f "$dist/step_profile.xz" || -f "$dist/step_profile.gz" ]] || { echo "run.sh: $dist missing; run bench/gpu/build.sh on a Rust machine first" >&2; exit 1; }
bin="$(mktemp -d)"
# build.sh writes .xz (an older dist has .gz); without the xz tool, Python's lzma unpacks it.
unpack() {
    if [[ -f "$1.xz" ]]; then
        if command -v xz >/dev/null; then
            xz -dc "$1.xz"
        else
            "$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1.xz"
        fi
    else
        gzip -dc "$1.gz"
    fi
}
checks=()
for b in step_profile lenet5_parity parity_norm; do
    [[ -f "$dist/$b.xz" || -f "$dist/$b.gz" ]] || continue
    unpack "$dist/$b" >"$bin/$b"
    chmod +x "$bin/$b"
    [[ "$b" == step_profile ]] || checks+=("$b")
done

echo "## machine"
nvidia-smi -L || true
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
echo "cubenet commit $(tr '\n' ' ' <"$dist/COMMIT" 2>/dev/null || echo unknown)"

echo "## check against PyTorch (${checks[*]} on the GPU)"
check="passed"
for t in "${checks[@]}"; do
    if CUBENET_FIXTURES="$dist/fixtures" "$bin/$t" --test-threads 1 >"$bin/$t.log" 2>&1; then
        echo "$t: passed"
    else
        check="FAILED"
        echo "$t: FAILED"
    fi
    tail -n 20 "$bin/$t.log"
done

for net in "${nets[@]}"; do
    if g="$("$bin/step_profile" --check-graph --net "$net" --batch-size 32 --steps 10 2>&1 | tail -n 1)"; then
        echo "graph check: $g"
    else
        check="FAILED"
        echo "graph check FAILED: $g"
    fi
done

echo "## launch plan at batch $plan_batch (step_profile --plan)"
for net in "${nets[@]}"; do
    echo '```'
    "$bin/step_profile" --plan --net "$net" --batch-size "$plan_batch" || echo "run.sh: --plan failed for $net"
    echo '```'
done

field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
p="$("$py" bench/peak.py --device cuda | tail -n 1)" || p="peak_gflops=n/a"
echo "peak: $p" >&2
peak="$(echo "$p" | field peak_gflops)"

rows=()
for net in "${nets[@]}"; do
    for bs in "${batches[@]}"; do
        c="$("$bin/step_profile" --net "$net" --batch-size "$bs" --steps "$steps" | tail -n 1)"
        echo "cubenet: $c" >&2
        gr="$("$bin/step_profile" --graph --net "$net" --batch-size "$bs" --steps "$steps" | tail -n 1)" || gr="samples_per_s=n/a"
        echo "cubenet graph: $gr" >&2
        dev="$(echo "$c" | field device)"
        case "${dev,,}" in *cuda*) ;; *) echo "run.sh: cubenet ran on '$dev', not CUDA" >&2; exit 1 ;; esac
        e="$("$py" bench/pytorch_step.py --device cuda --net "$net" --batch-size "$bs" --steps "$steps")"
        echo "pytorch: $e" >&2
        if [[ "$compile" == 1 ]]; then
            t="$(timeout "$compile_timeout" "$py" bench/pytorch_step.py --device cuda --compile --net "$net" --batch-size "$bs" --steps "$steps" 2>/dev/null | tail -n 1)" || t="samples_per_s=n/a"
        else
            t="samples_per_s=skipped"
        fi
        echo "pytorch: $t" >&2
        cs="$(echo "$c" | field samples_per_s)"
        gs="$(echo "$gr" | field samples_per_s)"
        es="$(echo "$e" | field samples_per_s)"
        ts="$(echo "$t" | field samples_per_s)"
        [[ -n "$ts" ]] || ts="n/a"
        g="$(echo "$c" | field gflops)"
        ratio="$(awk -v c="$cs" -v e="$es" 'BEGIN {printf "%.2f", c / e}')"
        pct="$(awk -v g="$g" -v p="$peak" 'BEGIN {if (p + 0 > 0) printf "%.2f", 100 * g / p; else print "n/a"}')"
        row="| $net | $bs | $cs | $gs | $es | $ts | $ratio | $g | $pct | $(echo "$c" | field kernels_per_step) |"
        echo "row: $row" >&2
        rows+=("$row")
    done
done

echo "## training step, samples/s ($steps steps after 3 warm-up, fp32, SGD momentum; reference check: $check; fp32 matmul peak ${peak:-n/a} GFLOP/s)"
echo "| net | batch | cubenet (cuda) | cubenet, CUDA graph | PyTorch eager | PyTorch torch.compile | cubenet / eager | cubenet GFLOP/s | % of peak | kernels/step |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
