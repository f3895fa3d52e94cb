/**
 * The tables both stores keep, as one logical description: column names, logical types and
 * what each column means. The ClickHouse DDL (connectors/clickhouse/migrations.ts) and the DuckDB
 * DDL (connectors/duckdb/migrations.ts) are generated from it, and the sinks use it to encode rows
 * and to decode what they read back. A compile-time check ties each table to its row type in
 * rows.ts, so a column cannot be added to one and forgotten in the other.
 */
import type { AttributionRow, SegmentRow, SpanRow } from "./rows.js";

/** Logical scalar types; each store maps them to its own (see the migrations). */
export type ScalarType = "string" | "date" | "time" | "u8" | "u16" | "u32" | "u64" | "i32" | "f32" | "f64";

export interface ColumnSpec<N extends string = string> {
  readonly name: N;
  readonly type: ScalarType;
  /** The column (or, for arrays, the column itself, never the elements) may be NULL. */
  readonly nullable?: boolean;
  /** 1: an array of `type`; 2: an array of arrays. */
  readonly array?: 1 | 2;
  /** Array elements may be NULL. */
  readonly elementNullable?: boolean;
  /** Few distinct values (model, method, …): LowCardinality where the server has it. */
  readonly lowCardinality?: boolean;
  /** Long text or large arrays: compressed with ZSTD where the server has codecs. */
  readonly heavy?: boolean;
  /** A point-lookup id: gets a bloom-filter skip index where the server has them. */
  readonly lookup?: boolean;
  readonly doc: string;
}

export interface TableSpec {
  /** Logical name; the physical name is `<table_prefix><name>`. */
  readonly name: "attributions" | "attribution_spans" | "attribution_segments" | "attribution_coverage";
  readonly columns: readonly ColumnSpec[];
  /** Columns of the sort key (ClickHouse ORDER BY) in order. */
  readonly sortKey: readonly string[];
  /** Columns that identify a row (DuckDB PRIMARY KEY; the ClickHouse dedup key is the sort key). */
  readonly identity: readonly string[];
  /** The time column (TTL, and partitions unless `partition` says otherwise; ClickHouse). */
  readonly partitionTime: string;
  /**
   * ClickHouse partitions: by month of a column (a nullable one puts NULLs in 1970-01), or none.
   * Rows with one identity must always land in one partition, since merges (and FINAL) never look
   * across partitions: so never a time that differs between deliveries (default: month of partitionTime).
   */
  readonly partition?: { readonly monthOf: string } | "none";
  /** ReplacingMergeTree version column: among rows with one key, the highest survives merges. */
  readonly versionColumn?: string;
  readonly doc: string;
}

const c = <const N extends string>(name: N, type: ScalarType, doc: string, extra: Partial<Omit<ColumnSpec, "name" | "type" | "doc">> = {}): ColumnSpec<N> => ({
  name,
  type,
  doc,
  ...extra,
});

/** Keeps the literal column names in the type, for the compile-time check at the end. */
const table = <const Cols extends readonly ColumnSpec[]>(spec: Omit<TableSpec, "columns"> & { columns: Cols }): TableSpec & { columns: Cols } => spec;

/** Context columns shared by the side tables (denormalised so audits need no joins). */
const sideContext = [
  c("attribution_id", "string", "The attribution this row belongs to", { lookup: true }),
  c("tenant_id", "string", "Tenant of the logged call; '' when the record had none", { lowCardinality: true }),
  c("model", "string", "Model that attributed (the scorer's model name)", { lowCardinality: true }),
  c("day", "date", "UTC day of event_time"),
  c("event_time", "time", "Time of the logged call (record timestamp, else created_at)"),
  c("logged_model", "string", "Model name in the logged record", { nullable: true, lowCardinality: true }),
] as const;

