/**
 * The self-test's alignment checks against the bundled model in-process, as is (aligned) and
 * behind a wrapper that reports each position with the distribution after it, the way
 * llama-cpp-python's echo answers prompts that do not start with BOS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ABOVE_SHUFFLED, ALIGNED, checkAlignment, shuffleWords } from "../../../src/models/http/alignment-check.js";
import { loadLocalModel, type LocalModel } from "../../../src/models/local-model.js";
import type { ScoreOptions, ScoreSequence, ScoredSequence, Scorer } from "../../../src/attribution/scorer.js";

const TEXT = "The quick brown fox jumps over the lazy dog, and then it rests in the sun.";
let model: LocalModel;

beforeAll(async () => {
  model = await loadLocalModel("models/tiny-lm", { intraOpThreads: 1 });
});
afterAll(async () => {
  await model?.scorer.close();
});

/** Position p answered with the slot after it (p + 1): the actual token's value under the wrong distribution. */
function shifted(inner: Scorer): Scorer {
  return {
    info: inner.info,
    capabilities: inner.capabilities,
    close: () => Promise.resolve(),
    async score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]> {
      const full = await inner.score(
        batch.map((s) => ({ ids: s.ids, positions: Array.from({ length: s.ids.length }, (_, i) => i + 1) })),
        { ...opts, topK: inner.capabilities.maxTopK },
      );
      return batch.map((s, i) => ({
        positions: s.positions.map((p) => {
          const next = full[i]!.positions[p]!; // slot p + 1 (index p)
          const j = next.topK.indexOf(s.ids[p]!);
          return { position: p, logprob: j >= 0 ? next.topKLogprobs[j]! : Math.min(...next.topKLogprobs) - 1, topK: next.topK.slice(0, opts.topK), topKLogprobs: next.topKLogprobs.slice(0, opts.topK) };
        }),
      }));
    },
  };
}

async function run(scorer: Scorer) {
  const tok = model.tokenizer;
  const ids = [...(tok.bosId === undefined ? [] : [tok.bosId]), ...tok.encode(TEXT).ids];
  const positions = Array.from({ length: ids.length - 1 }, (_, i) => i + 1);
  const opts = { topK: 5 };
  const [res] = await scorer.score([{ ids, positions }], opts);
  return checkAlignment({ scorer, tokenizer: tok, ids, scored: res!.positions, opts });
}

describe("self-test alignment checks", () => {
  it("pass on an aligned scorer", async () => {
    const checks = await run(model.scorer);
    expect(checks.map((c) => c.name)).toEqual([ALIGNED, ABOVE_SHUFFLED]);
    for (const c of checks) expect(c.ok, c.detail).toBe(true);
  });

  it("refuse logprobs shifted by one position, naming what was seen", async () => {
    const [aligned] = await run(shifted(model.scorer));
    expect(aligned!.ok).toBe(false);
    expect(aligned!.detail).toMatch(/at position \d+ the top-k lists ".*" at -?\d+\.\d\d, but scoring ".*" there gave -?\d+\.\d\d/);
    expect(aligned!.detail).toMatch(/shifted by one position/);
  });

  it("shuffles whole words and keeps the first token and word", () => {
    const tok = model.tokenizer;
    const ids = [...(tok.bosId === undefined ? [] : [tok.bosId]), ...tok.encode(TEXT).ids];
    const out = shuffleWords(ids, tok);
    expect(out).toHaveLength(ids.length);
    expect([...out].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(out).not.toEqual(ids);
    expect(out[0]).toBe(ids[0]);
    expect(shuffleWords(ids, tok)).toEqual(out);
    // Words move whole, so the text is the same words in another order.
    const words = (x: number[]): string[] => tok.decode(x.slice(1)).split(/\s+/).filter(Boolean).sort();
    expect(words(out).join(" ").replace(/[,.]/g, "")).toBe(words(ids).join(" ").replace(/[,.]/g, ""));
  });
});
