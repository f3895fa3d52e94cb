/**
 * What the ClickHouse and DuckDB sinks offer beyond the pipeline's `Sink`: migrations, coverage
 * counters, the audit query pack, and reading rows back (for tests and for the CLI).
 */
import type { Sink } from "../../src/pipeline/contracts.js";
import { ConfigError } from "../../src/errors.js";
import type { AuditQuery, QueryResult } from "./query-pack.js";
import type { RowOptions, StoredRows } from "./rows.js";
import { normalizeTime } from "./rows.js";
import type { CoverageRow } from "./tables.js";

/** Counts the pipeline reports per source (and partition) and window; see docs/sinks.md. */
export interface CoverageCount {
  readonly source: string;
  readonly partition?: string | number | null;
  /** Records consumed in the window so far (a running total for the window, not a delta). */
  readonly consumed: number;
  /** Records sampled for attribution in the window so far. */
  readonly sampled: number;
  /** Start of the counting window (e.g. the minute or hour). */
  readonly window_start: string | Date;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

export interface MigrationReport {
  /** The store's `type` (clickhouse, duckdb). */
  readonly store: string;
  /** The server (or library) version the DDL was generated for. */
  readonly serverVersion: string;
  readonly applied: readonly AppliedMigration[];
  /** Versions that were already applied. */
  readonly alreadyApplied: readonly number[];
}

export interface AuditSink extends Sink {
  /** The store's `type`: a new store needs no edit here. */
  readonly name: string;
  /** How rows are stored (text mode, matrix cap, timestamp precision); known after start(). */
  readonly rowOptions: RowOptions;
  /** Applies pending migrations (idempotent). start() calls it unless `migrate: false`. */
  migrate(): Promise<MigrationReport>;
  /** Records coverage counters; resolves once durable. */
  recordCoverage(count: CoverageCount): Promise<void>;
  /** Runs one audit query with bound parameters (defaults filled in). */
  runQuery(query: string | AuditQuery, params?: Readonly<Record<string, unknown>>): Promise<QueryResult>;
  /** The rows stored for these attribution ids (one per id, deduplicated), in the order asked. */
  readRows(ids: readonly string[]): Promise<StoredRows[]>;
}

/** A validated coverage row. */
export function coverageRow(c: CoverageCount, precision: RowOptions["timePrecision"], now: Date = new Date()): CoverageRow {
  const bad = (field: string, why: string): ConfigError =>
    new ConfigError({ what: "recording coverage", why: `${field}: ${why}`, path: `coverage.${field}` });
  if (typeof c.source !== "string" || c.source === "") throw bad("source", "must be a non-empty string");
  for (const k of ["consumed", "sampled"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 0) throw bad(k, "must be a whole number >= 0");
  }
  if (c.sampled > c.consumed) throw bad("sampled", `is larger than consumed (${c.sampled} > ${c.consumed})`);
  const ws = normalizeTime(c.window_start instanceof Date ? c.window_start.toISOString() : c.window_start, precision);
  if (ws === undefined) throw bad("window_start", "must be an ISO-8601 time between 1970 and 2105");
  return {
    source: c.source,
    source_partition: c.partition === undefined || c.partition === null ? "" : String(c.partition),
    window_start: ws,
    consumed: c.consumed,
    sampled: c.sampled,
    recorded_at: normalizeTime(now.toISOString(), precision) as string,
  };
}