export const ATTRIBUTIONS = table({
  name: "attributions",
  doc: "One immutable row per attribution id.",
  // The id decides the row (it includes tenant and scorer model, so they cost nothing as a prefix);
  // `day` is not in it, since a record without a time gets another day on redelivery.
  sortKey: ["tenant_id", "model", "attribution_id"],
  identity: ["attribution_id"],
  partitionTime: "event_time",
  partition: { monthOf: "record_time" },
  columns: [
    c("attribution_id", "string", "Deterministic hash of tenant, record id and config hash; redelivery gives the same id", { lookup: true }),
    c("schema_version", "u8", "AttributionResult schema version"),
    c("tenant_id", "string", "Tenant of the logged call; '' when the record had none", { lowCardinality: true }),
    c("model", "string", "Model that attributed (the scorer's model name)", { lowCardinality: true }),
    c("day", "date", "UTC day of event_time"),
    c("event_time", "time", "Time of the logged call (record_time), else created_at"),
    c("record_time", "time", "Time of the logged call when the record had a valid one", { nullable: true }),
    c("created_at", "time", "When the attribution finished"),
    c("started_at", "time", "When the attribution started"),
    c("duration_ms", "f64", "Attribution wall time, ms"),
    c("record_id", "string", "Id of the logged record", { nullable: true, lookup: true }),
    c("trace_id", "string", "W3C trace id of the logged call", { nullable: true, lookup: true }),
    c("span_id", "string", "W3C span id of the logged call", { nullable: true }),
    c("response_id", "string", "Provider response id (gen_ai.response.id)", { nullable: true, lookup: true }),
    c("user_id", "string", "User of the logged call", { nullable: true, lookup: true }),
    c("session_id", "string", "Session or conversation id", { nullable: true, lookup: true }),
    c("provider", "string", "Provider in the logged record", { nullable: true, lowCardinality: true }),
    c("logged_model", "string", "Model name in the logged record", { nullable: true, lowCardinality: true }),
    c("model_kind", "string", "Scorer kind (onnx, http, …)", { lowCardinality: true }),
    c("scorer_id", "string", "Scorer id", { lowCardinality: true }),
    c("method", "string", "reagent | loo | random", { lowCardinality: true }),
    c("mode", "string", "ReAGent mode (joint | reference); NULL for baselines", { nullable: true, lowCardinality: true }),
    c("sampler", "string", "Replacement sampler id", { lowCardinality: true }),
    c("sampler_description", "string", "What the sampler draws", { lowCardinality: true }),
    c("config_hash", "string", "Hash of the engine settings", { lowCardinality: true }),
    c("engine_version", "string", "reagent-stream version that attributed", { lowCardinality: true }),
    c("config_json", "string", "The engine settings as JSON", { heavy: true }),
    c("text_mode", "string", "store_text the row was written with: full | redacted | none", { lowCardinality: true }),
    c("prompt_text", "string", "Rendered prompt (masked when redacted); NULL when store_text is none", { nullable: true, heavy: true }),
    c("completion_text", "string", "Completion (masked when redacted); NULL when store_text is none", { nullable: true, heavy: true }),
    c("prompt_token_count", "u32", "Prompt tokens"),
    c("completion_token_count", "u32", "Completion tokens"),
    c("prompt_token_ids", "i32", "Prompt token ids (store_text full only, else empty)", { array: 1, heavy: true }),
    c("prompt_token_text", "string", "Prompt token texts (masked when redacted; empty when none)", { array: 1, heavy: true }),
    c("prompt_token_start", "u32", "Character offset of each prompt token in the prompt (UTF-16 units)", { array: 1, heavy: true }),
    c("prompt_token_end", "u32", "End offset of each prompt token", { array: 1, heavy: true }),
    c("prompt_token_special", "u8", "1 for BOS/EOS/added special tokens", { array: 1, heavy: true }),
    c("prompt_token_protected", "u8", "1 for tokens never replaced (special, chat template)", { array: 1, heavy: true }),
    c("prompt_token_segment", "string", "Segment, role or 'prompt' of each token", { array: 1, elementNullable: true, heavy: true }),
    c("prompt_token_message", "i32", "Chat message index of each token", { array: 1, elementNullable: true, heavy: true }),
    c("message_role", "string", "Role of each chat message", { array: 1 }),
    c("message_start", "u32", "Character offset of each message's content", { array: 1 }),
    c("message_end", "u32", "End offset of each message's content", { array: 1 }),
    c("completion_token_ids", "i32", "Completion token ids (store_text full only)", { array: 1, heavy: true }),
    c("completion_token_text", "string", "Completion token texts (masked when redacted; empty when none)", { array: 1, heavy: true }),
    c("completion_token_start", "u32", "Character offset of each completion token", { array: 1, heavy: true }),
    c("completion_token_end", "u32", "End offset of each completion token", { array: 1, heavy: true }),
    c("completion_token_special", "u8", "1 for special completion tokens", { array: 1, heavy: true }),
    c("importance", "f32", "Sequence importance per prompt token; sums to 1", { array: 1, heavy: true }),
    c("target_index", "u32", "Completion index of each attributed target", { array: 1 }),
    c("target_p_original", "f64", "p(target | unperturbed context) per target", { array: 1 }),
    c("target_converged", "u8", "1 when at least one probe of the target stopped", { array: 1 }),
    c("target_steps", "u32", "Steps spent per target", { array: 1 }),
    c("matrix", "f32", "Per-target importance rows (prompt + earlier completion tokens), the first ones up to max_matrix_cells", { array: 2, heavy: true }),
    c("matrix_rows_total", "u32", "Targets attributed; more than length(matrix) when the matrix was capped"),
    c("segment_name", "string", "Segment names (rules, roles, messages, prompt)", { array: 1 }),
    c("segment_kind", "string", "rule | role | message | prompt | template", { array: 1 }),
    c("segment_message", "i32", "Message index of message segments", { array: 1, elementNullable: true }),
    c("segment_share", "f64", "Share of the sequence importance per segment", { array: 1 }),
    c("segment_tokens", "u32", "Tokens per segment", { array: 1 }),
    c("converged", "u8", "1 when every target had a converged probe"),
    c("targets_converged", "u32", "Targets with a converged probe"),
    c("targets_total", "u32", "Targets attributed"),
    c("probes_converged", "u32", "Probes that stopped"),
    c("probes_total", "u32", "Probes run"),
    c("steps_total", "u64", "Probe steps in all"),
    c("steps_max", "u32", "Most steps of one probe"),
    c("model_calls", "u64", "Scorer calls"),
    c("sequences_evaluated", "u64", "Sequences scored"),
    c("tokens_processed", "u64", "Tokens scored"),
    c("faithfulness_computed", "u8", "1 when faithfulness metrics were computed (then the arrays below hold them)"),
    c("faithfulness_names", "string", "Faithfulness metric names, sorted", { array: 1 }),
    c("faithfulness_values", "f64", "Faithfulness metric values, in the order of faithfulness_names", { array: 1 }),
    c("warnings", "string", "Engine warnings", { array: 1 }),
    // Added by migration 4 (ClickHouse) / 5 (DuckDB): appended, so tables created before them match.
    c("unit_level", "string", "What one attribution feature was: token (as published), or a sentence, paragraph, message or segment replaced as a whole", {
      lowCardinality: true,
    }),
    c("stopping_rule", "string", "ReAGent stopping rule that ran (probe, ensemble, restore); '' for other methods", { lowCardinality: true }),
  ],
});

