#!/usr/bin/env bash
# Builds, on this machine (Rust, no GPU needed), what bench/gpu/run.sh runs on a machine with
# an NVIDIA GPU that has PyTorch and CUDA but no Rust toolchain and no network:
#   bench/gpu/dist/step_profile.gz    examples/step_profile.rs, release, `--features cuda` only
#   bench/gpu/dist/lenet5_parity.gz   tests/lenet5_parity.rs (the PyTorch parity check), ditto
#   bench/gpu/dist/fixtures/          the two fixtures that check reads
# Binaries are stripped and gzipped so the folder stays well under 64 MiB (the limit on what
# a lent device machine receives); the script fails if it does not.
#
#   bench/gpu/build.sh      # then copy the repository (with bench/gpu/dist) and run bench/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=bench/gpu/dist
target="${CARGO_TARGET_DIR:-target}"

scripts/prepare-llvm.sh >&2
features=(--release --no-default-features --features cuda)
cargo build -q "${features[@]}" --example step_profile
test_bin="$(cargo test -q "${features[@]}" --test lenet5_parity --no-run --message-format=json \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[[ -x "$test_bin" ]] || { echo "build.sh: no lenet5_parity test binary found" >&2; exit 1; }

rm -rf "$dist"
mkdir -p "$dist/fixtures"
cp "$target/release/examples/step_profile" "$dist/step_profile"
cp "$test_bin" "$dist/lenet5_parity"
strip "$dist/step_profile" "$dist/lenet5_parity"
gzip -9 "$dist/step_profile" "$dist/lenet5_parity"
cp tests/fixtures/lenet5_sgd.safetensors tests/fixtures/cifar_lenet_sgd.safetensors "$dist/fixtures/"
git rev-parse HEAD >"$dist/COMMIT"

size="$(du -sm "$dist" | cut -f1)"
du -ah "$dist" >&2
if ((size >= 64)); then
    echo "build.sh: $dist is ${size} MiB, over the 64 MiB a device machine receives" >&2
    exit 1
fi
echo "build.sh: $dist ready (${size} MiB, commit $(cat "$dist/COMMIT")); run bench/gpu/run.sh there" >&2
