/**
 * A local ONNX causal LM prepared for serving: what `serve-model` (and the protocol test
 * fixtures) compute per request. Unlike OnnxScorer, which scores only the positions the engine
 * asks for, a server must answer every prompt position (vLLM `prompt_logprobs` semantics) with
 * the actual token's logprob and true rank, plus the top-k; and it can generate greedily.
 *
 * The forward pass, log-softmax and top-k use the same functions as OnnxScorer, so a position
 * scored here has exactly the value the in-process scorer gives it.
 */
import { basename, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { describeIssues } from "../../config-issues.js";
import { OnnxModelError } from "../../errors.js";
import { HfTextTokenizer } from "../../text/tokenizer.js";
import { onnxLmConfigSchema, type OnnxLmConfig } from "../onnx/onnx-scorer.js";
import { loadSession, logSumExp, readJsonFile, runLogits, topKRow, type LoadedSession } from "../onnx/session.js";

export interface ServedModelOptions {
  /** Model directory: model.onnx, config.json, tokenizer.json. */
  readonly dir: string;
  /** Name clients use (`model` field); defaults to the directory name. */
  readonly name?: string | undefined;
  readonly intraOpThreads?: number | undefined;
  /** Rows per forward pass (default 64, as OnnxScorer). */
  readonly maxBatch?: number | undefined;
  /** Rows × width per forward pass (default 16384, as OnnxScorer). */
  readonly maxBatchTokens?: number | undefined;
}

/** One row to score: every position from `from` to ids.length-1, plus the next-token slot when `next`. */
export interface ScoreRow {
  readonly ids: readonly number[];
  readonly from: number;
  readonly next: boolean;
}

export interface PositionScore {
  /** log p(actual | prefix); null at the next-token slot. */
  readonly logprob: number | null;
  /** 1 + number of tokens with a larger logit than the actual one (vLLM's rank); undefined at the next-token slot. */
  readonly rank: number | undefined;
  /** Best first. */
  readonly top: readonly { readonly id: number; readonly logprob: number }[];
}

export interface RowScores {
  /** Indexed by position; undefined before `from` (and at 0). */
  readonly prompt: readonly (PositionScore | undefined)[];
  readonly next: PositionScore | undefined;
}

/** vLLM clamps -inf to -9999 so the JSON stays valid; so do we. */
const FLOOR = -9999;

export class ServedModel {
  readonly name: string;
  readonly dir: string;
  readonly vocabSize: number;
  readonly maxModelLen: number;
  readonly prependBos: boolean;
  readonly eosIds: ReadonlySet<number>;
  private readonly padId: number;
  private readonly maxBatch: number;
  private readonly maxBatchTokens: number;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly loaded: LoadedSession,
    readonly tokenizer: HfTextTokenizer,
    readonly config: OnnxLmConfig,
    opts: ServedModelOptions,
  ) {
    this.dir = resolve(opts.dir);
    this.name = opts.name ?? basename(this.dir);
    this.vocabSize = config.vocab_size;
    this.maxModelLen = config.max_position ?? config.n_positions ?? config.max_position_embeddings ?? 2048;
    this.prependBos = config.prepend_bos ?? false;
    this.padId = config.pad_token_id ?? 0;
    const eos = config.eos_token_id;
    this.eosIds = new Set(eos === null || eos === undefined ? (tokenizer.eosId === undefined ? [] : [tokenizer.eosId]) : Array.isArray(eos) ? eos : [eos]);
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxBatchTokens = opts.maxBatchTokens ?? 16_384;
  }

  static async load(opts: ServedModelOptions): Promise<ServedModel> {
    const dir = resolve(opts.dir);
    const modelPath = join(dir, "model.onnx");
    if (!existsSync(modelPath)) {
      throw new OnnxModelError({ what: `loading model directory ${opts.dir}`, why: "it has no model.onnx; serve-model needs model.onnx, config.json and tokenizer.json", modelPath: dir });
    }
    const cfg = onnxLmConfigSchema.safeParse(readJsonFile(join(dir, "config.json")));
    if (!cfg.success) {
      throw new OnnxModelError({ what: `reading ${join(opts.dir, "config.json")}`, why: describeIssues(cfg.error.issues), modelPath: dir });
    }
    const tokenizer = HfTextTokenizer.fromDir(dir);
    const loaded = await loadSession(modelPath, opts.intraOpThreads === undefined ? {} : { intraOpThreads: opts.intraOpThreads });
    return new ServedModel(loaded, tokenizer, cfg.data, opts);
  }

  /** Content hash of the ONNX file (provenance). */
  get hash(): string {
    return this.loaded.hash;
  }

  /** Ids for a text prompt, with BOS when the model prepends it and `addSpecialTokens` is on. */
  encode(text: string, addSpecialTokens: boolean): number[] {
    const ids = this.tokenizer.encode(text).ids;
    const bos = this.tokenizer.bosId;
    return addSpecialTokens && this.prependBos && bos !== undefined ? [bos, ...ids] : ids;
  }

  /** Score rows, one forward pass per group of rows (passes run one at a time). */
  async scoreRows(rows: readonly ScoreRow[], k: number): Promise<RowScores[]> {
    const out = new Array<RowScores>(rows.length);
    const idle = (r: ScoreRow): boolean => !r.next && Math.max(1, r.from) >= r.ids.length;
    const work = rows.map((r, i) => ({ r, i })).filter(({ r, i }) => {
      if (idle(r)) out[i] = { prompt: [], next: undefined };
      return !idle(r);
    });
    const width = (r: ScoreRow): number => (r.next ? r.ids.length : r.ids.length - 1);
    let i = 0;
    while (i < work.length) {
      let j = i;
      let w = 0;
      while (j < work.length && j - i < this.maxBatch) {
        const next = Math.max(w, width((work[j] as (typeof work)[number]).r));
        if (j > i && next * (j - i + 1) > this.maxBatchTokens) break;
        w = next;
        j++;
      }
      const chunk = work.slice(i, j);
      const res = await this.exclusive(() => this.forward(chunk.map((c) => c.r), k));
      res.forEach((r, c) => (out[(chunk[c] as (typeof work)[number]).i] = r));
      i = j;
    }
    return out;
  }

  private async forward(chunk: readonly ScoreRow[], k: number): Promise<RowScores[]> {
    const inputs = chunk.map((r) => r.ids.slice(0, r.next ? r.ids.length : r.ids.length - 1));
    const { logits, batch, vocab } = await runLogits(this.loaded, inputs, this.padId);
    const at = (b: number, slot: number, actual: number | undefined): PositionScore => {
      const offset = (b * batch.width + (slot - 1)) * vocab;
      const lse = logSumExp(logits, offset, vocab);
      const top = topKRow(logits, offset, vocab, k).map((id) => ({ id, logprob: Math.max(FLOOR, (logits[offset + id] as number) - lse) }));
      if (actual === undefined) return { logprob: null, rank: undefined, top };
      const x = logits[offset + actual] as number;
      let greater = 0;
      for (let v = 0; v < vocab; v++) if ((logits[offset + v] as number) > x) greater++;
      return { logprob: Math.max(FLOOR, x - lse), rank: greater + 1, top };
    };
    return chunk.map((r, b) => {
      const prompt: (PositionScore | undefined)[] = new Array<PositionScore | undefined>(r.ids.length).fill(undefined);
      for (let p = Math.max(1, r.from); p < r.ids.length; p++) prompt[p] = at(b, p, r.ids[p]);
      return { prompt, next: r.next ? at(b, r.ids.length, undefined) : undefined };
    });
  }

  /**
   * Greedy continuation of each prompt by up to `maxTokens` tokens (no KV cache: each step is a
   * full pass, fine for small models). `first` is the next-token slot already scored with the
   * prompt; stops after EOS unless `ignoreEos`, and after `stopIds`. The stop token is returned
   * (as servers return it); callers leave it out of the text.
   */
  async generate(
    prompts: readonly (readonly number[])[],
    first: readonly (PositionScore | undefined)[],
    maxTokens: number,
    k: number,
    opts: { ignoreEos?: boolean; stopIds?: ReadonlySet<number> } = {},
  ): Promise<{ ids: number[]; scores: PositionScore[]; stopped: boolean }[]> {
    const stops = new Set([...(opts.ignoreEos ? [] : this.eosIds), ...(opts.stopIds ?? [])]);
    const state = prompts.map((p, i) => ({ seq: [...p], ids: [] as number[], scores: [] as PositionScore[], stopped: false, pending: first[i] }));
    for (let step = 0; step < maxTokens; step++) {
      const live = state.filter((s) => !s.stopped && s.ids.length < maxTokens && s.seq.length < this.maxModelLen);
      if (live.length === 0) break;
      const need = live.filter((s) => s.pending === undefined);
      if (need.length > 0) {
        const scored = await this.scoreRows(need.map((s) => ({ ids: s.seq, from: s.seq.length, next: true })), Math.max(1, k));
        need.forEach((s, i) => (s.pending = scored[i]?.next));
      }
      for (const s of live) {
        const slot = s.pending as PositionScore;
        s.pending = undefined;
        const best = slot.top[0];
        if (best === undefined) {
          s.stopped = true;
          continue;
        }
        // Like vLLM, SGLang and TGI: the stop token is part of the output (ids and logprobs), not of the text.
        s.ids.push(best.id);
        s.seq.push(best.id);
        s.scores.push({ logprob: best.logprob, rank: 1, top: slot.top });
        if (stops.has(best.id)) s.stopped = true;
      }
    }
    return state.map((s) => ({ ids: s.ids, scores: s.scores, stopped: s.stopped }));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.loaded.session.release();
  }

  /** Forward passes run one at a time: concurrent ONNX runs would fight over the same cores. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