/** Columns added to `attributions` after its first release, with the value old rows get. */
export const ATTRIBUTIONS_ADDED_COLUMNS: readonly { readonly name: string; readonly fill: string }[] = [
  { name: "unit_level", fill: "token" },
  { name: "stopping_rule", fill: "" },
];

/**
 * `attributions` without those of ATTRIBUTIONS_ADDED_COLUMNS that `keep` lacks (all of them when
 * `keep` is not given): the layout an older migration rebuilds to, before the one that adds them.
 */
export function withoutAddedColumns(spec: TableSpec, keep: ReadonlySet<string> = new Set()): TableSpec {
  const added = new Set(ATTRIBUTIONS_ADDED_COLUMNS.map((a) => a.name).filter((n) => !keep.has(n)));
  return { ...spec, columns: spec.columns.filter((c) => !added.has(c.name)) };
}

export const ATTRIBUTION_SPANS = table({
  name: "attribution_spans",
  doc: "One row per top span of an attribution (rank 1 = most important).",
  sortKey: ["tenant_id", "model", "attribution_id", "rank"],
  identity: ["attribution_id", "rank"],
  partitionTime: "event_time",
  partition: "none",
  columns: [
    ...sideContext,
    c("trace_id", "string", "W3C trace id of the logged call", { nullable: true, lookup: true }),
    c("response_id", "string", "Provider response id", { nullable: true, lookup: true }),
    c("user_id", "string", "User of the logged call", { nullable: true }),
    c("session_id", "string", "Session id", { nullable: true }),
    c("rank", "u16", "1 = the span with the highest score"),
    c("text", "string", "Span text as configured by store_text (masked when redacted); NULL when none", { nullable: true, heavy: true }),
    c("char_start", "u32", "Character range in the prompt (UTF-16 units)"),
    c("char_end", "u32", "End of the character range"),
    c("token_start", "u32", "Token range in the prompt, end exclusive"),
    c("token_end", "u32", "End of the token range"),
    c("segment", "string", "Segment of the span", { nullable: true, lowCardinality: true }),
    c("role", "string", "Chat role of the span's message", { nullable: true, lowCardinality: true }),
    c("message_index", "i32", "Chat message index", { nullable: true }),
    c("score", "f64", "Summed sequence importance of the span's tokens"),
    c("pii", "string", "Redaction kinds (email, secret, number) found in the span's original text, whatever store_text is", { array: 1 }),
  ],
});

