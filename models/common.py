"""Shared paths and settings for the offline model build (see build.sh)."""
import json
import os
import random

import numpy as np

SEED = int(os.environ.get("REAGENT_MODELS_SEED", "1234"))

ROOT = os.path.dirname(os.path.abspath(__file__))          # models/
WORK = os.path.join(ROOT, "work")                          # git-ignored scratch
DATA = os.path.join(WORK, "data")
EVAL_DIR = os.path.join(ROOT, "eval")
LM_DIR = os.path.join(ROOT, "tiny-lm")
MLM_DIR = os.path.join(ROOT, "tiny-mlm")

# Special tokens. The causal LM uses GPT-2 conventions, the MLM RoBERTa's.
LM_EOS = "<|endoftext|>"      # also BOS: every LM sequence starts with it
LM_PAD = "<|pad|>"
MLM_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa id order

MAX_POSITION = 256


def seed_everything(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
        # Same results run to run on the same machine/thread count.
        torch.use_deterministic_algorithms(True)
    except ImportError:
        pass


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: str, rows) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
