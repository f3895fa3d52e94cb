"""Train the two tokenizers on the generated training texts.

tiny-lm : GPT-2 style byte-level BPE, vocab 4096 (2 specials included).
          No normalizer and add_prefix_space=False, so decode(encode(x)) == x.
          No post-processor: the caller prepends <|endoftext|> as BOS itself
          (config.json says so), which keeps offsets and ids predictable.
tiny-mlm: RoBERTa style byte-level BPE with a *different*, smaller vocab
          (3000), RoBERTa specials and a <s> $A </s> template, so the LM and
          the MLM disagree on token boundaries and cross-tokenizer
          replacement is exercised.

Only components that @huggingface/tokenizers (the JS port) implements are
used: ByteLevel pre-tokenizer/decoder, BPE, TemplateProcessing.
"""
import json
import os

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from common import DATA, LM_DIR, LM_EOS, LM_PAD, MAX_POSITION, MLM_DIR, MLM_SPECIALS, read_jsonl

LM_VOCAB = 4096
MLM_VOCAB = 3000


def texts():
    return [r["text"] for r in read_jsonl(os.path.join(DATA, "train.jsonl"))]


def byte_level_bpe() -> Tokenizer:
    tok = Tokenizer(models.BPE())  # byte-level: every byte is in the alphabet, no unk
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_lm_tokenizer(corpus: list[str]) -> Tokenizer:
    tok = byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=LM_VOCAB, min_frequency=2, show_progress=False,
        special_tokens=[LM_EOS, LM_PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return tok


def train_mlm_tokenizer(corpus: list[str]) -> Tokenizer:
    tok = byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=MLM_VOCAB, min_frequency=2, show_progress=False,
        special_tokens=MLM_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    # RoBERTa's <mask> swallows the space before it, so " <mask>" in text maps
    # to the same position a masked " word" token had in training.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)])
    return tok


def save(tok: Tokenizer, out_dir: str, config: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def main() -> None:
    corpus = texts()
    lm = train_lm_tokenizer(corpus)
    save(lm, LM_DIR, {
        "tokenizer_class": "GPT2Tokenizer",
        "bos_token": LM_EOS, "eos_token": LM_EOS, "unk_token": LM_EOS, "pad_token": LM_PAD,
        "add_bos_token": True,  # informational: callers prepend BOS themselves
        "add_prefix_space": False,
        # The JS port cleans up " ," etc. by default; that breaks round trips.
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POSITION,
    })
    mlm = train_mlm_tokenizer(corpus)
    save(mlm, MLM_DIR, {
        "tokenizer_class": "RobertaTokenizer",
        "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POSITION,
    })
    # Round-trip check on the whole corpus (cheap, and catches any design slip).
    for name, tok, skip in (("lm", lm, False), ("mlm", mlm, True)):
        bad = 0
        for t in corpus[:20000]:
            ids = tok.encode(t).ids
            if tok.decode(ids, skip_special_tokens=skip) != t:
                bad += 1
        assert bad == 0, f"{name} tokenizer failed to round-trip {bad} texts"
    print(f"tokenizers: lm vocab {lm.get_vocab_size()}, mlm vocab {mlm.get_vocab_size()}; round trip ok")


if __name__ == "__main__":
    main()