export const ATTRIBUTION_SEGMENTS = table({
  name: "attribution_segments",
  doc: "One row per segment share of an attribution.",
  sortKey: ["tenant_id", "model", "attribution_id", "ordinal"],
  identity: ["attribution_id", "ordinal"],
  partitionTime: "event_time",
  partition: "none",
  columns: [
    ...sideContext,
    c("engine_version", "string", "reagent-stream version that attributed", { lowCardinality: true }),
    c("config_hash", "string", "Hash of the engine settings", { lowCardinality: true }),
    c("ordinal", "u16", "Position of the segment in the result"),
    c("name", "string", "Segment name: a rule (retrieved_context), a role (system, user, tool), a message (user#1), prompt", { lowCardinality: true }),
    c("kind", "string", "rule | role | message | prompt | template", { lowCardinality: true }),
    c("message_index", "i32", "Message index for message segments", { nullable: true }),
    c("share", "f64", "Share of the sequence importance (0..1)"),
    c("tokens", "u32", "Tokens in the segment"),
  ],
});

/** Counters the pipeline writes with `recordCoverage`: how much of a source was attributed. */
export const ATTRIBUTION_COVERAGE = table({
  name: "attribution_coverage",
  doc: "Consumed and sampled record counts per source, partition and window. Counts are totals for the window so far; readers take the largest per window.",
  sortKey: ["source", "source_partition", "window_start"],
  identity: ["source", "source_partition", "window_start"],
  partitionTime: "window_start",
  versionColumn: "recorded_at",
  columns: [
    c("source", "string", "Source name (a topic, a file)", { lowCardinality: true }),
    c("source_partition", "string", "Source partition; '' when the source has none"),
    c("window_start", "time", "Start of the counting window"),
    c("consumed", "u64", "Records consumed in the window so far"),
    c("sampled", "u64", "Records sampled for attribution in the window so far"),
    c("recorded_at", "time", "When the counts were recorded"),
  ],
});

export const TABLES = [ATTRIBUTIONS, ATTRIBUTION_SPANS, ATTRIBUTION_SEGMENTS, ATTRIBUTION_COVERAGE] as const;

export interface CoverageRow {
  source: string;
  source_partition: string;
  window_start: string;
  consumed: number;
  sampled: number;
  recorded_at: string;
}

export const columnNames = (t: TableSpec): string[] => t.columns.map((col) => col.name);

/** Physical table names for a prefix. */
export interface TableNames {
  readonly attributions: string;
  readonly attribution_spans: string;
  readonly attribution_segments: string;
  readonly attribution_coverage: string;
  readonly schema_migrations: string;
}

export function tableNames(prefix: string): TableNames {
  return {
    attributions: `${prefix}attributions`,
    attribution_spans: `${prefix}attribution_spans`,
    attribution_segments: `${prefix}attribution_segments`,
    attribution_coverage: `${prefix}attribution_coverage`,
    schema_migrations: `${prefix}schema_migrations`,
  };
}

/** A table prefix is spliced into DDL and queries as part of an identifier: keep it plain. */
export const TABLE_PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$|^$/;

// Compile-time: every row field is a column and every column a row field.
type Names<T extends { columns: readonly ColumnSpec[] }> = T["columns"][number]["name"];
type SameKeys<Row, Cols extends string> = [Exclude<keyof Row, Cols>, Exclude<Cols, keyof Row>] extends [never, never] ? true : false;
const _a: SameKeys<AttributionRow, Names<typeof ATTRIBUTIONS>> = true;
const _s: SameKeys<SpanRow, Names<typeof ATTRIBUTION_SPANS>> = true;
const _g: SameKeys<SegmentRow, Names<typeof ATTRIBUTION_SEGMENTS>> = true;
const _c: SameKeys<CoverageRow, Names<typeof ATTRIBUTION_COVERAGE>> = true;
void [_a, _s, _g, _c];
