/**
 * From one AttributionResult to the rows both stores keep: one `attributions` row, one
 * `attribution_spans` row per top span, one `attribution_segments` row per segment share.
 *
 * These rows are the store-neutral form: the ClickHouse and DuckDB sinks encode them, their
 * `readRows` decode back into exactly these shapes, and the conformance suite compares the two.
 * Everything a store cannot keep exactly is settled here, so that a read-back row equals the row
 * written: timestamps at the store's precision, Float32 columns rounded with Math.fround, absent
 * tenants as '' (the tenant is part of the sort key, which cannot be Nullable on every server).
 */
import { stoppingRuleOf, type AttributionResult, type ResultToken } from "../../schemas/attribution-result.js";
import { SinkError } from "../../src/errors.js";
import type { RedactionKind, SensitiveRange } from "./redact.js";
import { findSensitive, kindsIn, maskRanges, MASK_CHAR, overlapsAny } from "./redact.js";

export const storeTextModes = ["full", "redacted", "none"] as const;
export type StoreTextMode = (typeof storeTextModes)[number];

export type TimePrecision = "ms" | "s";

export interface RowOptions {
  readonly storeText: StoreTextMode;
  /** Per-target matrix rows are kept while their cells add up to at most this many; 0 keeps none. */
  readonly maxMatrixCells: number;
  /** What the store's timestamp columns keep. */
  readonly timePrecision: TimePrecision;
}

/** One row of `attributions`. Column names are the SQL column names. */
export interface AttributionRow {
  attribution_id: string;
  schema_version: number;
  tenant_id: string;
  model: string;
  /** UTC day of event_time, YYYY-MM-DD. */
  day: string;
  /** record_time when the logged call had a valid one, else created_at (ISO-8601, UTC). */
  event_time: string;
  record_time: string | null;
  created_at: string;
  started_at: string;
  duration_ms: number;
  record_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  response_id: string | null;
  user_id: string | null;
  session_id: string | null;
  provider: string | null;
  logged_model: string | null;
  model_kind: string;
  scorer_id: string;
  method: string;
  mode: string | null;
  sampler: string;
  sampler_description: string;
  config_hash: string;
  engine_version: string;
  config_json: string;
  text_mode: StoreTextMode;
  prompt_text: string | null;
  completion_text: string | null;
  prompt_token_count: number;
  completion_token_count: number;
  prompt_token_ids: number[];
  prompt_token_text: string[];
  prompt_token_start: number[];
  prompt_token_end: number[];
  prompt_token_special: number[];
  prompt_token_protected: number[];
  prompt_token_segment: (string | null)[];
  prompt_token_message: (number | null)[];
  message_role: string[];
  message_start: number[];
  message_end: number[];
  completion_token_ids: number[];
  completion_token_text: string[];
  completion_token_start: number[];
  completion_token_end: number[];
  completion_token_special: number[];
  importance: number[];
  target_index: number[];
  target_p_original: number[];
  target_converged: number[];
  target_steps: number[];
  matrix: number[][];
  matrix_rows_total: number;
  segment_name: string[];
  segment_kind: string[];
  segment_message: (number | null)[];
  segment_share: number[];
  segment_tokens: number[];
  converged: number;
  targets_converged: number;
  targets_total: number;
  probes_converged: number;
  probes_total: number;
  steps_total: number;
  steps_max: number;
  model_calls: number;
  sequences_evaluated: number;
  tokens_processed: number;
  faithfulness_computed: number;
  faithfulness_names: string[];
  faithfulness_values: number[];
  warnings: string[];
  unit_level: string;
  stopping_rule: string;
}

/** One row of `attribution_spans`: a top span with the context most audits filter on. */
export interface SpanRow {
  attribution_id: string;
  tenant_id: string;
  model: string;
  day: string;
  event_time: string;
  logged_model: string | null;
  trace_id: string | null;
  response_id: string | null;
  user_id: string | null;
  session_id: string | null;
  rank: number;
  text: string | null;
  char_start: number;
  char_end: number;
  token_start: number;
  token_end: number;
  segment: string | null;
  role: string | null;
  message_index: number | null;
  score: number;
  /** Redaction kinds found in the span's original text, whatever `store_text` is. */
  pii: RedactionKind[];
}

/** One row of `attribution_segments`: a segment's share of the sequence importance. */
export interface SegmentRow {
  attribution_id: string;
  tenant_id: string;
  model: string;
  day: string;
  event_time: string;
  logged_model: string | null;
  engine_version: string;
  config_hash: string;
  ordinal: number;
  name: string;
  kind: string;
  message_index: number | null;
  share: number;
  tokens: number;
}

export interface StoredRows {
  attribution: AttributionRow;
  spans: SpanRow[];
  segments: SegmentRow[];
}

/** DateTime covers 1970-01-01 to 2105; both stores are given only instants in that range. */
const MIN_TIME_MS = 0;
const MAX_TIME_MS = Date.UTC(2105, 11, 31, 23, 59, 59);

