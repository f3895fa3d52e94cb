/**
 * A scoring endpoint as a Scorer, the same interface the local ONNX model implements.
 *
 * A batch from the engine is split into requests of `protocol.sequencesPerRequest` sequences
 * (vLLM/SGLang/OpenAI take a list of prompts per request; TGI one text), and those requests run
 * concurrently under the guard's limit. `capabilities.maxBatch` is therefore
 * sequencesPerRequest × maxConcurrency: what the engine may hand over in one call so that all
 * allowed requests can be in flight at once.
 */
import { setMaxListeners } from "node:events";
import { ScoringError } from "../../errors.js";
import type { ScoreOptions, ScoreSequence, ScoredSequence, Scorer, ScorerCapabilities, ScorerInfo } from "../../attribution/scorer.js";
import type { RequestGuard, ScorerStats } from "./guard.js";
import type { ScoringProtocol, Send } from "./protocol.js";
import type { HttpTransport } from "./transport.js";

export interface HttpScorerOptions {
  readonly protocol: ScoringProtocol;
  readonly transport: HttpTransport;
  readonly guard: RequestGuard;
  /** The model name the server uses. */
  readonly model: string;
  readonly maxSequenceLength?: number | undefined;
  readonly vocabSize?: number | undefined;
}

export class HttpScorer implements Scorer {
  readonly info: ScorerInfo;
  readonly capabilities: ScorerCapabilities;
  readonly protocol: ScoringProtocol;
  readonly transport: HttpTransport;
  private readonly guard: RequestGuard;
  private closed = false;
  /** Text-only servers: whether a sequence survives the trip through text; absent when ids are sent as ids. */
  readonly acceptsIds?: (ids: readonly number[]) => boolean;
  /** Greedy continuation through the server; absent when its protocol cannot generate. */
  readonly generate?: (ids: readonly number[], maxNewTokens: number, stopIds?: ReadonlySet<number>) => Promise<number[]>;

  constructor(opts: HttpScorerOptions) {
    this.protocol = opts.protocol;
    this.transport = opts.transport;
    this.guard = opts.guard;
    const p = opts.protocol;
    this.info = {
      // The model, not the replica that served it: results from any replica deduplicate.
      id: `${p.kind}${p.variant === undefined ? "" : `+${p.variant}`}:${opts.model}`,
      kind: p.kind,
      model: opts.model,
      ...(p.note === undefined ? {} : { notes: [p.note] }),
    };
    const accepts = p.accepts?.bind(p);
    if (accepts) this.acceptsIds = (ids) => accepts(ids);
    const gen = p.canGenerate === true ? p.generate?.bind(p) : undefined;
    if (gen) this.generate = (ids, maxNewTokens, stopIds = new Set()) => gen(ids, maxNewTokens, stopIds, this.sender(undefined));
    this.capabilities = {
      maxBatch: p.sequencesPerRequest * Math.max(1, opts.guard.config.maxConcurrency),
      distribution: "topk",
      acceptsTokenIds: p.acceptsTokenIds,
      maxTopK: p.maxTopK,
      topKAtPromptPositions: p.topKAtPromptPositions,
      nextTokenSlot: true,
      ...(opts.maxSequenceLength === undefined ? {} : { maxSequenceLength: opts.maxSequenceLength }),
      ...(opts.vocabSize === undefined ? {} : { vocabSize: opts.vocabSize }),
    };
  }

  /** Counters: calls, requests, retries, tokens, latency, errors by kind, breaker state. */
  get stats(): ScorerStats {
    return this.guard.stats;
  }

  get breakerState(): string {
    return this.guard.breakerState;
  }

  async score(batch: readonly ScoreSequence[], opts: ScoreOptions): Promise<ScoredSequence[]> {
    if (this.closed) throw new ScoringError({ what: `scoring through ${this.transport.endpoint}`, why: "the scorer is closed" });
    opts.signal?.throwIfAborted();
    this.validate(batch);
    if (batch.length === 0) return [];
    const k = Math.max(1, Math.min(Math.floor(opts.topK), this.capabilities.maxTopK));
    // As few requests as the per-request cap allows, of even size (40 at 32 per request: 20 + 20).
    const count = Math.ceil(batch.length / this.protocol.sequencesPerRequest);
    const per = Math.ceil(batch.length / count);
    const groups: (readonly ScoreSequence[])[] = [];
    for (let i = 0; i < batch.length; i += per) groups.push(batch.slice(i, i + per));
    // One failed group cancels the others: their answers would be thrown away.
    const ctrl = new AbortController();
    // Every request of this batch (one per sequence on TGI) waits on this signal: more than Node's
    // default of 10 listeners is expected, and the controller dies with the batch, so no limit.
    setMaxListeners(0, ctrl.signal);
    const onAbort = (): void => ctrl.abort(opts.signal?.reason);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const send = this.sender(ctrl.signal);
    try {
      const results = await Promise.all(
        groups.map((g) =>
          this.protocol.scoreGroup(g, k, send).catch((err: unknown) => {
            ctrl.abort(err);
            throw err;
          }),
        ),
      );
      return results.flat();
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }


  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private sender(signal: AbortSignal | undefined): Send {
    return <T>(path: string, body: unknown, parse: (json: unknown) => T, cost: { sequences: number; promptTokens: number }): Promise<T> =>
      this.guard.run({ path, ...cost, signal }, async (sig) => parse(await this.transport.postJson(path, body, sig)));
  }

  private validate(batch: readonly ScoreSequence[]): void {
    const maxLen = this.capabilities.maxSequenceLength;
    batch.forEach((s, i) => {
      if (s.ids.length === 0) throw new ScoringError({ what: `scoring sequence ${i}`, why: "it has no tokens" });
      if (s.positions.length === 0) throw new ScoringError({ what: `scoring sequence ${i}`, why: "no positions to score were given" });
      if (maxLen !== undefined && s.ids.length > maxLen) {
        throw new ScoringError({ what: `scoring sequence ${i}`, why: `it has ${s.ids.length} tokens; the served model takes at most ${maxLen}` });
      }
      for (const p of s.positions) {
        if (!Number.isInteger(p) || p < 1 || p > s.ids.length) {
          throw new ScoringError({ what: `scoring sequence ${i}`, why: `position ${p} is outside [1, ${s.ids.length}]` });
        }
      }
      for (const id of s.ids) {
        if (!Number.isInteger(id) || id < 0) throw new ScoringError({ what: `scoring sequence ${i}`, why: `token id ${id} is not a vocabulary id` });
      }
    });
  }
}
