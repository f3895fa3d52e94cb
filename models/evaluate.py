"""Evaluate the exported ONNX models and write the committed eval artefacts.

Everything here runs on the shipped files (ONNX + tokenizer.json), not on the
torch checkpoints, so the numbers describe what the TypeScript side loads.

  * LM, on all held-out candidates: greedy first-answer-token accuracy and
    full-answer exact match, per task and variant; perplexity on held-out
    WordNet passages.
  * MLM: top-1 accuracy on 15% randomly masked tokens of held-out text, and
    how often the prediction for a masked country is some country.
  * models/eval/heldout.jsonl: the candidates the LM gets fully right (the
    test suite relies on gold answers the model actually produces).
  * models/metrics.json and the generated table in models/README.md.
"""
import json
import os
import platform
import random
import re

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from common import DATA, EVAL_DIR, LM_DIR, LM_EOS, MLM_DIR, ROOT, SEED, WORK, read_jsonl, write_jsonl
from gen_data import COUNTRIES

MIN_PER_TASK = 150


def lm_logits(sess, ids: list[int]) -> np.ndarray:
    x = np.array([ids], dtype=np.int64)
    return sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x),
                           "position_ids": np.arange(len(ids), dtype=np.int64)[None]})[0][0]


def greedy(sess, ids: list[int], n: int) -> list[int]:
    out = []
    for _ in range(n):
        nxt = int(lm_logits(sess, ids + out)[-1].argmax())
        out.append(nxt)
    return out


def evaluate_lm(results: dict) -> list[dict]:
    tok = Tokenizer.from_file(os.path.join(LM_DIR, "tokenizer.json"))
    sess = ort.InferenceSession(os.path.join(LM_DIR, "model.onnx"))
    bos = tok.token_to_id(LM_EOS)
    cands = read_jsonl(os.path.join(DATA, "heldout_candidates.jsonl"))
    keep, stats = [], {}
    for c in cands:
        p_ids = tok.encode(c["prompt"]).ids
        full = tok.encode(c["prompt"] + c["completion"]).ids
        assert full[:len(p_ids)] == p_ids, "prompt tokens must be a prefix"
        gold = full[len(p_ids):]
        gen = greedy(sess, [bos] + p_ids, len(gold))
        first_ok = gen[0] == gold[0]
        full_ok = tok.decode(gen) == c["completion"]
        variant = c["id"].rsplit("-", 1)[0]  # e.g. longra-capital, rag-code
        for key in (c["task"], variant):
            s = stats.setdefault(key, {"n": 0, "first_token": 0, "exact_match": 0})
            s["n"] += 1
            s["first_token"] += first_ok
            s["exact_match"] += full_ok
        if first_ok and full_ok:
            keep.append(c)
    results["lm_heldout"] = {k: {"n": v["n"], "first_token_acc": round(v["first_token"] / v["n"], 4),
                                 "exact_match": round(v["exact_match"] / v["n"], 4)}
                             for k, v in sorted(stats.items())}
    # Perplexity on held-out general English (WordNet passages never trained on).
    nll, count = 0.0, 0
    with open(os.path.join(DATA, "general_heldout.txt"), encoding="utf-8") as f:
        passages = [line.rstrip("\n") for line in f if line.strip()]
    for p in passages:
        ids = [bos] + tok.encode(p).ids[:255]
        lg = lm_logits(sess, ids)[:-1].astype(np.float64)
        lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
        nll += float((lse - lg[np.arange(len(ids) - 1), ids[1:]]).sum())
        count += len(ids) - 1
    results["lm_general_heldout"] = {"passages": len(passages), "tokens": count,
                                     "perplexity": round(float(np.exp(nll / count)), 2)}
    return keep


def evaluate_mlm(results: dict) -> None:
    tok = Tokenizer.from_file(os.path.join(MLM_DIR, "tokenizer.json"))
    sess = ort.InferenceSession(os.path.join(MLM_DIR, "model.onnx"))
    mask_id, specials = tok.token_to_id("<mask>"), {tok.token_to_id(s) for s in ("<s>", "</s>")}
    rng = random.Random(f"{SEED}-mlm-eval")

    def run(ids):
        x = np.array([ids], dtype=np.int64)
        return sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0]

    with open(os.path.join(DATA, "general_heldout.txt"), encoding="utf-8") as f:
        general = [line.rstrip("\n") for line in f if line.strip()]
    cands = read_jsonl(os.path.join(DATA, "heldout_candidates.jsonl"))
    for name, texts in (("general", general), ("tasks", [c["prompt"] + c["completion"] for c in cands])):
        ok = n = 0
        for t in texts:
            ids = tok.encode(t).ids[:256]
            pos = [i for i, x in enumerate(ids) if x not in specials and rng.random() < 0.15]
            if not pos:
                continue
            inp = [mask_id if i in pos else x for i, x in enumerate(ids)]
            pred = run(inp).argmax(-1)
            ok += sum(int(pred[i] == ids[i]) for i in pos)
            n += len(pos)
        results[f"mlm_masked_top1_{name}"] = {"masked_tokens": n, "accuracy": round(ok / n, 4)}
    # Replacement plausibility: mask the country in LongRA prompts.
    countries = {c.removeprefix("the ") for c, _ in COUNTRIES}
    hit = exact = n = 0
    for c in cands:
        if not c["id"].startswith("longra-capital"):
            continue
        span = c["causal"][0]
        enc = tok.encode(c["prompt"])
        toks = [i for i, (s, e) in enumerate(enc.offsets) if s < span["end"] and e > span["start"]]
        if len(toks) != 1:
            continue  # country split into several MLM tokens: skip
        i = toks[0]
        inp = list(enc.ids)
        inp[i] = mask_id
        pred = int(run(inp)[i].argmax())
        word = tok.decode([pred]).strip()
        n += 1
        hit += word in countries
        exact += pred == enc.ids[i]
    results["mlm_country_slot"] = {"n": n, "predicts_a_country": round(hit / n, 4),
                                   "predicts_the_country": round(exact / n, 4)}


