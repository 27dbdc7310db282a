#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library that qlint's --optimize, --compare and --bench load.
#
# It downloads the onnxruntime wheel for this platform from PyPI with `pip download --no-deps`
# and unpacks only the shared library into a cache folder:
#
#   ${QLINT_ORT_CACHE:-<repo>/.cache/onnxruntime}/<version>/libonnxruntime.so.<version>
#
# qlint looks there when ORT_DYLIB_PATH is not set and no library sits next to its binary. The
# script does nothing when the library is already present, so running it twice is cheap.
#
# Usage: scripts/fetch-onnxruntime.sh
# Environment: QLINT_ORT_CACHE (cache root), PIP (pip command, default `python3 -m pip`).
set -euo pipefail

ORT_VERSION="1.31.1"
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache_root="${QLINT_ORT_CACHE:-$repo/.cache/onnxruntime}"
dest="$cache_root/$ORT_VERSION"

fail() {
  echo "fetch-onnxruntime: error: $*" >&2
  exit 1
}

case "$(uname -s)" in
  Linux) library="libonnxruntime.so.$ORT_VERSION" ;;
  Darwin) library="libonnxruntime.$ORT_VERSION.dylib" ;;
  *) fail "unsupported platform $(uname -s): download onnxruntime $ORT_VERSION yourself and set ORT_DYLIB_PATH to its shared library" ;;
esac

if [[ -f "$dest/$library" ]]; then
  echo "$dest/$library"
  exit 0
fi

read -r -a pip <<<"${PIP:-python3 -m pip}"
if ! "${pip[@]}" --version >/dev/null 2>&1; then
  fail "\`${pip[*]}\` is not available: install pip (or set PIP to a pip command) and run this script again"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-onnxruntime: downloading onnxruntime==$ORT_VERSION for this platform from PyPI" >&2
if ! "${pip[@]}" download --no-deps --only-binary=:all: --disable-pip-version-check \
  --quiet --dest "$work" "onnxruntime==$ORT_VERSION" >&2; then
  fail "pip could not download onnxruntime==$ORT_VERSION: check the network connection to PyPI and that a wheel exists for this platform and Python"
fi

shopt -s nullglob
wheels=("$work"/onnxruntime-"$ORT_VERSION"-*.whl)
[[ ${#wheels[@]} -eq 1 ]] || fail "expected one onnxruntime wheel in $work, found ${#wheels[@]}"

# A wheel is a zip file. Python's zipfile module reads it when unzip is not installed.
mkdir -p "$work/lib"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o -j "${wheels[0]}" "onnxruntime/capi/$library" -d "$work/lib" ||
    fail "the wheel $(basename "${wheels[0]}") has no onnxruntime/capi/$library"
else
  python3 - "${wheels[0]}" "onnxruntime/capi/$library" "$work/lib/$library" <<'PY' ||
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    fail "could not extract onnxruntime/capi/$library from $(basename "${wheels[0]}")"
fi

# Move the library into place in one rename, so a cancelled run never leaves half a file behind.
mkdir -p "$dest"
mv "$work/lib/$library" "$dest/$library.partial"
mv "$dest/$library.partial" "$dest/$library"
echo "fetch-onnxruntime: installed $dest/$library" >&2
echo "$dest/$library"
