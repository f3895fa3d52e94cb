/**
 * A local causal LM in ONNX as a Scorer: batched, right-padded forward passes with teacher
 * forcing; log-probabilities and top-k read from the full distribution. Graphs with a
 * `logit_positions` input are asked for the scored positions only.
 */
import { z } from "zod";
import type { ScoreOptions, ScoreSequence, ScoredPosition, ScoredSequence, Scorer, ScorerCapabilities, ScorerInfo } from "../../attribution/scorer.js";
import { ScoringError } from "../../errors.js";
import { loadSession, logSumExp, runLogits, topKRow, type LoadedSession, type SessionOptions } from "./session.js";

/** The subset of a model directory's config.json we read (HF-style names accepted too). */
export const onnxLmConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    max_position: z.number().int().positive().optional(),
    n_positions: z.number().int().positive().optional(),
    max_position_embeddings: z.number().int().positive().optional(),
    pad_token_id: z.number().int().nullish(),
    bos_token_id: z.number().int().nullish(),
    eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
    prepend_bos: z.boolean().optional(),
  })
  .loose();

export type OnnxLmConfig = z.infer<typeof onnxLmConfigSchema>;

export interface OnnxScorerOptions extends SessionOptions {
  /** Sequences per forward pass. */
  readonly maxBatch?: number;
  /** Upper bound on rows × width per forward pass, to bound logits memory. */
  readonly maxBatchTokens?: number;
  readonly name?: string;
}

export class OnnxScorer implements Scorer {
  readonly info: ScorerInfo;
  readonly capabilities: ScorerCapabilities;
  private readonly padId: number;
  private readonly maxBatchTokens: number;

  private constructor(
    private readonly loaded: LoadedSession,
    readonly config: OnnxLmConfig,
    opts: OnnxScorerOptions,
  ) {
    const maxLen = config.max_position ?? config.n_positions ?? config.max_position_embeddings;
    this.padId = config.pad_token_id ?? 0;
    this.maxBatchTokens = opts.maxBatchTokens ?? 16_384;
    const name = opts.name ?? loaded.path;
    this.info = { id: `onnx:${name}@${loaded.hash}`, kind: "onnx", model: name };
    this.capabilities = {
      maxBatch: opts.maxBatch ?? 64,
      distribution: "full",
      acceptsTokenIds: true,
      maxTopK: 64,
      topKAtPromptPositions: true,
      nextTokenSlot: true,
      vocabSize: config.vocab_size,
      ...(maxLen === undefined ? {} : { maxSequenceLength: maxLen }),
    };
  }

  static async load(modelPath: string, config: OnnxLmConfig, opts: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    return new OnnxScorer(await loadSession(modelPath, opts), config, opts);
  }

  async score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]> {
    const k = Math.max(1, Math.min(opts.topK, this.capabilities.maxTopK));
    const maxLen = this.capabilities.maxSequenceLength;
    for (const s of batch) {
      if (maxLen !== undefined && s.ids.length > maxLen) {
        throw new ScoringError({ what: "scoring a sequence", why: `it has ${s.ids.length} tokens; the model takes at most ${maxLen}` });
      }
      for (const p of s.positions) {
        if (p < 1 || p > s.ids.length) throw new ScoringError({ what: "scoring a sequence", why: `position ${p} is outside [1, ${s.ids.length}]` });
      }
    }
    const out: ScoredSequence[] = new Array<ScoredSequence>(batch.length);
    // Group consecutive sequences into passes that respect the token budget.
    let i = 0;
    while (i < batch.length) {
      let j = i;
      let width = 0;
      while (j < batch.length && j - i < this.capabilities.maxBatch) {
        const w = Math.max(width, this.inputLength(batch[j] as ScoreSequence));
        if (j > i && w * (j - i + 1) > this.maxBatchTokens) break;
        width = w;
        j++;
      }
      opts.signal?.throwIfAborted();
      const chunk = batch.slice(i, j);
      const res = await this.forward(chunk, k);
      res.forEach((r, c) => (out[i + c] = r));
      i = j;
    }
    return out;
  }

  /** Tokens the forward pass needs: up to the last scored slot (the slot t reads logits at t-1). */
  private inputLength(s: ScoreSequence): number {
    let last = 0;
    for (const p of s.positions) if (p > last) last = p;
    return Math.max(1, Math.min(s.ids.length, last));
  }

  private async forward(chunk: readonly ScoreSequence[], k: number): Promise<ScoredSequence[]> {
    const rows = chunk.map((s) => s.ids.slice(0, this.inputLength(s)));
    // The slot t is predicted by the logits at t-1; a graph with logit_positions computes only those.
    const { logits, vocab, at } = await runLogits(this.loaded, rows, this.padId, chunk.map((s) => s.positions.map((p) => p - 1)));
    return chunk.map((s, b) => ({
      positions: s.positions.map((pos): ScoredPosition => {
        const offset = at(b, pos - 1);
        const lse = logSumExp(logits, offset, vocab);
        const top = topKRow(logits, offset, vocab, k);
        const actual = s.ids[pos];
        return {
          position: pos,
          logprob: actual === undefined ? null : (logits[offset + actual] as number) - lse,
          topK: top,
          topKLogprobs: top.map((v) => (logits[offset + v] as number) - lse),
        };
      }),
    }));
  }

  async generate(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number> = new Set()): Promise<number[]> {
    const seq = [...ids];
    const out: number[] = [];
    const maxLen = this.capabilities.maxSequenceLength ?? Infinity;
    for (let i = 0; i < maxNewTokens && seq.length < maxLen; i++) {
      const [scored] = await this.score([{ ids: seq, positions: [seq.length] }], { topK: 1 });
      const next = scored?.positions[0]?.topK[0];
      if (next === undefined || stopIds.has(next)) break;
      seq.push(next);
      out.push(next);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.loaded.session.release();
  }
}
