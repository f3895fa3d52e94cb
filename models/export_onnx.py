"""Export the trained checkpoints to ONNX and check them against torch.

tiny-lm/model.onnx       input_ids, attention_mask, position_ids -> logits
tiny-lm/embeddings.onnx  inputs_embeds, attention_mask, position_ids -> logits
tiny-lm/embed_tokens.f32 token embedding matrix, little-endian float32
tiny-mlm/model.onnx      input_ids, attention_mask -> logits
plus config.json in each directory (read by the TypeScript loader).

The check runs onnxruntime on a right-padded and a left-padded batch and
requires |onnx - torch| <= 1e-4 on every real (unpadded) position, and that
padding does not change a sequence's logits.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from tokenizers import Tokenizer

from common import LM_DIR, LM_EOS, LM_PAD, MAX_POSITION, MLM_DIR, WORK, read_jsonl, DATA
from model import EmbedsEntry, TinyTransformer

OPSET = 17
TOL = 1e-4


def load(kind: str) -> tuple[TinyTransformer, dict]:
    ck = torch.load(os.path.join(WORK, f"tiny-{kind}.pt"), weights_only=False)
    cfg = ck["config"]
    m = TinyTransformer(ck["vocab_size"], cfg["d_model"], cfg["n_layers"], cfg["n_heads"],
                        MAX_POSITION, causal=kind == "lm")
    m.load_state_dict(ck["state_dict"])
    m.eval()
    return m, ck


def export(module, args, names_in, path):
    dyn = {n: {0: "batch", 1: "sequence"} for n in names_in}
    dyn["logits"] = {0: "batch", 1: "sequence"}
    # The TorchScript-based exporter gives a compact graph with plain ops.
    # No constant folding: it would store a transposed copy of the tied
    # embedding matrix next to the original (+2 MB per graph).
    torch.onnx.export(module, args, path, input_names=names_in, output_names=["logits"],
                      dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False,
                      dynamo=False)
    onnx.checker.check_model(onnx.load(path))


def padded_batch(tok: Tokenizer, texts: list[str], prefix: list[int], suffix: list[int],
                 pad_id: int, left: bool):
    seqs = [prefix + tok.encode(t, add_special_tokens=False).ids + suffix for t in texts]
    t = max(map(len, seqs))
    ids = np.full((len(seqs), t), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), t), dtype=np.int64)
    for i, s in enumerate(seqs):
        sl = slice(t - len(s), t) if left else slice(0, len(s))
        ids[i, sl] = s
        mask[i, sl] = 1
    pos = np.clip(mask.cumsum(1) - 1, 0, None).astype(np.int64)
    return seqs, ids, mask, pos


def check(kind, model, tok, texts, prefix, suffix, pad_id, sessions):
    worst = 0.0
    for left in (False, True):
        seqs, ids, mask, pos = padded_batch(tok, texts, prefix, suffix, pad_id, left)
        with torch.no_grad():
            ref = model(torch.from_numpy(ids), torch.from_numpy(mask),
                        torch.from_numpy(pos)).numpy()
            emb = model.tok(torch.from_numpy(ids)).numpy()
        feeds = {"input_ids": ids, "attention_mask": mask}
        if kind == "lm":
            feeds["position_ids"] = pos
        outs = [sessions["model"].run(None, feeds)[0]]
        if "embeddings" in sessions:
            outs.append(sessions["embeddings"].run(None, {"inputs_embeds": emb, "attention_mask": mask,
                                                          "position_ids": pos})[0])
        real = mask.astype(bool)
        for o in outs:
            assert o.dtype == np.float32 and o.shape == ref.shape
            worst = max(worst, float(np.abs(o - ref)[real].max()))
        # Padding must not change the result: compare each row with it alone.
        for i, s in enumerate(seqs):
            single = {"input_ids": np.array([s]), "attention_mask": np.ones((1, len(s)), np.int64)}
            if kind == "lm":
                single["position_ids"] = np.arange(len(s), dtype=np.int64)[None]
            alone = sessions["model"].run(None, single)[0][0]
            worst = max(worst, float(np.abs(outs[0][i][real[i]] - alone).max()))
    assert worst <= TOL, f"{kind}: onnx/torch mismatch {worst}"
    return worst


def main() -> None:
    texts = [x["prompt"] for x in read_jsonl(os.path.join(DATA, "heldout_candidates.jsonl"))[::97]]
    texts += ["Hi", "When my flight landed in Greece, I"]
    report = {}

    # ---- causal LM ----
    model, ck = load("lm")
    tok = Tokenizer.from_file(os.path.join(LM_DIR, "tokenizer.json"))
    cfg, v = ck["config"], ck["vocab_size"]
    ex_ids = torch.ones((2, 5), dtype=torch.long)
    ex_mask = torch.ones((2, 5), dtype=torch.long)
    ex_pos = torch.arange(5)[None].repeat(2, 1)
    export(model, (ex_ids, ex_mask, ex_pos), ["input_ids", "attention_mask", "position_ids"],
           os.path.join(LM_DIR, "model.onnx"))
    export(EmbedsEntry(model), (model.tok(ex_ids).detach(), ex_mask, ex_pos),
           ["inputs_embeds", "attention_mask", "position_ids"], os.path.join(LM_DIR, "embeddings.onnx"))
    emb = model.tok.weight.detach().numpy().astype("<f4")
    emb.tofile(os.path.join(LM_DIR, "embed_tokens.f32"))
    bos, pad = tok.token_to_id(LM_EOS), tok.token_to_id(LM_PAD)
    lm_config = {
        "model_type": "tiny-gpt",
        "architecture": "decoder-only transformer, pre-LN, learned absolute positions, tied embeddings",
        "vocab_size": v, "d_model": cfg["d_model"], "n_layers": cfg["n_layers"], "n_heads": cfg["n_heads"],
        "d_ff": 4 * cfg["d_model"], "max_position": MAX_POSITION, "n_params": ck["n_params"],
        "bos_token_id": bos, "eos_token_id": bos, "pad_token_id": pad,
        "bos_token": LM_EOS, "eos_token": LM_EOS, "pad_token": LM_PAD,
        "prepend_bos": True,
        "inputs": ["input_ids", "attention_mask", "position_ids"],
        "outputs": ["logits"],
        "position_ids_required": True,
        "position_ids_note": "position of each token among the real tokens: cumsum(attention_mask)-1, "
                             "so left and right padding both work; logits at masked positions are meaningless",
        "padding_side": "either",
        "embeddings_model": {"file": "embeddings.onnx", "inputs": ["inputs_embeds", "attention_mask", "position_ids"],
                             "outputs": ["logits"],
                             "note": "inputs_embeds are token embeddings only; positions are added inside"},
        "embed_tokens": {"file": "embed_tokens.f32", "dtype": "float32", "byte_order": "little",
                         "shape": list(emb.shape)},
        "onnx_opset": OPSET,
    }
    with open(os.path.join(LM_DIR, "config.json"), "w") as f:
        json.dump(lm_config, f, indent=2)
        f.write("\n")
    so = ort.SessionOptions()
    sessions = {"model": ort.InferenceSession(os.path.join(LM_DIR, "model.onnx"), so),
                "embeddings": ort.InferenceSession(os.path.join(LM_DIR, "embeddings.onnx"), so)}
    report["lm_max_abs_diff"] = check("lm", model, tok, texts, [bos], [], pad, sessions)

    # ---- masked LM ----
    model, ck = load("mlm")
    tok = Tokenizer.from_file(os.path.join(MLM_DIR, "tokenizer.json"))
    cfg, v = ck["config"], ck["vocab_size"]
    export(model, (ex_ids, ex_mask), ["input_ids", "attention_mask"], os.path.join(MLM_DIR, "model.onnx"))
    ids = {s: tok.token_to_id(s) for s in ("<s>", "</s>", "<pad>", "<mask>", "<unk>")}
    mlm_config = {
        "model_type": "tiny-roberta",
        "architecture": "bidirectional transformer encoder, pre-LN, learned absolute positions, "
                        "tied embeddings, dense+GELU+LayerNorm LM head",
        "vocab_size": v, "d_model": cfg["d_model"], "n_layers": cfg["n_layers"], "n_heads": cfg["n_heads"],
        "d_ff": 4 * cfg["d_model"], "max_position": MAX_POSITION, "n_params": ck["n_params"],
        "bos_token_id": ids["<s>"], "eos_token_id": ids["</s>"], "pad_token_id": ids["<pad>"],
        "mask_token_id": ids["<mask>"], "unk_token_id": ids["<unk>"],
        "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "mask_token": "<mask>", "unk_token": "<unk>",
        "inputs": ["input_ids", "attention_mask"], "outputs": ["logits"],
        "position_ids_required": False,
        "position_ids_note": "computed inside the graph as cumsum(attention_mask)-1, so either padding side works",
        "padding_side": "either",
        "special_tokens_added_by_tokenizer": "<s> $A </s> (TemplateProcessing)",
        "onnx_opset": OPSET,
    }
    with open(os.path.join(MLM_DIR, "config.json"), "w") as f:
        json.dump(mlm_config, f, indent=2)
        f.write("\n")
    sessions = {"model": ort.InferenceSession(os.path.join(MLM_DIR, "model.onnx"))}
    report["mlm_max_abs_diff"] = check("mlm", model, tok, texts, [ids["<s>"]], [ids["</s>"]], ids["<pad>"], sessions)

    with open(os.path.join(WORK, "export-check.json"), "w") as f:
        json.dump(report, f)
    print(f"export ok: {report}")


if __name__ == "__main__":
    sys.exit(main())
