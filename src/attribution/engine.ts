/**
 * The attribution engine: text in, AttributionResult out.
 *
 * It renders the prompt (plain text or chat messages through the model's template), tokenises
 * with character offsets, marks the positions no sampler may replace (BOS, special and
 * chat-template tokens), runs the configured method on token ids through the Scorer, and
 * builds the sequence view, words, segment shares and top spans.
 */
import { createHash } from "node:crypto";
import type { AttributionResult, RecordContext, ResultToken } from "../../schemas/attribution-result.js";
import { RESULT_SCHEMA_VERSION, emptyRecordContext } from "../../schemas/attribution-result.js";
import { AttributionError, InputRejectedError, ReagentError, errorMessage } from "../errors.js";
import { CountingScorer, type Scorer } from "./scorer.js";
import type { ChatMessage, ChatTemplate, MessageRange } from "../text/chat-template.js";
import { findRuleSegments, roleSegments, segmentAt, type SegmentRule } from "../text/segments.js";
import { unitBoundaries, unitIndexAt } from "../text/units.js";
import type { TextTokenizer } from "../text/tokenizer.js";
import { ENGINE_VERSION } from "../version.js";
import { leaveOneOut, randomAttribution } from "./baselines.js";
import { contextCite } from "./context-cite.js";
import { deletionFaithfulness, topOverlap } from "./faithfulness.js";
import { samplerContext } from "./targets.js";
import { unperturbedPass } from "./unperturbed.js";
import { configHash, resolveEngineConfig, type EngineConfig, type EngineConfigInput, type UnitLevel } from "./config.js";
import { reagentJoint } from "./reagent/joint.js";
import { reagentReference } from "./reagent/reference.js";
import { createRng } from "./rng.js";
import { RoundTripSampler } from "./samplers/round-trip.js";
import type { TokenSampler } from "./samplers/sampler.js";
import { rolloutSequence, segmentShares, topSpans, wordScores } from "./sequence-view.js";
import type { AttributionMethod, MethodOutput, ProgressEvent, TargetsInput } from "./targets.js";

/** What a model brings to attribution: a scorer, its tokenizer, and how to render chats. */
export interface AttributionModel {
  readonly scorer: Scorer;
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplate;
  /** Prepend the tokenizer's BOS to the prompt (as the model saw it in training). */
  readonly addBos: boolean;
}

export interface AttributeRequest {
  readonly prompt: string | readonly ChatMessage[];
  readonly completion: string;
  /** Completion token ids when the log has them (used as given; they must be in the model's vocabulary). */
  readonly completionIds?: readonly number[];
  readonly context?: Partial<RecordContext>;
}

