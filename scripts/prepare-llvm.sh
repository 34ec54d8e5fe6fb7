#!/usr/bin/env bash
# Lets cubecl's `cpu` and `cuda` features build without internet, on Debian 12.
#
# Both features pull in `cubecl-llvm`, whose build dependency `tracel-llvm-bundler` downloads
# an LLVM archive from GitHub in its build script, unless its data folder
#     ${XDG_DATA_HOME:-~/.local/share}/tracel/tracel-llvm-<bundler version>
# already holds the marker file `.tracel-llvm-installed` (the bundler's build.rs returns at
# once when the marker exists). After that, `tracel_llvm_bundler::llvm_sys::link()` (called by
# cubecl-llvm's build.rs) only runs `<folder>/bin/llvm-config --link-static <flag>` for
# --libdir, --includedir, --libs, --system-libs and --cxxflags; `llvm-sys` itself is built with
# `no-llvm-linking` + `disable-alltargets-init` and never looks for LLVM.
#
# This script fills that folder from Debian's LLVM 22 packages instead:
#   lib, include           -> symbolic links into /usr/lib/llvm-22
#   bin/llvm-config        -> a wrapper around Debian's llvm-config that writes every library
#                             given as a full path (`/usr/lib/x86_64-linux-gnu/libz3.so`) as
#                             `-l<name>` (`-lz3`): the bundler keeps only the file stem of a
#                             path (`libz3`), which would become the bad link flag `-llibz3`
#   .tracel-llvm-installed -> the empty marker
#
# Caveat: the bundler (and llvm-sys 231) expect LLVM 23; Debian offers LLVM 22. cubecl 0.11.3
# builds and its cpu runtime runs against it here, but that is a version mismatch, not a
# supported setup. A folder that already holds a real (downloaded) bundle is left alone.
#
# Idempotent: run it as often as you like. Needs root (or sudo) only when packages are missing.
# Usage: scripts/prepare-llvm.sh        (from anywhere; reads the repository's Cargo.lock)
set -euo pipefail

LLVM_MAJOR=22
LLVM_ROOT="/usr/lib/llvm-${LLVM_MAJOR}"
PACKAGES=(
    "llvm-${LLVM_MAJOR}-dev"     # static LLVM libraries, headers, llvm-config
    "libpolly-${LLVM_MAJOR}-dev" # libPolly*.a, named by `llvm-config --libs`
    libzstd-dev zlib1g-dev libxml2-dev libz3-dev # `llvm-config --system-libs`
    g++                          # the bundler and cubecl-llvm compile small C/C++ shims
)

say() { printf 'prepare-llvm: %s\n' "$*"; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$repo/Cargo.lock"

# 1. The bundler version, from Cargo.lock (the folder name depends on it).
version="$(awk '
    /^\[\[package\]\]/ { in_bundler = 0 }
    /^name = "tracel-llvm-bundler"$/ { in_bundler = 1; next }
    in_bundler && /^version = / { gsub(/"/, "", $3); print $3; exit }
' "$lock" 2>/dev/null || true)"
if [[ -z "$version" ]]; then
    say "no tracel-llvm-bundler in $lock; run 'cargo generate-lockfile' (or build once) first" >&2
    exit 1
fi
say "tracel-llvm-bundler $version (from $lock)"

# 2. Debian's LLVM.
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || {
            say "missing packages ${missing[*]} and not root" >&2
            exit 1
        }
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
else
    say "packages already installed: ${PACKAGES[*]}"
fi
real_config="$LLVM_ROOT/bin/llvm-config"
[[ -x "$real_config" ]] || {
    say "$real_config not found after installing llvm-${LLVM_MAJOR}-dev" >&2
    exit 1
}

# 3. The bundler's folder (dirs::data_local_dir(): $XDG_DATA_HOME if absolute, else
#    ~/.local/share).
data="${XDG_DATA_HOME:-}"
[[ "$data" == /* ]] || data="$HOME/.local/share"
dir="$data/tracel/tracel-llvm-$version"
marker="$dir/.tracel-llvm-installed"

if [[ -e "$marker" && -d "$dir/lib" && ! -L "$dir/lib" ]]; then
    say "$dir holds a downloaded LLVM bundle already; left as it is"
    exit 0
fi

mkdir -p "$dir/bin"
for sub in lib include; do
    if [[ -e "$dir/$sub" && ! -L "$dir/$sub" ]]; then
        say "$dir/$sub exists and is not a link; remove $dir and run again" >&2
        exit 1
    fi
    ln -sfn "$LLVM_ROOT/$sub" "$dir/$sub"
done

wrapper="$dir/bin/llvm-config"
new_wrapper="$(mktemp "$dir/bin/.llvm-config.XXXXXX")"
cat >"$new_wrapper" <<EOF
#!/bin/sh
# Written by cubenet's scripts/prepare-llvm.sh: Debian's LLVM ${LLVM_MAJOR} in place of the
# tracel-llvm bundle. Forwards to $real_config and writes libraries given as full paths
# (e.g. /usr/lib/x86_64-linux-gnu/libz3.so) as -l<name> (-lz3).
out=\$("$real_config" "\$@") || exit \$?
printf '%s\n' "\$out" |
    sed -E ':a; s#(^|[[:space:]])/[^[:space:]]*/lib([^/[:space:]]+)\.(so|a)(\.[0-9.]+)?([[:space:]]|\$)#\1-l\2\5#; ta'
EOF
chmod 755 "$new_wrapper"
mv -f "$new_wrapper" "$wrapper"

: >"$marker"

say "wrote $dir:"
say "  lib -> $(readlink "$dir/lib"), include -> $(readlink "$dir/include")"
say "  bin/llvm-config -> wrapper around $real_config ($("$real_config" --version))"
say "  .tracel-llvm-installed (the bundler skips its download)"
say "  system libs now read: $("$wrapper" --link-static --system-libs)"
