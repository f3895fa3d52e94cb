/**
 * A pure-logic toy language model for engine unit tests (no runtime, no I/O): the logit of
 * token y at a slot is a base value plus a bonus for each "rule" whose key token appears in the
 * context before the slot. It lets tests plant a known causal token.
 */
import type { ScoreOptions, ScoreSequence, ScoredSequence, Scorer, ScorerCapabilities } from "../../../src/attribution/scorer.js";

export interface ToyRule {
  /** Token that, when present in the context, raises `target`'s logit. */
  readonly key: number;
  readonly target: number;
  readonly bonus: number;
}

export class ToyScorer implements Scorer {
  readonly info = { id: "toy:test", kind: "toy", model: "toy" };
  readonly capabilities: ScorerCapabilities;
  calls = 0;

  constructor(
    readonly vocabSize: number,
    private readonly rules: readonly ToyRule[],
    maxBatch = 64,
  ) {
    this.capabilities = {
      maxBatch,
      distribution: "full",
      acceptsTokenIds: true,
      maxTopK: 20,
      topKAtPromptPositions: true,
      nextTokenSlot: true,
      vocabSize,
    };
  }

  logits(prefix: readonly number[]): Float64Array {
    const l = new Float64Array(this.vocabSize);
    // A weak, deterministic preference so the distribution is not flat.
    for (let v = 0; v < this.vocabSize; v++) l[v] = ((v * 37) % 11) / 10;
    // Rule targets start low, so they reach the top-k only through their key.
    for (const r of this.rules) l[r.target] = -1;
    const present = new Set(prefix);
    for (const r of this.rules) if (present.has(r.key)) l[r.target] = (l[r.target] as number) + r.bonus;
    return l;
  }

  score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]> {
    this.calls++;
    return Promise.resolve(
      batch.map((s) => ({
        positions: s.positions.map((pos) => {
          const l = this.logits(s.ids.slice(0, pos));
          let max = -Infinity;
          for (const v of l) max = Math.max(max, v);
          let sum = 0;
          for (const v of l) sum += Math.exp(v - max);
          const lse = max + Math.log(sum);
          const order = Array.from(l.keys()).sort((a, b) => (l[b] as number) - (l[a] as number) || a - b);
          const top = order.slice(0, opts.topK);
          const actual = s.ids[pos];
          return {
            position: pos,
            logprob: actual === undefined ? null : (l[actual] as number) - lse,
            topK: top,
            topKLogprobs: top.map((v) => (l[v] as number) - lse),
          };
        }),
      })),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
