#!/usr/bin/env bash
# `make package`: builds the four functions for Function Compute's custom.debian runtimes and
# leaves dist/<function>/bootstrap and dist/<function>.zip.
#
# The binaries are linked against glibc 2.28 (custom.debian10's; debian11 and 12 have newer) with
# cargo-zigbuild, so one build runs on every custom.debian* runtime. A plain `cargo build` here
# would link against this machine's glibc 2.36 and fail to start on older runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(chat auth-login auth-register admin-export)
GLIBC=2.28
TARGET=x86_64-unknown-linux-gnu
ZIGBUILD_VERSION=0.20.1
ZIGLANG_VERSION=0.13.0
TOOLS="$PWD/.tools"
export PATH="$TOOLS/bin:$PATH"

if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "package: installing cargo-zigbuild $ZIGBUILD_VERSION into .tools/"
  cargo install --quiet --locked --root "$TOOLS" cargo-zigbuild --version "$ZIGBUILD_VERSION"
fi
if ! python3 -c 'import ziglang' 2>/dev/null; then
  echo "package: installing zig (PyPI ziglang $ZIGLANG_VERSION)"
  python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi

args=()
for function in "${FUNCTIONS[@]}"; do args+=(-p "$function"); done
cargo zigbuild --release --target "$TARGET.$GLIBC" "${args[@]}"

rm -rf dist
for function in "${FUNCTIONS[@]}"; do
  mkdir -p "dist/$function"
  install -m 755 "target/$TARGET/release/$function" "dist/$function/bootstrap"
  newest=$(objdump -T "dist/$function/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
  if [[ "$(printf '%s\n%s\n' "$newest" "$GLIBC" | sort -V | tail -n1)" != "$GLIBC" ]]; then
    echo "package: $function needs glibc $newest, newer than $GLIBC: it would not start on custom.debian10" >&2
    exit 1
  fi
  python3 - "dist/$function/bootstrap" "dist/$function.zip" <<'PY'
import sys, zipfile
source, target = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o100755 << 16  # a regular, executable file
info.compress_type = zipfile.ZIP_DEFLATED
with open(source, "rb") as binary, zipfile.ZipFile(target, "w") as archive:
    archive.writestr(info, binary.read(), compresslevel=9)
PY
  printf 'package: %-14s bootstrap %6.2f MiB  zip %5.2f MiB  (needs glibc %s)\n' "$function" \
    "$(echo "$(stat -c %s "dist/$function/bootstrap") / 1048576" | bc -l)" \
    "$(echo "$(stat -c %s "dist/$function.zip") / 1048576" | bc -l)" "$newest"
done
