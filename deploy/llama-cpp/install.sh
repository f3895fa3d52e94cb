#!/usr/bin/env bash
# Build llama-cpp-python (its OpenAI-compatible server) from PyPI once, and install it into a
# venv with what deploy/llama-cpp/tokenizer_from_gguf.py needs (gguf, tokenizers); later runs
# reuse the built wheel. This is the third-party server the endpoint integration test
# (test/integration/endpoint.llama-cpp.test.ts) and deploy/llama-cpp/serve.sh run.
#
#   bash deploy/llama-cpp/install.sh            # prints the venv's python on its last line
#
# The compile (llama.cpp, ~6 min on 2 idle cores) happens once: the wheel is kept in
# $LLAMA_CPP_CACHE/wheels (default <repo>/.cache/llama-cpp) and pip's own wheel cache keeps a
# copy too, so a fresh clone on the same machine installs in seconds. LLAVA (multimodal) is not
# built: the server scores text only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${LLAMA_CPP_CACHE:-$ROOT/.cache/llama-cpp}"
PY="${PYTHON:-python3}"
VERSION=0.3.36
WHEELS="$CACHE/wheels"
VENV="$CACHE/venv"
mkdir -p "$WHEELS"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp, llama_cpp.server, gguf, tokenizers, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi

wheel() { ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n 1; }
if [ -z "$(wheel)" ]; then
  echo "building llama-cpp-python $VERSION (compiles llama.cpp; minutes)" >&2
  # Keep the wheel portable to the machine that built it only (GGML_NATIVE, the default):
  # the cache is per machine.
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    nice -n 10 "$PY" -m pip wheel --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION" >&2
fi
W="$(wheel)"
[ -n "$W" ] || { echo "no llama-cpp-python wheel in $WHEELS after the build" >&2; exit 1; }

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$W[server]" gguf==0.19.0 tokenizers==0.23.3 >&2
"$VENV/bin/python" -c "import llama_cpp.server, gguf, tokenizers" >&2
echo "$VENV/bin/python"
