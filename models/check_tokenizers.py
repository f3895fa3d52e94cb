"""Check that the JS tokenizer used by the TypeScript runtime
(@huggingface/tokenizers) gives the same ids, and the same decoded text, as
the Python `tokenizers` library, for every held-out prompt and some awkward
strings. Runs models/check_js_tokenizers.mjs with node from the repo root."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

from common import EVAL_DIR, ROOT, read_jsonl

REPO = os.path.dirname(ROOT)
EXTRA = ["When my flight landed in Greece, I", "My neighbour, <mask>, knocked", "a <mask> b<mask>c",
         "Ünïcödé — “quotes” 😀 tabs\tand\nnewlines  double  space", "<|endoftext|>When",
         " leading space", "trailing ", "Context: [doc 1] Code of Alpha: 7421. Answer: 7421"]


def main() -> int:
    if not shutil.which("node") or not os.path.isdir(os.path.join(REPO, "node_modules", "@huggingface")):
        print("skipped: node or node_modules/@huggingface/tokenizers missing (run npm ci)")
        return 0
    items = read_jsonl(os.path.join(EVAL_DIR, "heldout.jsonl"))
    texts = [x["prompt"] for x in items] + [x["prompt"] + x["completion"] for x in items] + EXTRA
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(src, "w") as f:
            json.dump({"texts": texts}, f)
        subprocess.run(["node", "models/check_js_tokenizers.mjs", src, dst], check=True, cwd=REPO)
        with open(dst) as f:
            js = json.load(f)
    failed = False
    for name in ("tiny-lm", "tiny-mlm"):
        tok = Tokenizer.from_file(os.path.join(ROOT, name, "tokenizer.json"))
        id_bad = sum(tok.encode(t).ids != j for t, j in zip(texts, js[name]))
        # Texts that contain special-token strings legitimately lose them with skip_special_tokens.
        dec_bad = sum(d != t for t, d in zip(texts, js["decoded"][name]) if "<" not in t)
        print(f"{name}: {len(texts)} texts, id mismatches {id_bad}, decode mismatches {dec_bad}")
        failed |= bool(id_bad or dec_bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