/** ISO-8601 UTC at the store's precision, or undefined when `value` is not a usable instant. */
export function normalizeTime(value: string | null, precision: TimePrecision): string | undefined {
  if (value === null) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS) return undefined;
  const kept = precision === "s" ? Math.floor(ms / 1000) * 1000 : ms;
  return new Date(kept).toISOString();
}

function requireTime(value: string, field: string, id: string, precision: TimePrecision): string {
  const t = normalizeTime(value, precision);
  if (t === undefined) {
    throw new SinkError({
      sink: "rows",
      retryable: false,
      what: `mapping attribution ${id} to rows`,
      why: `${field} "${value}" is not an ISO-8601 time between 1970 and 2105`,
      details: { attribution_id: id, field },
    });
  }
  return t;
}

/** Float32 values as the store keeps them (a plain loop: this runs for every matrix cell). */
function f32s(xs: readonly number[]): number[] {
  const out = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = Math.fround(xs[i] as number);
  return out;
}

/** The per-token columns of one token list, filled in a single pass. */
function tokenColumns(tokens: readonly ResultToken[]): {
  ids: number[];
  start: number[];
  end: number[];
  special: number[];
  prot: number[];
  segment: (string | null)[];
  message: (number | null)[];
} {
  const n = tokens.length;
  const c = {
    ids: new Array<number>(n),
    start: new Array<number>(n),
    end: new Array<number>(n),
    special: new Array<number>(n),
    prot: new Array<number>(n),
    segment: new Array<string | null>(n),
    message: new Array<number | null>(n),
  };
  for (let i = 0; i < n; i++) {
    const t = tokens[i] as ResultToken;
    c.ids[i] = t.id;
    c.start[i] = t.start;
    c.end[i] = t.end;
    c.special[i] = t.special ? 1 : 0;
    c.prot[i] = t.protected ? 1 : 0;
    c.segment[i] = t.segment;
    c.message[i] = t.message_index;
  }
  return c;
}

function tokenTexts(tokens: readonly ResultToken[], mode: StoreTextMode, ranges: readonly SensitiveRange[], source: string): string[] {
  if (mode === "none") return [];
  if (mode === "full") return tokens.map((t) => t.text);
  return tokens.map((t) => {
    if (!overlapsAny(ranges, t.start, t.end)) return t.text;
    // A token whose text is its slice of the source is masked code unit by code unit; a token
    // decoded differently (a leading-space marker, a byte-level piece) is masked whole.
    return source.slice(t.start, t.end) === t.text ? maskRanges(t.text, ranges, t.start) : MASK_CHAR.repeat(t.text.length);
  });
}

function storedText(text: string, mode: StoreTextMode, ranges: readonly SensitiveRange[]): string | null {
  if (mode === "none") return null;
  return mode === "full" ? text : maskRanges(text, ranges);
}