def file_sizes() -> dict:
    out = {}
    for d in ("tiny-lm", "tiny-mlm"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            out[f"{d}/{f}"] = os.path.getsize(os.path.join(ROOT, d, f))
    return out


def hardware() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model} ({os.cpu_count()} cores), onnxruntime {ort.__version__} on CPU"


def write_card(results: dict) -> None:
    """Replace the generated block of models/README.md with fresh numbers."""
    r = results
    mb = lambda b: f"{b / 1e6:.2f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"  # noqa: E731
    lines = ["| task | n | greedy first-token acc | greedy full-answer exact match |", "|---|---|---|---|"]
    for k, v in r["lm_heldout"].items():
        lines.append(f"| {k} | {v['n']} | {v['first_token_acc']:.1%} | {v['exact_match']:.1%} |")
    g = r["lm_general_heldout"]
    lines += ["", f"tiny-lm perplexity on {g['passages']} held-out WordNet passages ({g['tokens']} tokens): "
              f"**{g['perplexity']}**", ""]
    lines += [f"tiny-mlm top-1 accuracy on 15% masked tokens: held-out WordNet "
              f"{r['mlm_masked_top1_general']['accuracy']:.1%} ({r['mlm_masked_top1_general']['masked_tokens']} tokens), "
              f"held-out task texts {r['mlm_masked_top1_tasks']['accuracy']:.1%} "
              f"({r['mlm_masked_top1_tasks']['masked_tokens']} tokens).",
              f"Masked country slot in LongRA prompts (n={r['mlm_country_slot']['n']}): predicts some country "
              f"{r['mlm_country_slot']['predicts_a_country']:.1%}, the original country "
              f"{r['mlm_country_slot']['predicts_the_country']:.1%}.", ""]
    lines += [f"`eval/heldout.jsonl` keeps the {r['heldout_file']['longra']} LongRA and "
              f"{r['heldout_file']['rag']} RAG candidates the LM answers fully correctly.", ""]
    lines += ["| model | parameters | training steps | training time | tokens seen | trained on (torch) | command |",
              "|---|---|---|---|---|---|---|"]
    for k in ("lm", "mlm"):
        t = r["training"][k]
        lines.append(f"| tiny-{k} | {t['params']:,} | {t['steps']} | {t['seconds'] / 60:.1f} min | {t['tokens']:,} "
                     f"| {t.get('device', '?')} ({t.get('torch', '?')}) | `{t.get('command', '?')}` |")
    lines += ["", f"Evaluated on: {r['hardware']}. ONNX vs torch max |diff| on padded batches: "
              f"lm {r['export_check']['lm_max_abs_diff']:.1e}, mlm {r['export_check']['mlm_max_abs_diff']:.1e}.", "",
              "| file | size |", "|---|---|"]
    lines += [f"| {k} | {mb(v)} |" for k, v in r["file_sizes"].items()]
    lines.append(f"| **total** | **{mb(sum(r['file_sizes'].values()))}** |")
    block = "\n".join(lines)
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as f:
        card = f.read()
    card = re.sub(r"(<!-- metrics:begin -->\n).*?(\n<!-- metrics:end -->)",
                  lambda m: m.group(1) + block + m.group(2), card, flags=re.S)
    with open(path, "w", encoding="utf-8") as f:
        f.write(card)


def main() -> None:
    results: dict = {"seed": SEED}
    keep = evaluate_lm(results)
    evaluate_mlm(results)
    by_task = {t: [c for c in keep if c["task"] == t] for t in ("longra", "rag")}
    for t, items in by_task.items():
        assert len(items) >= MIN_PER_TASK, f"only {len(items)} correct {t} items; need {MIN_PER_TASK}"
    write_jsonl(os.path.join(EVAL_DIR, "heldout.jsonl"), keep)
    results["heldout_file"] = {t: len(v) for t, v in by_task.items()}
    results["training"] = {k: json.load(open(os.path.join(WORK, f"train-{k}.json"))) for k in ("lm", "mlm")}
    results["export_check"] = json.load(open(os.path.join(WORK, "export-check.json")))
    results["file_sizes"] = file_sizes()
    results["hardware"] = hardware()
    results["versions"] = {m: __import__(m).__version__ for m in ("torch", "tokenizers", "onnx", "onnxruntime", "numpy")}
    with open(os.path.join(ROOT, "metrics.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    write_card(results)
    print(json.dumps({k: results[k] for k in ("lm_heldout", "lm_general_heldout", "heldout_file")}, indent=1))


if __name__ == "__main__":
    main()
