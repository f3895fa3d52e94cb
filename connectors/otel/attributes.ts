/**
 * Span attributes for an attribution: the project's own `reagent.*` names plus the standard
 * GenAI identifying attributes, built so that a span stays inside the SDK's limits by design:
 * a fixed set of keys (well under the 128 default count limit), every array capped by config,
 * every string cut to the configured value length limit. Prompt text appears only in
 * `reagent.spans.text`, and only when `dangerously_capture_span_text` is on.
 *
 * The names, types and limits are documented in schemas/otel-attributes.md; a unit test keeps
 * that table and `ATTRIBUTE_SPECS` in step.
 *
 * @see docs/otel.md
 */
import type { Attributes } from "@opentelemetry/api";
import { stoppingRuleOf, type AttributionResult, type RecordContext } from "../../schemas/attribution-result.js";
import type { AttributionFailure } from "../../src/pipeline/contracts.js";
import type { SpanTextPolicy } from "./config.js";
import { explanation, inputValue, outputValue, policyTexts } from "./readable.js";

/** The OTLP value type an attribute is exported with (`double` values that are whole numbers go out as int: a JS SDK limitation). */
export type AttributeType = "string" | "int" | "double" | "boolean" | "string[]" | "int[]" | "double[]";

export interface AttributeSpec {
  readonly name: string;
  readonly type: AttributeType;
  /** Set on failure spans (onFailed) too. */
  readonly onFailure: boolean;
}

function spec(name: string, type: AttributeType, onFailure = false): AttributeSpec {
  return { name, type, onFailure };
}

/** Attribute names, in the order they are set (the SDK keeps the first ones if a lower count limit is configured). */
export const ATTR = {
  spanKind: "openinference.span.kind",
  attributionId: "reagent.attribution.id",
  recordId: "reagent.record.id",
  genAiProvider: "gen_ai.provider.name",
  genAiRequestModel: "gen_ai.request.model",
  genAiResponseId: "gen_ai.response.id",
  errorType: "error.type",
  errorCode: "reagent.error.code",
  parent: "reagent.parent",
  sourceTraceId: "reagent.source.trace_id",
  lateMs: "reagent.late_ms",
  evalName: "gen_ai.evaluation.name",
  evalScore: "gen_ai.evaluation.score.value",
  evalLabel: "gen_ai.evaluation.score.label",
  evalExplanation: "gen_ai.evaluation.explanation",
  inputValue: "input.value",
  inputMime: "input.mime_type",
  outputValue: "output.value",
  outputMime: "output.mime_type",
  method: "reagent.method",
  mode: "reagent.mode",
  sampler: "reagent.sampler",
  unitLevel: "reagent.unit_level",
  stoppingRule: "reagent.stopping_rule",
  configHash: "reagent.config_hash",
  engineVersion: "reagent.engine.version",
  scorerId: "reagent.scorer.id",
  scorerModel: "reagent.scorer.model",
  converged: "reagent.convergence.converged",
  targetsConverged: "reagent.convergence.targets_converged",
  targetsTotal: "reagent.convergence.targets_total",
  probesConverged: "reagent.convergence.probes_converged",
  probesTotal: "reagent.convergence.probes_total",
  stepsTotal: "reagent.convergence.steps_total",
  stepsMax: "reagent.convergence.steps_max",
  modelCalls: "reagent.cost.model_calls",
  sequencesEvaluated: "reagent.cost.sequences_evaluated",
  tokensProcessed: "reagent.cost.tokens_processed",
  durationMs: "reagent.duration_ms",
  promptTokens: "reagent.prompt.tokens",
  completionTokens: "reagent.completion.tokens",
  warnings: "reagent.warnings.count",
  spansCount: "reagent.spans.count",
  spansStart: "reagent.spans.start",
  spansEnd: "reagent.spans.end",
  spansTokenStart: "reagent.spans.token_start",
  spansTokenEnd: "reagent.spans.token_end",
  spansScore: "reagent.spans.score",
  spansSegment: "reagent.spans.segment",
  spansText: "reagent.spans.text",
  segmentsName: "reagent.segments.name",
  segmentsKind: "reagent.segments.kind",
  segmentsShare: "reagent.segments.share",
  faithfulnessName: "reagent.faithfulness.name",
  faithfulnessValue: "reagent.faithfulness.value",
  sequenceLength: "reagent.sequence.length",
  sequenceBinSize: "reagent.sequence.bin_size",
  sequenceImportance: "reagent.sequence.importance",
} as const;

