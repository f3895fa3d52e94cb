#!/usr/bin/env bash
# Rebuild the two bundled toy models from scratch, deterministically from the
# seed in common.py (override with REAGENT_MODELS_SEED). Offline developer
# step: about 30-40 min on two otherwise idle CPU cores (LM_DEVICE=cuda trains
# the LM in ~2 min on a GPU); never run in CI or at run time.
#
#   bash models/build.sh
#
# Needs: python3 with venv, the Debian package wordnet-base (training text),
# and, for the final JS tokenizer cross-check, node plus `npm ci` at the root.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f /usr/share/wordnet/data.noun ]; then
  echo "missing /usr/share/wordnet: run 'apt-get install wordnet-base' first" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -r requirements.txt
fi
PY=.venv/bin/python
export PYTHONHASHSEED=0

$PY gen_data.py            # work/data: training texts, held-out candidates
$PY train_tokenizers.py    # tiny-lm/ and tiny-mlm/ tokenizer.json + tokenizer_config.json
$PY train.py lm --device "${LM_DEVICE:-cpu}"   # work/tiny-lm.pt (LM_DEVICE=cuda if you have a GPU)
$PY train.py mlm --threads 1   # work/tiny-mlm.pt (the committed one was trained exactly so)
$PY export_onnx.py         # *.onnx, embed_tokens.f32, config.json; checks onnx == torch
$PY evaluate.py            # eval/heldout.jsonl, metrics.json, README.md numbers
$PY check_tokenizers.py    # JS tokenizer ids == Python tokenizer ids
if [ -d ../node_modules/onnxruntime-node ]; then   # the TS runtime's packages load the files
  (cd .. && node models/check_onnx_node.mjs 10)
fi
du -sh tiny-lm tiny-mlm eval