/** The rows that represent `result` in a store configured with `opts`. */
export function toRows(result: AttributionResult, opts: RowOptions): StoredRows {
  const id = result.attribution_id;
  const p = opts.timePrecision;
  const ctx = result.context;
  const createdAt = requireTime(result.created_at, "created_at", id, p);
  const startedAt = requireTime(result.timings.started_at, "timings.started_at", id, p);
  const recordTime = normalizeTime(ctx.record_timestamp, p) ?? null;
  const eventTime = recordTime ?? createdAt;
  const day = eventTime.slice(0, 10);
  const tenant = ctx.tenant_id ?? "";
  const model = result.model.name;
  const mode = opts.storeText;

  const promptRanges = findSensitive(result.prompt.text);
  const completionRanges = mode === "redacted" ? findSensitive(result.completion.text) : [];

  const targets = [...result.targets].sort((a, b) => a.index - b.index);
  const matrix: number[][] = [];
  let cells = 0;
  for (const t of targets) {
    if (cells + t.importance.length > opts.maxMatrixCells) break;
    cells += t.importance.length;
    matrix.push(f32s(t.importance));
  }

  const pt = tokenColumns(result.prompt.tokens);
  const ct = tokenColumns(result.completion.tokens);
  const faith = result.faithfulness;
  const faithNames = faith === null ? [] : Object.keys(faith).sort();

  const attribution: AttributionRow = {
    attribution_id: id,
    schema_version: result.schema_version,
    tenant_id: tenant,
    model,
    day,
    event_time: eventTime,
    record_time: recordTime,
    created_at: createdAt,
    started_at: startedAt,
    duration_ms: result.timings.duration_ms,
    record_id: ctx.record_id,
    trace_id: ctx.trace_id,
    span_id: ctx.span_id,
    response_id: ctx.response_id,
    user_id: ctx.user_id,
    session_id: ctx.session_id,
    provider: ctx.provider,
    logged_model: ctx.logged_model,
    model_kind: result.model.kind,
    scorer_id: result.model.scorer_id,
    method: result.method,
    mode: result.mode,
    sampler: result.sampler,
    sampler_description: result.sampler_description,
    config_hash: result.config_hash,
    engine_version: result.engine_version,
    config_json: JSON.stringify(result.config),
    text_mode: mode,
    prompt_text: storedText(result.prompt.text, mode, promptRanges),
    completion_text: storedText(result.completion.text, mode, completionRanges),
    prompt_token_count: result.prompt.tokens.length,
    completion_token_count: result.completion.tokens.length,
    prompt_token_ids: mode === "full" ? pt.ids : [],
    prompt_token_text: tokenTexts(result.prompt.tokens, mode, promptRanges, result.prompt.text),
    prompt_token_start: pt.start,
    prompt_token_end: pt.end,
    prompt_token_special: pt.special,
    prompt_token_protected: pt.prot,
    prompt_token_segment: pt.segment,
    prompt_token_message: pt.message,
    message_role: result.prompt.messages.map((m) => m.role),
    message_start: result.prompt.messages.map((m) => m.start),
    message_end: result.prompt.messages.map((m) => m.end),
    completion_token_ids: mode === "full" ? ct.ids : [],
    completion_token_text: tokenTexts(result.completion.tokens, mode, completionRanges, result.completion.text),
    completion_token_start: ct.start,
    completion_token_end: ct.end,
    completion_token_special: ct.special,
    importance: f32s(result.sequence.importance),
    target_index: targets.map((t) => t.index),
    target_p_original: targets.map((t) => t.p_original),
    target_converged: targets.map((t) => (t.converged ? 1 : 0)),
    target_steps: targets.map((t) => t.steps),
    matrix,
    matrix_rows_total: targets.length,
    segment_name: result.segments.map((s) => s.name),
    segment_kind: result.segments.map((s) => s.kind),
    segment_message: result.segments.map((s) => s.message_index),
    segment_share: result.segments.map((s) => s.share),
    segment_tokens: result.segments.map((s) => s.tokens),
    converged: result.convergence.converged ? 1 : 0,
    targets_converged: result.convergence.targets_converged,
    targets_total: result.convergence.targets_total,
    probes_converged: result.convergence.probes_converged,
    probes_total: result.convergence.probes_total,
    steps_total: result.convergence.steps_total,
    steps_max: result.convergence.steps_max,
    model_calls: result.cost.model_calls,
    sequences_evaluated: result.cost.sequences_evaluated,
    tokens_processed: result.cost.tokens_processed,
    faithfulness_computed: faith === null ? 0 : 1,
    faithfulness_names: faithNames,
    faithfulness_values: faithNames.map((n) => (faith as Record<string, number>)[n] as number),
    warnings: [...result.warnings],
    unit_level: result.unit_level,
    stopping_rule: stoppingRuleOf(result),
  };

  // Explicit literals (no spreads): one object shape per table, which keeps this loop cheap.
  const spans: SpanRow[] = result.spans.map((sp) => {
    const kinds = kindsIn(promptRanges, sp.start, sp.end);
    let text: string | null = sp.text;
    if (mode === "none") text = null;
    else if (mode === "redacted" && kinds.length > 0) {
      text = result.prompt.text.slice(sp.start, sp.end) === sp.text ? maskRanges(sp.text, promptRanges, sp.start) : MASK_CHAR.repeat(sp.text.length);
    }
    return {
      attribution_id: id,
      tenant_id: tenant,
      model,
      day,
      event_time: eventTime,
      logged_model: ctx.logged_model,
      trace_id: ctx.trace_id,
      response_id: ctx.response_id,
      user_id: ctx.user_id,
      session_id: ctx.session_id,
      rank: sp.rank,
      text,
      char_start: sp.start,
      char_end: sp.end,
      token_start: sp.token_start,
      token_end: sp.token_end,
      segment: sp.segment,
      role: sp.role,
      message_index: sp.message_index,
      score: sp.score,
      pii: kinds,
    };
  });

  const segments: SegmentRow[] = result.segments.map((sg, ordinal) => ({
    attribution_id: id,
    tenant_id: tenant,
    model,
    day,
    event_time: eventTime,
    logged_model: ctx.logged_model,
    engine_version: result.engine_version,
    config_hash: result.config_hash,
    ordinal,
    name: sg.name,
    kind: sg.kind,
    message_index: sg.message_index,
    share: sg.share,
    tokens: sg.tokens,
  }));

  return { attribution, spans, segments };
}

/** Groups rows read back per attribution id, in the order of `ids` (ids not found are left out). */
export function assemble(ids: readonly string[], attributions: AttributionRow[], spans: SpanRow[], segments: SegmentRow[]): StoredRows[] {
  const byId = new Map<string, StoredRows>();
  for (const a of attributions) byId.set(a.attribution_id, { attribution: a, spans: [], segments: [] });
  for (const s of spans) byId.get(s.attribution_id)?.spans.push(s);
  for (const g of segments) byId.get(g.attribution_id)?.segments.push(g);
  const out: StoredRows[] = [];
  for (const id of ids) {
    const r = byId.get(id);
    if (r !== undefined) out.push(r);
  }
  return out;
}