/** Every attribute this module can set, with its type (the contract of schemas/otel-attributes.md). */
export const ATTRIBUTE_SPECS: readonly AttributeSpec[] = [
  spec(ATTR.spanKind, "string", true),
  spec(ATTR.attributionId, "string"),
  spec(ATTR.recordId, "string", true),
  spec(ATTR.genAiProvider, "string", true),
  spec(ATTR.genAiRequestModel, "string", true),
  spec(ATTR.genAiResponseId, "string", true),
  spec(ATTR.errorType, "string", true),
  spec(ATTR.errorCode, "string", true),
  spec(ATTR.parent, "string", true),
  spec(ATTR.sourceTraceId, "string", true),
  spec(ATTR.lateMs, "double", true),
  spec(ATTR.evalName, "string"),
  spec(ATTR.evalScore, "double"),
  spec(ATTR.evalLabel, "string"),
  spec(ATTR.evalExplanation, "string"),
  spec(ATTR.inputValue, "string"),
  spec(ATTR.inputMime, "string"),
  spec(ATTR.outputValue, "string"),
  spec(ATTR.outputMime, "string"),
  spec(ATTR.method, "string"),
  spec(ATTR.mode, "string"),
  spec(ATTR.sampler, "string"),
  spec(ATTR.unitLevel, "string"),
  spec(ATTR.stoppingRule, "string"),
  spec(ATTR.configHash, "string"),
  spec(ATTR.engineVersion, "string"),
  spec(ATTR.scorerId, "string"),
  spec(ATTR.scorerModel, "string", true),
  spec(ATTR.converged, "boolean"),
  spec(ATTR.targetsConverged, "int"),
  spec(ATTR.targetsTotal, "int"),
  spec(ATTR.probesConverged, "int"),
  spec(ATTR.probesTotal, "int"),
  spec(ATTR.stepsTotal, "int"),
  spec(ATTR.stepsMax, "int"),
  spec(ATTR.modelCalls, "int"),
  spec(ATTR.sequencesEvaluated, "int"),
  spec(ATTR.tokensProcessed, "int"),
  spec(ATTR.durationMs, "double", true),
  spec(ATTR.promptTokens, "int"),
  spec(ATTR.completionTokens, "int"),
  spec(ATTR.warnings, "int"),
  spec(ATTR.spansCount, "int"),
  spec(ATTR.spansStart, "int[]"),
  spec(ATTR.spansEnd, "int[]"),
  spec(ATTR.spansTokenStart, "int[]"),
  spec(ATTR.spansTokenEnd, "int[]"),
  spec(ATTR.spansScore, "double[]"),
  spec(ATTR.spansSegment, "string[]"),
  spec(ATTR.spansText, "string[]"),
  spec(ATTR.segmentsName, "string[]"),
  spec(ATTR.segmentsKind, "string[]"),
  spec(ATTR.segmentsShare, "double[]"),
  spec(ATTR.faithfulnessName, "string[]"),
  spec(ATTR.faithfulnessValue, "double[]"),
  spec(ATTR.sequenceLength, "int"),
  spec(ATTR.sequenceBinSize, "int"),
  spec(ATTR.sequenceImportance, "double[]"),
];

/** The attributes that can carry prompt or completion text (only as `span_text` allows). */
export const CONTENT_ATTRIBUTES: readonly string[] = [ATTR.spansText, ATTR.inputValue, ATTR.outputValue, ATTR.evalExplanation];

/** OpenInference span kind of the attribution span: it evaluates the logged call, it is not one. */
export const SPAN_KIND_EVALUATOR = "EVALUATOR";
/** gen_ai.evaluation.name: the share of prompt importance the top spans explain. */
export const EVALUATION_NAME = "reagent.top_spans_share";

/** Most faithfulness metrics put on a span. */
export const MAX_FAITHFULNESS = 16;

export interface AttributeOptions {
  readonly maxSpans: number;
  readonly maxSegments: number;
  readonly sequenceMaxLen: number;
  readonly valueLengthLimit: number;
  /** How much text the span may carry (config `span_text`). */
  readonly spanText: SpanTextPolicy;
  readonly standardAttributes: boolean;
}

/** How the attribution span relates to the logged call (`reagent.parent`). */
export type ParentRelation = "span" | "trace" | "none";

