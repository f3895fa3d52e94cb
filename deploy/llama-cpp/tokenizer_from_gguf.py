"""Write a Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json,
chat_template.jinja, config.json) from the tokenizer a GGUF file carries, without torch.

Endpoints need the served model's tokenizer locally (the engine maps importance back to
characters); a GGUF served by llama-cpp-python carries it. Only byte-level BPE (`gpt2`)
vocabularies are written, with the pre-tokenizer llama.cpp uses for them; the scorer's start-up
self-test then checks that this tokenizer agrees with the server's own (/extras/tokenize).

    python tokenizer_from_gguf.py MODEL.gguf OUT_DIR
"""

import json
import sys
from pathlib import Path

from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

# llama.cpp pre-tokenizer names whose splitting is GPT-2's regex, with digits split one by one first
# (llama-vocab.cpp: LLAMA_VOCAB_PRE_TYPE_SMOLLM / STARCODER / REFACT use "\p{N}" before it).
DIGITS_FIRST = {"smollm", "starcoder", "refact"}
PLAIN_GPT2 = {"gpt-2", "gpt2", "default"}
CONTROL = 3  # llama_token_type: 3 = control (special) token
USER_DEFINED = 4


def field(reader: GGUFReader, key: str):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def main(gguf_path: str, out_dir: str) -> None:
    reader = GGUFReader(gguf_path)
    model = field(reader, "tokenizer.ggml.model")
    pre = field(reader, "tokenizer.ggml.pre") or "default"
    if model != "gpt2" or pre not in DIGITS_FIRST | PLAIN_GPT2:
        sys.exit(f"{gguf_path}: tokenizer {model}/{pre} is not a byte-level BPE this script writes (gpt2 with pre in {sorted(DIGITS_FIRST | PLAIN_GPT2)})")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in DIGITS_FIRST:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"), byte_level])
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    special = [AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t in (CONTROL, USER_DEFINED)]
    tok.add_special_tokens(special)

    def name(key: str):
        i = field(reader, key)
        return None if i is None else tokens[int(i)]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    add_bos = bool(field(reader, "tokenizer.ggml.add_bos_token") or False)
    cfg = {"bos_token": name("tokenizer.ggml.bos_token_id"), "eos_token": name("tokenizer.ggml.eos_token_id"),
           "unk_token": name("tokenizer.ggml.unknown_token_id"), "pad_token": name("tokenizer.ggml.padding_token_id"),
           "add_bos_token": add_bos, "add_eos_token": False}
    (out / "tokenizer_config.json").write_text(json.dumps({k: v for k, v in cfg.items() if v is not None}, indent=2) + "\n")
    template = field(reader, "tokenizer.chat_template")
    if template:
        (out / "chat_template.jinja").write_text(template)
    bos = field(reader, "tokenizer.ggml.bos_token_id")
    (out / "config.json").write_text(json.dumps({"prepend_bos": add_bos, "vocab_size": len(tokens), **({} if bos is None else {"bos_token_id": int(bos)}),
                                                 "source": {"gguf": Path(gguf_path).name, "tokenizer": f"{model}/{pre}"}}, indent=2) + "\n")
    print(out.resolve())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
