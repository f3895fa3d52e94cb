/**
 * `createSink(config)`: the results store a worker config names. The pipeline embeds
 * `sinkConfigSchema` (or the two store schemas) in its YAML config; `type` picks the store.
 *
 *   sinks:
 *     - type: duckdb                      # the embedded default
 *       path: ./reagent-stream.duckdb
 *     - type: clickhouse
 *       url: http://clickhouse:8123
 *       database: llm_audit
 *       password_env: CLICKHOUSE_PASSWORD
 */
import { z } from "zod";
import type { PipelineMetrics } from "../../src/pipeline/contracts.js";
import { clickhouseSinkConfigSchema } from "../clickhouse/config.js";
import { ClickHouseSink } from "../clickhouse/sink.js";
import { duckdbSinkConfigSchema } from "../duckdb/config.js";
import { DuckDbSink } from "../duckdb/sink.js";
import type { AuditSink } from "./audit-sink.js";
import { parseSinkConfig } from "./config.js";

export { clickhouseSinkConfigSchema } from "../clickhouse/config.js";
export { duckdbSinkConfigSchema, DEFAULT_DUCKDB_PATH } from "../duckdb/config.js";
export type { AuditSink, CoverageCount, MigrationReport } from "./audit-sink.js";

export const sinkConfigSchema = z.discriminatedUnion("type", [clickhouseSinkConfigSchema, duckdbSinkConfigSchema]);
export type SinkConfig = z.infer<typeof sinkConfigSchema>;
export type SinkConfigInput = z.input<typeof sinkConfigSchema>;

export interface CreateSinkOptions {
  readonly metrics?: PipelineMetrics;
  /** Called for each retried batch (normal operation logs nothing). */
  readonly onRetry?: (info: { seq: number; attempt: number; waitMs: number; error: unknown }) => void;
}

/** A ClickHouse or DuckDB sink for a validated (or raw) config; call `start()` next. */
export function createSink(config: SinkConfigInput | SinkConfig, opts: CreateSinkOptions = {}): AuditSink {
  const parsed = parseSinkConfig(sinkConfigSchema, config, "sink");
  return parsed.type === "clickhouse" ? new ClickHouseSink(parsed, opts) : new DuckDbSink(parsed, opts);
}