/** Round to 6 significant digits: enough for shares and scores, short in string-typed backends. */
export function round6(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Number(v.toPrecision(6));
}

function cut(s: string, limit: number): string {
  return s.length > limit ? s.slice(0, limit) : s;
}

/**
 * The sequence importance as at most `maxLen` values: exact when the prompt is that short,
 * otherwise sums over consecutive bins of `binSize` = ceil(length / maxLen) tokens (the last
 * bin may be shorter), so the values still sum to 1 and cover the whole prompt.
 */
export function binSequence(importance: readonly number[], maxLen: number): { values: number[]; binSize: number } {
  const n = importance.length;
  if (maxLen <= 0 || n === 0) return { values: [], binSize: 0 };
  if (n <= maxLen) return { values: importance.map(round6), binSize: 1 };
  const binSize = Math.ceil(n / maxLen);
  const values: number[] = [];
  for (let start = 0; start < n; start += binSize) {
    let s = 0;
    const end = Math.min(n, start + binSize);
    for (let i = start; i < end; i++) s += importance[i] ?? 0;
    values.push(round6(s));
  }
  return { values, binSize };
}

/** Where the span sits relative to the logged call, and how late the attribution came. */
export interface Placement {
  readonly parent: ParentRelation;
  readonly sourceTraceId?: string;
  /** Milliseconds between the logged call and the attribution's start, when it was late (linked span). */
  readonly lateMs?: number;
}

/** JSON text within the length limit: fewer top spans first, a cut as the last resort. */
function fitJson(make: (spans: number) => string, maxSpans: number, limit: number): string {
  for (let n = maxSpans; n >= 0; n = n > 3 ? 3 : n - 1) {
    const v = make(n);
    if (v.length <= limit) return v;
  }
  return cut(make(0), limit);
}

function identifying(ctx: RecordContext, placement: Placement, opts: AttributeOptions, out: Attributes): void {
  const L = opts.valueLengthLimit;
  if (ctx.record_id !== null) out[ATTR.recordId] = cut(ctx.record_id, L);
  if (opts.standardAttributes) {
    if (ctx.provider !== null) out[ATTR.genAiProvider] = cut(ctx.provider, L);
    if (ctx.logged_model !== null) out[ATTR.genAiRequestModel] = cut(ctx.logged_model, L);
    if (ctx.response_id !== null) out[ATTR.genAiResponseId] = cut(ctx.response_id, L);
  }
  out[ATTR.parent] = placement.parent;
  if (placement.sourceTraceId !== undefined) out[ATTR.sourceTraceId] = placement.sourceTraceId;
  if (placement.lateMs !== undefined) out[ATTR.lateMs] = round6(placement.lateMs);
}

