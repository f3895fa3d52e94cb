/**
 * The Scorer: the engine's only view of a model.
 *
 * ReAGent is black-box: it needs, for a token-id sequence, the log-probability the model gives
 * the token that actually sits at a position (teacher forcing) and the model's top-k ids there.
 * Local ONNX models and HTTP endpoints (vLLM, SGLang, TGI, OpenAI-compatible) implement this
 * interface unchanged; the engine never imports a runtime or `fetch`.
 *
 * Position convention: scoring position `t` of `ids` means the model's prediction for the
 * token at index `t` given `ids[0..t-1]` (so `t >= 1`). `logprob` is log p(ids[t] | ids[<t]),
 * `topK` are the ids the model ranks highest for that slot. `t === ids.length` asks for the
 * next-token slot after the sequence (no actual token: `logprob` is null); scorers that cannot
 * do that say so in `capabilities.nextTokenSlot`.
 */

export interface ScoreSequence {
  /** Token ids in the scorer's vocabulary. */
  readonly ids: readonly number[];
  /** Positions to score, each in [1, ids.length] (see the position convention above). */
  readonly positions: readonly number[];
}

export interface ScoredPosition {
  readonly position: number;
  /** log p(ids[position] | prefix); null for the next-token slot, or when the server gave no value. */
  readonly logprob: number | null;
  /** Highest-ranked token ids for this slot, best first (length min(topK, capabilities.maxTopK)). */
  readonly topK: readonly number[];
  /** Log-probabilities of `topK`, same order. */
  readonly topKLogprobs: readonly number[];
  /** 1-based rank of the actual token when the scorer reports it (vLLM does); undefined otherwise. */
  readonly rank?: number;
}

export interface ScoredSequence {
  readonly positions: readonly ScoredPosition[];
}

export interface ScoreOptions {
  /** How many alternatives to return per position (>= 1). */
  readonly topK: number;
  readonly signal?: AbortSignal;
}

export interface ScorerCapabilities {
  /** Largest number of sequences sent in one call; the engine splits bigger batches. */
  readonly maxBatch: number;
  /** `full`: the whole distribution is available (local models); `topk`: only the top alternatives. */
  readonly distribution: "full" | "topk";
  /** Whether the scorer takes token ids (all supported scorers must, or attribution would re-tokenize). */
  readonly acceptsTokenIds: boolean;
  /** Largest top-k the scorer can return. */
  readonly maxTopK: number;
  /** Whether top-k alternatives are available at prompt positions (TGI gives none). */
  readonly topKAtPromptPositions: boolean;
  /** Whether `position === ids.length` (the next-token slot) can be scored. */
  readonly nextTokenSlot: boolean;
  /** Longest sequence the model accepts, when known. */
  readonly maxSequenceLength?: number;
  /** Size of the model's output vocabulary, when known. */
  readonly vocabSize?: number;
}

export interface ScorerInfo {
  /** Stable identity for provenance: kind, model name, and a content hash where known. */
  readonly id: string;
  /** `onnx`, `vllm`, `sglang`, `tgi`, `openai-completions`, … */
  readonly kind: string;
  /** The model's name as the server or the model directory calls it. */
  readonly model: string;
  /** Caveats every result scored this way should carry (e.g. TGI's synthesised top-k); results copy them into `warnings`. */
  readonly notes?: readonly string[];
}

export interface Scorer {
  readonly info: ScorerInfo;
  readonly capabilities: ScorerCapabilities;
  /** Score a batch; the result has one entry per input sequence, positions in request order. */
  score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]>;
  /**
   * Text-only scorers (TGI, llama-cpp-python): whether this sequence survives the trip through
   * text (its decoded text re-tokenises to the same ids). Absent: every sequence can be scored.
   */
  acceptsIds?(ids: readonly number[]): boolean;
  /** Greedy continuation of `ids` by up to `maxNewTokens` tokens, stopping at `stopIds`. Optional. */
  generate?(ids: readonly number[], maxNewTokens: number, stopIds?: ReadonlySet<number>): Promise<number[]>;
  close(): Promise<void>;
}

/** Counts what a scorer was asked to do, for the result's cost block and metrics. */
export interface ScoringCost {
  modelCalls: number;
  sequencesEvaluated: number;
  tokensProcessed: number;
}

export function emptyCost(): ScoringCost {
  return { modelCalls: 0, sequencesEvaluated: 0, tokensProcessed: 0 };
}

/**
 * Wraps a scorer so that every call is split into batches the scorer accepts and counted.
 * The engine always scores through this, so cost figures are exact whatever the backend.
 */
export class CountingScorer {
  readonly cost: ScoringCost = emptyCost();
  constructor(readonly inner: Scorer) {}

  async score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]> {
    const max = Math.max(1, this.inner.capabilities.maxBatch);
    const out: ScoredSequence[] = [];
    for (let i = 0; i < batch.length; i += max) {
      const chunk = batch.slice(i, i + max);
      const res = await this.inner.score(chunk, opts);
      this.cost.modelCalls += 1;
      this.cost.sequencesEvaluated += chunk.length;
      for (const s of chunk) this.cost.tokensProcessed += s.ids.length;
      out.push(...res);
    }
    return out;
  }
}
