#!/usr/bin/env bash
# Builds, on this machine (Rust, no GPU needed), what bench/gpu/run.sh runs on a machine with
# an NVIDIA GPU that has PyTorch and CUDA but no Rust toolchain and no network:
#   bench/gpu/dist/step_profile.xz    examples/step_profile.rs (LeNet-5, CIFAR LeNet, FashionBn,
#                                     ResNet8), release, `--features cuda` only
#   bench/gpu/dist/lenet5_parity.xz   tests/lenet5_parity.rs (the LeNets' PyTorch parity), ditto
#   bench/gpu/dist/parity_norm.xz     tests/parity_norm.rs (BatchNorm2d/1d and torchvision
#                                     BasicBlock ResNets against PyTorch), ditto
#   bench/gpu/dist/fixtures/          the fixtures those checks read
# Binaries are stripped and xz-compressed (about 85 MB -> 17 MB each; gzip -9 left 27 MB
# each, 82 MiB in all) so the folder stays under 64 MiB (the limit on what a lent device
# machine receives; 52 MiB in Dec 2026); the script fails if it does not. The
# compression takes a few minutes (xz -9e, single-threaded for the best ratio).
#
#   bench/gpu/build.sh      # then copy the repository (with bench/gpu/dist) and run bench/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=bench/gpu/dist
target="${CARGO_TARGET_DIR:-target}"
tests=(lenet5_parity parity_norm)
fixtures=(lenet5_sgd.safetensors cifar_lenet_sgd.safetensors norm_cases.safetensors)

scripts/prepare-llvm.sh >&2
features=(--release --no-default-features --features cuda)
cargo build -q "${features[@]}" --example step_profile
declare -A test_bin
for t in "${tests[@]}"; do
    test_bin[$t]="$(cargo test -q "${features[@]}" --test "$t" --no-run --message-format=json \
        | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
    [[ -x "${test_bin[$t]}" ]] || { echo "build.sh: no $t test binary found" >&2; exit 1; }
done

rm -rf "$dist"
mkdir -p "$dist/fixtures"
cp "$target/release/examples/step_profile" "$dist/step_profile"
for t in "${tests[@]}"; do
    cp "${test_bin[$t]}" "$dist/$t"
done
for b in step_profile "${tests[@]}"; do
    strip "$dist/$b"
    xz -9e -T1 "$dist/$b"
done
for f in "${fixtures[@]}"; do
    cp "tests/fixtures/$f" "$dist/fixtures/"
done
git rev-parse HEAD >"$dist/COMMIT"
# The working tree may differ from HEAD (uncommitted edits are built in): say so.
if ! git diff --quiet HEAD -- 2>/dev/null; then
    echo "(+ uncommitted changes)" >>"$dist/COMMIT"
fi

size="$(du -sm "$dist" | cut -f1)"
du -ah "$dist" >&2
if ((size >= 64)); then
    echo "build.sh: $dist is ${size} MiB, over the 64 MiB a device machine receives" >&2
    exit 1
fi
echo "build.sh: $dist ready (${size} MiB, commit $(head -n 1 "$dist/COMMIT")); run bench/gpu/run.sh there" >&2