/** The attributes of the span for a successful attribution. */
export function attributionAttributes(result: AttributionResult, opts: AttributeOptions, placement: Placement = { parent: "none" }): Attributes {
  const L = opts.valueLengthLimit;
  const a: Attributes = {};
  a[ATTR.spanKind] = SPAN_KIND_EVALUATOR;
  a[ATTR.attributionId] = cut(result.attribution_id, L);
  identifying(result.context, placement, opts, a);
  if (opts.standardAttributes) {
    a[ATTR.evalName] = EVALUATION_NAME;
    a[ATTR.evalScore] = topSpansShare(result, opts.maxSpans);
    a[ATTR.evalLabel] = evaluationLabel(result);
    a[ATTR.evalExplanation] = cut(explanation(result, opts.spanText, opts.maxSpans), L);
  }
  a[ATTR.inputValue] = cut(inputValue(result, opts.spanText), L);
  a[ATTR.inputMime] = "application/json";
  a[ATTR.outputValue] = fitJson((n) => outputValue(result, opts.spanText, n), opts.maxSpans, L);
  a[ATTR.outputMime] = "application/json";
  a[ATTR.method] = result.method;
  if (result.mode !== null) a[ATTR.mode] = result.mode;
  a[ATTR.sampler] = result.sampler;
  a[ATTR.unitLevel] = result.unit_level;
  const stopping = stoppingRuleOf(result);
  if (stopping !== "") a[ATTR.stoppingRule] = stopping;
  a[ATTR.configHash] = cut(result.config_hash, L);
  a[ATTR.engineVersion] = cut(result.engine_version, L);
  a[ATTR.scorerId] = cut(result.model.scorer_id, L);
  a[ATTR.scorerModel] = cut(result.model.name, L);

  const c = result.convergence;
  a[ATTR.converged] = c.converged;
  a[ATTR.targetsConverged] = c.targets_converged;
  a[ATTR.targetsTotal] = c.targets_total;
  a[ATTR.probesConverged] = c.probes_converged;
  a[ATTR.probesTotal] = c.probes_total;
  a[ATTR.stepsTotal] = c.steps_total;
  a[ATTR.stepsMax] = c.steps_max;
  a[ATTR.modelCalls] = result.cost.model_calls;
  a[ATTR.sequencesEvaluated] = result.cost.sequences_evaluated;
  a[ATTR.tokensProcessed] = result.cost.tokens_processed;
  a[ATTR.durationMs] = round6(result.timings.duration_ms);
  a[ATTR.promptTokens] = result.prompt.tokens.length;
  a[ATTR.completionTokens] = result.completion.tokens.length;
  a[ATTR.warnings] = result.warnings.length;

  const spans = [...result.spans].sort((x, y) => x.rank - y.rank).slice(0, opts.maxSpans);
  a[ATTR.spansCount] = spans.length;
  if (spans.length > 0) {
    a[ATTR.spansStart] = spans.map((s) => s.start);
    a[ATTR.spansEnd] = spans.map((s) => s.end);
    a[ATTR.spansTokenStart] = spans.map((s) => s.token_start);
    a[ATTR.spansTokenEnd] = spans.map((s) => s.token_end);
    a[ATTR.spansScore] = spans.map((s) => round6(s.score));
    a[ATTR.spansSegment] = spans.map((s) => cut(s.segment ?? "", L));
    const { prompt } = policyTexts(result, opts.spanText);
    if (prompt !== undefined) a[ATTR.spansText] = spans.map((s) => cut(prompt.slice(s.start, s.end), L));
  }

  const segments = [...result.segments].sort((x, y) => y.share - x.share).slice(0, opts.maxSegments);
  if (segments.length > 0) {
    a[ATTR.segmentsName] = segments.map((s) => cut(s.name, L));
    a[ATTR.segmentsKind] = segments.map((s) => s.kind);
    a[ATTR.segmentsShare] = segments.map((s) => round6(s.share));
  }

  const faith = Object.entries(result.faithfulness ?? {})
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .slice(0, MAX_FAITHFULNESS);
  if (faith.length > 0) {
    a[ATTR.faithfulnessName] = faith.map(([k]) => cut(k, L));
    a[ATTR.faithfulnessValue] = faith.map(([, v]) => round6(v));
  }

  const seq = result.sequence.importance;
  a[ATTR.sequenceLength] = seq.length;
  if (opts.sequenceMaxLen > 0 && seq.length > 0) {
    const { values, binSize } = binSequence(seq, opts.sequenceMaxLen);
    a[ATTR.sequenceBinSize] = binSize;
    a[ATTR.sequenceImportance] = values;
  }
  return a;
}

/** The attributes of the span for a failed attribution (status ERROR). */
export function failureAttributes(failure: AttributionFailure, opts: AttributeOptions, placement: Placement = { parent: "none" }): Attributes {
  const L = opts.valueLengthLimit;
  const a: Attributes = {};
  a[ATTR.spanKind] = SPAN_KIND_EVALUATOR;
  identifying(failure.context, placement, opts, a);
  a[ATTR.errorType] = cut(failure.code, L);
  a[ATTR.errorCode] = cut(failure.code, L);
  a[ATTR.scorerModel] = cut(failure.model, L);
  a[ATTR.durationMs] = round6(Math.max(0, failure.endedAt.getTime() - failure.startedAt.getTime()));
  return a;
}

/** Sum of the reported top spans' scores: the share of prompt importance they explain (0..1). */
export function topSpansShare(result: AttributionResult, maxSpans: number): number {
  const spans = [...result.spans].sort((x, y) => x.rank - y.rank).slice(0, maxSpans);
  return round6(Math.min(1, spans.reduce((s, sp) => s + sp.score, 0)));
}

/** gen_ai.evaluation.score.label: whether the attribution can be trusted as computed. */
export function evaluationLabel(result: AttributionResult): "converged" | "not_converged" {
  return result.convergence.converged ? "converged" : "not_converged";
}
