"""Train tiny-lm (causal) or tiny-mlm (masked) from scratch on CPU.

  python models/train.py lm    # -> models/work/tiny-lm.pt
  python models/train.py mlm   # -> models/work/tiny-mlm.pt

Deterministic for a given seed, torch version and thread count (we pin the
thread count to keep CPU float reductions in the same order).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from common import DATA, LM_DIR, LM_EOS, LM_PAD, MAX_POSITION, MLM_DIR, SEED, WORK, read_jsonl, seed_everything
from model import TinyTransformer

# Architecture and schedule per model. Sized so both train in ~25 min on two
# CPU cores and the exported files stay around 15 MB in total.
CONFIGS = {
    # The RAG copy circuit appears abruptly (a phase transition) somewhere
    # after ~4000 steps; training stops once validation accuracy on both
    # tasks reaches `target` (checked every 500 steps), else at `steps`.
    "lm": dict(d_model=128, n_layers=4, n_heads=4, steps=8000, batch=32, lr=2e-3,
               warmup=200, answer_weight=5.0, target=0.97),
    "mlm": dict(d_model=128, n_layers=3, n_heads=4, steps=4000, batch=32, lr=2e-3,
                warmup=200, mask_prob=0.15),
}
THREADS = 2


def encode_corpus(kind: str, tok: Tokenizer) -> list[tuple[list[int], list[float]]]:
    """Token ids plus per-token loss weights (LM: answer tokens count more)."""
    rows = read_jsonl(os.path.join(DATA, "train.jsonl"))
    out = []
    if kind == "lm":
        bos, w_ans = tok.token_to_id(LM_EOS), CONFIGS["lm"]["answer_weight"]
        encs = tok.encode_batch([r["text"] for r in rows])
        for r, e in zip(rows, encs):
            ids = [bos] + e.ids + [bos]  # <|endoftext|> both opens and closes
            w = [1.0] * len(ids)
            # Weight for predicting ids[i+1] = e.ids[i] lives at index i.
            for i, (s, end) in enumerate(e.offsets):
                if any(s < a_end and end > a_start for a_start, a_end in r["answers"]):
                    w[i] = w_ans
            out.append((ids[:MAX_POSITION], w[:MAX_POSITION]))
    else:
        encs = tok.encode_batch([r["text"] for r in rows])  # template adds <s> </s>
        for e in encs:
            ids = e.ids[:MAX_POSITION]
            out.append((ids, [1.0] * len(ids)))
    return out


def batches(data, batch: int, rng: random.Random):
    """Endless length-bucketed batches: sort within chunks to cut padding."""
    while True:
        order = list(range(len(data)))
        rng.shuffle(order)
        chunk = batch * 64
        groups = []
        for i in range(0, len(order), chunk):
            part = sorted(order[i:i + chunk], key=lambda j: len(data[j][0]))
            groups += [part[k:k + batch] for k in range(0, len(part), batch)]
        rng.shuffle(groups)
        yield from groups


def collate(data, idx, pad_id):
    t = max(len(data[i][0]) for i in idx)
    ids = torch.full((len(idx), t), pad_id, dtype=torch.long)
    w = torch.zeros((len(idx), t))
    mask = torch.zeros((len(idx), t), dtype=torch.long)
    for r, i in enumerate(idx):
        n = len(data[i][0])
        ids[r, :n] = torch.tensor(data[i][0])
        w[r, :n] = torch.tensor(data[i][1])
        mask[r, :n] = 1
    return ids, w, mask


def mlm_corrupt(ids, mask, tok: Tokenizer, prob: float, gen: torch.Generator):
    """BERT/RoBERTa masking: 15% of real tokens; 80% <mask>, 10% random, 10% kept."""
    special = torch.tensor([tok.token_to_id(s) for s in ("<s>", "</s>", "<pad>")])
    can = mask.bool() & ~torch.isin(ids, special)
    pick = (torch.rand(ids.shape, generator=gen) < prob) & can
    labels = torch.where(pick, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=gen)
    inp = ids.clone()
    inp[pick & (r < 0.8)] = tok.token_to_id("<mask>")
    rand_tok = torch.randint(5, tok.get_vocab_size(), ids.shape, generator=gen)
    swap = pick & (r >= 0.8) & (r < 0.9)
    inp[swap] = rand_tok[swap]
    return inp, labels


def describe_device(dev: torch.device, threads: int) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        name = "CPU"
    return f"{name} ({threads} threads)"


@torch.no_grad()
def validate(model, tok):
    """Greedy first-answer-token accuracy on the validation items (never the
    held-out set), per task; drives the stopping rule."""
    model.eval()
    items = read_jsonl(os.path.join(DATA, "valid.jsonl"))
    res = {}
    bos = tok.token_to_id(LM_EOS)
    for task in ("longra", "rag"):
        sel = [x for x in items if x["task"].startswith(task)]
        ok = 0
        for x in sel:
            ids = torch.tensor([[bos] + tok.encode(x["prompt"]).ids], device=next(model.parameters()).device)
            pred = model(ids, torch.ones_like(ids))[0, -1].argmax().item()
            ok += pred == tok.encode(x["prompt"] + x["completion"]).ids[len(ids[0]) - 1]
        res[task] = round(ok / len(sel), 4)
    model.train()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["lm", "mlm"])
    ap.add_argument("--steps", type=int, default=None, help="override step count")
    ap.add_argument("--device", default="cpu",
                    help="cpu (the reference build) or cuda; cuda runs are not bit-identical to cpu")
    ap.add_argument("--threads", type=int, default=THREADS,
                    help="torch CPU threads; results are bit-identical only for the same count. "
                         "1 copes far better than 2 on an oversubscribed machine")
    ap.add_argument("--out-dir", default=WORK, help="where the checkpoint and train-*.json go")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a CONFIGS entry (experiments only)")
    args = ap.parse_args()
    cfg = dict(CONFIGS[args.kind])
    if args.steps:
        cfg["steps"] = args.steps
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg[k] = type(cfg[k])(v)
    threads = args.threads
    torch.set_num_threads(threads)
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    dev = torch.device(args.device)
    seed_everything(SEED + (0 if args.kind == "lm" else 1))

    tok_dir = LM_DIR if args.kind == "lm" else MLM_DIR
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    pad_id = tok.token_to_id(LM_PAD if args.kind == "lm" else "<pad>")
    data = encode_corpus(args.kind, tok)
    model = TinyTransformer(tok.get_vocab_size(), cfg["d_model"], cfg["n_layers"], cfg["n_heads"],
                            MAX_POSITION, causal=args.kind == "lm").to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.kind}: {n_params} params, {len(data)} sequences, config {cfg}", flush=True)

    # No weight decay on embeddings, norms and biases (standard GPT recipe).
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "tok" not in n and "pos" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "tok" not in n and "pos" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):  # linear warmup, cosine decay to 10%
        if step < cfg["warmup"]:
            return cfg["lr"] * (step + 1) / cfg["warmup"]
        p = (step - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"])
        return cfg["lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    rng = random.Random(f"{SEED}-{args.kind}-batches")
    gen = torch.Generator().manual_seed(SEED)
    it = batches(data, cfg["batch"], rng)
    t0, log_loss, log_n, tokens = time.time(), 0.0, 0, 0
    model.train()
    for step in range(cfg["steps"]):
        ids, w, mask = collate(data, next(it), pad_id)
        if args.kind == "mlm":  # corrupt on the CPU generator: same masks on any device
            inp, labels = mlm_corrupt(ids, mask, tok, cfg["mask_prob"], gen)
            inp, labels = inp.to(dev), labels.to(dev)
        ids, w, mask = ids.to(dev), w.to(dev), mask.to(dev)
        if args.kind == "lm":
            logits = model(ids[:, :-1], mask[:, :-1])
            target, wt = ids[:, 1:], w[:, :-1] * mask[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
            loss = (ce * wt.reshape(-1)).sum() / wt.sum()
        else:
            logits = model(inp, mask)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log_loss += loss.item()
        log_n += 1
        tokens += int(mask.sum())
        if (step + 1) % 250 == 0 or step + 1 == cfg["steps"]:
            msg = (f"step {step + 1}/{cfg['steps']} loss {log_loss / log_n:.4f} "
                   f"lr {lr_at(step):.2e} {time.time() - t0:.0f}s")
            stop = False
            if args.kind == "lm" and (step + 1) % 500 == 0:
                val = validate(model, tok)
                msg += f" valid-first-token {val}"
                stop = min(val.values()) >= cfg["target"]
            print(msg, flush=True)
            log_loss, log_n = 0.0, 0
            if stop:
                print(f"validation target {cfg['target']} reached: stopping", flush=True)
                break
    steps_done = step + 1
    elapsed = time.time() - t0
    os.makedirs(args.out_dir, exist_ok=True)
    torch.save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "device": args.device, "config": cfg, "vocab_size": tok.get_vocab_size(),
                "n_params": n_params, "train_seconds": elapsed, "train_tokens": tokens, "steps_done": steps_done,
                "threads": threads, "torch": torch.__version__},
               os.path.join(args.out_dir, f"tiny-{args.kind}.pt"))
    with open(os.path.join(args.out_dir, f"train-{args.kind}.json"), "w") as f:
        json.dump({"seconds": elapsed, "steps": steps_done, "max_steps": cfg["steps"], "tokens": tokens, "params": n_params,
                   "device": describe_device(dev, threads), "torch": torch.__version__,
                   "command": "python models/train.py " + " ".join(sys.argv[1:])}, f)
    print(f"{args.kind}: trained {steps_done} steps in {elapsed:.0f}s", flush=True)


if __name__ == "__main__":
    main()
