"""Tiny transformer modules for the bundled toy models.

Written by hand (no `transformers`) so the ONNX graphs stay small and
predictable: plain MatMul/Softmax attention, LayerNorm, GELU, no caches.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Finite "minus infinity": a query row whose keys are all masked (a pad
# position under left padding) then gets a uniform softmax instead of NaN.
MASK_VALUE = -1e9


class Block(nn.Module):
    """Pre-LN transformer block (GPT-2 layout)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.n_heads = n_heads
        self.scale = 1.0 / math.sqrt(d_model // n_heads)
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        # Explicit attention (not SDPA) so the exported graph is plain ops.
        att = (q @ k.transpose(-2, -1)) * self.scale + bias
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x


def attention_bias(attention_mask: torch.Tensor, causal: bool) -> torch.Tensor:
    """[B,T] 0/1 mask -> additive [B,1,T,T] bias (key padding, plus causal)."""
    t = attention_mask.shape[1]
    keep = attention_mask[:, None, None, :].to(torch.bool)  # [B,1,1,T] keys
    if causal:
        idx = torch.arange(t, device=attention_mask.device)
        keep = keep & (idx[None, :] <= idx[:, None])[None, None]  # [B,1,T,T]
    zero = torch.zeros((), dtype=torch.float32, device=attention_mask.device)
    neg = torch.full((), MASK_VALUE, dtype=torch.float32, device=attention_mask.device)
    return torch.where(keep, zero, neg)


class TinyTransformer(nn.Module):
    """Decoder-only LM (causal=True) or RoBERTa-like encoder (causal=False).

    Learned absolute positions, tied input/output embeddings, final LayerNorm.
    The MLM variant adds the usual dense+GELU+LN head before the tied decoder.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int,
                 max_position: int, causal: bool, d_ff: int | None = None):
        super().__init__()
        self.causal = causal
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_position, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff or 4 * d_model) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        if not causal:
            self.head_dense = nn.Linear(d_model, d_model)
            self.head_ln = nn.LayerNorm(d_model)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        self.apply(self._init)
        # GPT-2 style: scale residual output projections by depth.
        for blk in self.blocks:
            nn.init.normal_(blk.proj.weight, std=0.02 / math.sqrt(2 * n_layers))
            nn.init.normal_(blk.fc2.weight, std=0.02 / math.sqrt(2 * n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward_embeds(self, inputs_embeds, attention_mask, position_ids):
        x = inputs_embeds + self.pos(position_ids)
        bias = attention_bias(attention_mask, self.causal)
        for blk in self.blocks:
            x = blk(x, bias)
        x = self.ln_f(x)
        if not self.causal:
            x = self.head_ln(F.gelu(self.head_dense(x)))
        return x @ self.tok.weight.t() + self.out_bias

    def forward(self, input_ids, attention_mask, position_ids=None):
        if position_ids is None:
            # Count real tokens only, so left- and right-padded batches both
            # give the first real token position 0 (what training saw).
            position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        return self.forward_embeds(self.tok(input_ids), attention_mask, position_ids)


class EmbedsEntry(nn.Module):
    """Wrapper exported as embeddings.onnx: enters the LM at inputs_embeds."""

    def __init__(self, model: TinyTransformer):
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds, attention_mask, position_ids):
        return self.model.forward_embeds(inputs_embeds, attention_mask, position_ids)