export interface AttributeOptions {
  readonly onProgress?: (e: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

export interface EngineOptions {
  readonly segments?: readonly SegmentRule[];
  /** Top spans reported per result. */
  readonly maxSpans?: number;
}

function methodFor(cfg: EngineConfig): AttributionMethod {
  const m = cfg.method;
  if (m.type === "loo") return leaveOneOut;
  if (m.type === "random") return randomAttribution;
  if (m.type === "context_cite") return contextCite;
  return m.mode === "reference" ? reagentReference : reagentJoint;
}

export class AttributionEngine {
  readonly config: EngineConfig;
  readonly configHash: string;
  private readonly segments: readonly SegmentRule[];
  private readonly maxSpans: number;
  /** The sampler perturbations are drawn from: `sampler`, kept to sequences a text-only scorer can receive. */
  private readonly draws: TokenSampler;

  constructor(
    readonly model: AttributionModel,
    readonly sampler: TokenSampler,
    config: EngineConfigInput | EngineConfig = {},
    opts: EngineOptions = {},
  ) {
    this.config = resolveEngineConfig(config);
    if (this.sampler.id !== this.config.sampler.type) {
      throw new AttributionError({ what: "creating the engine", why: `config names sampler "${this.config.sampler.type}" but "${this.sampler.id}" was given` });
    }
    this.segments = opts.segments ?? [];
    this.maxSpans = opts.maxSpans ?? 5;
    const accepts = model.scorer.acceptsIds?.bind(model.scorer);
    this.draws = accepts ? new RoundTripSampler(sampler, accepts) : sampler;
    this.configHash = configHash(this.config, {
      scorer: model.scorer.info.id,
      sampler: this.draws.description,
      segments: this.segments,
      engine: ENGINE_VERSION,
    });
  }

  /**
   * The deterministic id of the attribution of a record: the same record, tenant and settings give
   * the same id, so stores deduplicate redeliveries on it. The tenant is part of it because record
   * ids are only unique within a tenant; a record without one keeps the id it always had.
   */
  attributionId(recordKey: string, tenant?: string | null): string {
    const key = tenant === undefined || tenant === null || tenant === "" ? recordKey : `${tenant}\u0000${recordKey}`;
    return createHash("sha256").update(`${key}\u0000${this.configHash}`).digest("hex").slice(0, 32);
  }

  async attribute(req: AttributeRequest, opts: AttributeOptions = {}): Promise<AttributionResult> {
    const startedAt = new Date();
    const t0 = performance.now();
    const prepared = this.prepare(req);
    const scorer = new CountingScorer(this.model.scorer);
    const recordKey = req.context?.record_id ?? createHash("sha256").update(JSON.stringify([req.prompt, req.completion])).digest("hex");
    const run = (seed: number): Promise<MethodOutput> =>
      methodFor(this.config)(prepared.input, {
        scorer,
        sampler: this.draws,
        rng: createRng(seed, recordKey),
        config: this.config,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    let out: MethodOutput;
    let quality: Record<string, number> | null = null;
    try {
      out = await run(this.config.seed);
      quality = await this.quality(prepared, out, scorer, recordKey, run, opts.signal);
    } catch (err) {
      if (err instanceof ReagentError) throw err;
      throw new AttributionError({ what: "attributing record", why: errorMessage(err), cause: err });
    }
    return this.buildResult(req, prepared, out, scorer, startedAt, performance.now() - t0, recordKey, quality);
  }

  /** The configured per-record quality scores (faithfulness.ts), or null when off. */
  private async quality(
    prepared: PreparedInput,
    out: MethodOutput,
    scorer: CountingScorer,
    recordKey: string,
    run: (seed: number) => Promise<MethodOutput>,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, number> | null> {
    const f = this.config.faithfulness;
    if (f.type === "off") return null;
    const P = prepared.input.promptLength;
    const seq = rolloutSequence(P, out.targets);
    const features =
      prepared.input.units ??
      prepared.input.replaceable
        .slice(0, P)
        .flatMap((r, i) => (r ? [[i]] : []));
    const needTable = this.sampler.id === "self";
    const table = needTable ? (await unperturbedPass(prepared.input, { scorer, sampler: this.sampler, rng: createRng(0), config: this.config }, true)).topKByPosition : undefined;
    const scores = await deletionFaithfulness(
      { ids: prepared.input.ids, promptLength: P, features, importance: seq, targets: out.targets.map((t) => ({ index: t.index, pOriginal: t.pOriginal })) },
      f,
      { scorer, sampler: this.draws, rng: createRng(this.config.seed, `${recordKey}\u0000faithfulness`), samplerContext: samplerContext(prepared.input.ids, table), ...(signal ? { signal } : {}) },
    );
    if (f.seed_check) {
      const before = scorer.cost.sequencesEvaluated;
      const again = await run(this.config.seed + 1);
      const mask = prepared.promptTokens.map((t) => !t.protected);
      scores.seed_top3_overlap = topOverlap(seq, rolloutSequence(P, again.targets), mask);
      scores.seed_check_sequences = scorer.cost.sequencesEvaluated - before;
    }
    return scores;
  }

  /** Tokenise and mark protected positions (exposed for tests and the CLI's dry runs). */
  prepare(req: AttributeRequest): PreparedInput {
    const tok = this.model.tokenizer;
    let text: string;
    let messages: readonly MessageRange[] = [];
    if (typeof req.prompt === "string") {
      text = req.prompt;
    } else {
      const rendered = this.model.chatTemplate.render(req.prompt, { addGenerationPrompt: true });
      text = rendered.text;
      messages = rendered.messages;
    }
    const enc = tok.encode(text);
    const bos = this.model.addBos && tok.bosId !== undefined ? [tok.bosId] : [];
    const promptIds = [...bos, ...enc.ids];
    const offsets = [...bos.map(() => ({ start: 0, end: 0 })), ...enc.offsets];
    const special = [...bos.map(() => true), ...enc.special];
    if (promptIds.length === 0) {
      throw new InputRejectedError({ what: "preparing the prompt", why: "the prompt is empty and the model has no BOS token to condition on" });
    }
    const ruleRanges = findRuleSegments(text, this.segments);
    const msgRanges = roleSegments(messages);
    const isChat = typeof req.prompt !== "string";
    const promptTokens: ResultToken[] = promptIds.map((id, i) => {
      const o = offsets[i] as { start: number; end: number };
      const seg = segmentAt(o.start, o.end, ruleRanges, msgRanges);
      const inMessage = msgRanges.some((m) => m.start <= o.start && o.end <= m.end && o.end > o.start);
      // In a chat prompt, text outside every message's content is template scaffolding.
      const template = isChat && !inMessage && !(seg && ruleRanges.some((r) => r.name === seg.name));
      return {
        id,
        text: text.slice(o.start, o.end),
        start: o.start,
        end: o.end,
        special: special[i] ?? false,
        protected: (special[i] ?? false) || tok.specialIds.has(id) || template || o.end <= o.start,
        segment: template ? "template" : (seg?.name ?? "prompt"),
        message_index: seg?.messageIndex ?? null,
      };
    });

    const completionEnc = req.completionIds ? undefined : tok.encode(req.completion);
    const completionIds = req.completionIds ? [...req.completionIds] : (completionEnc as { ids: number[] }).ids;
    if (completionIds.length === 0) throw new InputRejectedError({ what: "preparing the completion", why: "the completion has no tokens to attribute" });
    const vocab = this.model.scorer.capabilities.vocabSize;
    const bad = [...promptIds, ...completionIds].find((id) => id < 0 || (vocab !== undefined && id >= vocab));
    if (bad !== undefined) throw new InputRejectedError({ what: "preparing the input", why: `token id ${bad} is outside the model's vocabulary (${vocab})` });
    let cursor = 0;
    const completionTokens: ResultToken[] = completionIds.map((id, i) => {
      const o = completionEnc?.offsets[i];
      const piece = o ? req.completion.slice(o.start, o.end) : tok.tokenText(id);
      const start = o ? o.start : cursor;
      cursor = o ? o.end : cursor + piece.length;
      const sp = tok.specialIds.has(id);
      return { id, text: piece, start, end: o ? o.end : cursor, special: sp, protected: sp, segment: "completion", message_index: null };
    });
    const maxLen = this.model.scorer.capabilities.maxSequenceLength;
    const G = Math.min(completionIds.length, this.config.max_targets);
    if (maxLen !== undefined && promptIds.length + G > maxLen) {
      throw new InputRejectedError({
        what: "preparing the input",
        why: `prompt (${promptIds.length} tokens) plus ${G} attributed completion tokens exceed the model's ${maxLen}-token limit`,
      });
    }
    const ids = [...promptIds, ...completionIds];
    const replaceable = [...promptTokens.map((t) => !t.protected), ...completionTokens.map((t) => !t.protected)];
    const level = this.config.units.type;
    const units = level === "token" ? [] : this.unitsOf(text, promptTokens, level, ruleRanges, msgRanges);
    const input: TargetsInput = {
      ids,
      promptLength: promptIds.length,
      replaceable,
      targets: Array.from({ length: G }, (_, i) => i),
      ...(units.length > 0 ? { units: units.map((u) => u.positions) } : {}),
    };
    return { text, messages, promptTokens, completionTokens, input, units };
  }

  /** Replaceable prompt tokens grouped into units by their first non-space character. */
  private unitsOf(
    text: string,
    tokens: readonly ResultToken[],
    level: Exclude<UnitLevel, "token">,
    rules: ReturnType<typeof findRuleSegments>,
    messages: ReturnType<typeof roleSegments>,
  ): PreparedUnit[] {
    const cuts = unitBoundaries(text, level, rules, messages);
    const byUnit = new Map<number, number[]>();
    tokens.forEach((t, i) => {
      if (t.protected) return;
      let at = t.start;
      while (at < t.end - 1 && /\s/.test(text[at] as string)) at++;
      const k = unitIndexAt(cuts, at);
      byUnit.set(k, [...(byUnit.get(k) ?? []), i]);
    });
    return [...byUnit.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, positions]) => {
        const first = tokens[positions[0] as number] as ResultToken;
        const last = tokens[positions[positions.length - 1] as number] as ResultToken;
        return { positions, start: first.start, end: last.end, tokenStart: positions[0] as number, tokenEnd: (positions[positions.length - 1] as number) + 1 };
      });
  }

  private buildResult(
    req: AttributeRequest,
    prepared: PreparedInput,
    out: MethodOutput,
    scorer: CountingScorer,
    startedAt: Date,
    durationMs: number,
    recordKey: string,
    quality: Record<string, number> | null,
  ): AttributionResult {
    const P = prepared.input.promptLength;
    const seq = rolloutSequence(P, out.targets);
    const roles = new Map(prepared.messages.map((m) => [m.index, m.role] as const));
    const ruleNames = new Set(this.segments.map((s) => s.name));
    const targets = out.targets.map((t) => ({
      index: t.index,
      token_id: t.tokenId,
      p_original: Math.min(1, Math.max(0, t.pOriginal)),
      converged: t.converged,
      probes_converged: t.probesConverged,
      probes_total: t.probesTotal,
      steps: t.steps,
      importance: Array.from(t.importance),
    }));
    const conv = out.targets;
    return {
      schema_version: RESULT_SCHEMA_VERSION,
      attribution_id: this.attributionId(recordKey, req.context?.tenant_id),
      context: { ...emptyRecordContext, ...req.context },
      created_at: new Date().toISOString(),
      engine_version: ENGINE_VERSION,
      model: { scorer_id: this.model.scorer.info.id, kind: this.model.scorer.info.kind, name: this.model.scorer.info.model },
      method: this.config.method.type,
      mode: this.config.method.type === "reagent" ? this.config.method.mode : null,
      sampler: this.sampler.id,
      sampler_description: this.draws.description,
      config: this.config,
      config_hash: this.configHash,
      prompt: { text: prepared.text, tokens: prepared.promptTokens, messages: [...prepared.messages] },
      completion: { text: req.completion, tokens: prepared.completionTokens },
      targets,
      sequence: { importance: Array.from(seq), aggregation: "rollout_mean" },
      words: wordScores(prepared.text, prepared.promptTokens, seq),
      segments: segmentShares(prepared.promptTokens, seq, ruleNames, roles),
      unit_level: prepared.units.length > 0 && this.config.units.type !== "token" ? this.config.units.type : "token",
      units: prepared.units.map((u, k) => ({
        index: k,
        start: u.start,
        end: u.end,
        token_start: u.tokenStart,
        token_end: u.tokenEnd,
        tokens: u.positions.length,
        score: Math.min(1, Math.max(0, u.positions.reduce((s, p) => s + (seq[p] ?? 0), 0))),
        refined: out.units?.refined.includes(k) ?? false,
      })),
      spans: topSpans(prepared.text, prepared.promptTokens, seq, this.maxSpans, roles),
      convergence: {
        converged: conv.every((t) => t.converged),
        targets_converged: conv.filter((t) => t.converged).length,
        targets_total: conv.length,
        probes_converged: conv.reduce((s, t) => s + t.probesConverged, 0),
        probes_total: conv.reduce((s, t) => s + t.probesTotal, 0),
        steps_total: conv.reduce((s, t) => s + t.steps, 0),
        steps_max: conv.reduce((s, t) => Math.max(s, t.steps), 0),
      },
      cost: {
        model_calls: scorer.cost.modelCalls,
        sequences_evaluated: scorer.cost.sequencesEvaluated,
        tokens_processed: scorer.cost.tokensProcessed,
      },
      timings: { started_at: startedAt.toISOString(), duration_ms: Math.round(durationMs * 1000) / 1000 },
      faithfulness: quality,
      // Scorer caveats (e.g. an endpoint without prompt top-k) travel with every result.
      warnings: [...(this.model.scorer.info.notes ?? []), ...out.warnings],
    };
  }
}

/** A unit of unit-level attribution: its replaceable prompt positions and where it lies. */
export interface PreparedUnit {
  readonly positions: readonly number[];
  readonly start: number;
  readonly end: number;
  readonly tokenStart: number;
  readonly tokenEnd: number;
}

export interface PreparedInput {
  /** Unit level: the units (empty at token level, or when the prompt has no replaceable token). */
  readonly units: readonly PreparedUnit[];
  readonly text: string;
  readonly messages: readonly MessageRange[];
  readonly promptTokens: ResultToken[];
  readonly completionTokens: ResultToken[];
  readonly input: TargetsInput;
}
