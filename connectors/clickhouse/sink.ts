/**
 * The ClickHouse results store.
 *
 * start(): connects, reads `SELECT version()`, applies pending migrations (DDL generated for that
 * version) unless `migrate: false`. write(): maps the result to rows at once (a result that
 * cannot be stored fails right away), buffers it, and resolves when the batch holding it was
 * inserted into all three tables and the server answered. A batch is inserted table by table;
 * a retry skips the tables already confirmed and re-sends the others unchanged, with the same
 * `insert_deduplication_token` on servers that have it (22.2+). On older servers a retried insert
 * that did land twice is collapsed by ReplacingMergeTree and read once through FINAL.
 */
import { redactCredentials, redactUrl } from "../../src/redact.js";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import type { ClickHouseClient, ClickHouseSettings } from "@clickhouse/client";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { CLICKHOUSE_MIGRATIONS, migrationChecksum, migrationsTableDdl, q } from "./migrations.js";
import type { ClickHouseDdlContext } from "./migrations.js";
import type { ClickHouseFeatures } from "./features.js";
import { featuresFor } from "./features.js";
import type { AuditQuery, QueryResult, TableToken } from "../sink-common/query-pack.js";
import { expandTables, findQuery, resolveParams } from "../sink-common/query-pack.js";
import { ConfigError, SinkError, errorMessage } from "../../src/errors.js";
import type { PipelineMetrics } from "../../src/pipeline/contracts.js";
import { ENGINE_VERSION } from "../../src/version.js";
import type { AppliedMigration, AuditSink, CoverageCount, MigrationReport } from "../sink-common/audit-sink.js";
import { coverageRow } from "../sink-common/audit-sink.js";
import type { Batch } from "../sink-common/batch-writer.js";
import { BatchWriter } from "../sink-common/batch-writer.js";
import { parseSinkConfig } from "../sink-common/config.js";
import { decodeRow } from "../sink-common/decode.js";
import type { AttributionRow, RowOptions, SegmentRow, SpanRow, StoredRows } from "../sink-common/rows.js";
import { assemble, toRows } from "../sink-common/rows.js";
import { bindClickHouseLiterals, clickHouseNativeSql, clickHouseQueryParams, clickHouseString } from "../sink-common/sql-params.js";
import type { CoverageRow, TableNames, TableSpec } from "../sink-common/tables.js";
import { ATTRIBUTIONS, ATTRIBUTION_COVERAGE, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames } from "../sink-common/tables.js";
import type { ClickHouseSinkConfig, ClickHouseSinkConfigInput } from "./config.js";
import { clickhouseSinkConfigSchema } from "./config.js";
import { classifyClickHouseError } from "./errors.js";
import type { RowBinaryEncoder } from "./rowbinary.js";
import { rowBinaryEncoder } from "./rowbinary.js";

export interface ClickHouseSinkOptions {
  readonly metrics?: PipelineMetrics;
  /** Told about each retried batch (the sink itself logs nothing in normal operation). */
  readonly onRetry?: (info: { seq: number; attempt: number; waitMs: number; error: unknown }) => void;
  /** Environment to read `password_env` from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** ISO-8601 UTC to the text ClickHouse parses into DateTime / DateTime64(3). */
function chTime(iso: string, ms: boolean): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, ms ? 23 : 19)}`;
}

// FINAL reads every part of the table at once with a buffer per column and part: 1 MiB each by default
// would exceed a small server's memory limit on wide tables with a few dozen unmerged parts.
const READ_SETTINGS: ClickHouseSettings = { output_format_json_quote_64bit_integers: 0, max_read_buffer_size: "131072" };

export class ClickHouseSink implements AuditSink {
  readonly name = "clickhouse" as const;
  readonly config: ClickHouseSinkConfig;
  private readonly tables: TableNames;
  private client: ClickHouseClient | undefined;
  private feats: ClickHouseFeatures | undefined;
  private writer: BatchWriter<StoredRows> | undefined;
  private coverageWriter: BatchWriter<CoverageRow> | undefined;
  private readonly encoders = new Map<string, RowBinaryEncoder>();

  constructor(
    config: ClickHouseSinkConfigInput | ClickHouseSinkConfig,
    private readonly opts: ClickHouseSinkOptions = {},
  ) {
    this.config = parseSinkConfig(clickhouseSinkConfigSchema, config, "clickhouse");
    this.tables = tableNames(this.config.table_prefix);
  }

  /** What the server supports; known after start(). */
  get features(): ClickHouseFeatures {
    if (this.feats === undefined) throw this.notStarted();
    return this.feats;
  }

  get rowOptions(): RowOptions {
    return {
      storeText: this.config.store_text,
      maxMatrixCells: this.config.max_matrix_cells,
      timePrecision: this.features.dateTime64 ? "ms" : "s",
    };
  }

  async start(): Promise<void> {
    if (this.client !== undefined) return;
    let password: string | undefined;
    if (this.config.password_env !== undefined) {
      password = (this.opts.env ?? process.env)[this.config.password_env];
      if (password === undefined) {
        throw new ConfigError({
          what: "connecting to ClickHouse",
          why: `password_env names ${this.config.password_env}, which is not set`,
          path: "clickhouse.password_env",
        });
      }
    }
    const client = createClient({
      url: this.config.url,
      username: this.config.username,
      password: password ?? "",
      request_timeout: this.config.request_timeout_ms,
      max_open_connections: 4,
      compression: { request: false, response: false },
      // Failures reach the caller as SinkErrors; the client's own error log would repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const rs = await client.query({ query: "SELECT version() AS version", format: "JSONEachRow" });
      const [row] = await rs.json<{ version: string }>();
      this.feats = featuresFor(row?.version ?? "");
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new SinkError({
        sink: this.name,
        retryable: classifyClickHouseError(err).retryable,
        what: `connecting to ClickHouse at ${redactUrl(this.config.url)}`,
        why: redactCredentials(errorMessage(err)),
        cause: err,
      });
    }
    this.client = client;
    if (this.config.migrate) {
      try {
        await this.migrate();
      } catch (err) {
        this.client = undefined;
        await client.close().catch(() => undefined);
        throw err;
      }
    }
    const retry = this.config.retry;
    this.writer = new BatchWriter<StoredRows>({
      sink: this.name,
      maxRows: this.config.batch.max_rows,
      maxWaitMs: this.config.batch.max_wait_ms,
      concurrency: this.config.batch.concurrency,
      retry,
      keyOf: (r) => r.attribution.attribution_id,
      writeBatch: (b) => this.insertBatch(b),
      classify: classifyClickHouseError,
      what: `inserting attributions into ClickHouse ${this.config.database}`,
      ...(this.opts.metrics !== undefined ? { metrics: this.opts.metrics } : {}),
      ...(this.opts.onRetry !== undefined ? { onRetry: this.opts.onRetry } : {}),
    });
    this.coverageWriter = new BatchWriter<CoverageRow>({
      sink: this.name,
      maxRows: 100,
      maxWaitMs: 0,
      retry,
      keyOf: (r) => `${r.source}\u0000${r.source_partition}\u0000${r.window_start}`,
      writeBatch: (b) => this.insertRows(ATTRIBUTION_COVERAGE, b, b.items, () => JSON.stringify(b.items)),
      classify: classifyClickHouseError,
      what: `recording coverage in ClickHouse ${this.config.database}`,
    });
  }

  private notStarted(): SinkError {
    return new SinkError({ sink: this.name, retryable: false, what: "using the ClickHouse sink", why: "start() has not been called (or close() was)" });
  }

  private get ch(): ClickHouseClient {
    if (this.client === undefined) throw this.notStarted();
    return this.client;
  }

  private ddlContext(): ClickHouseDdlContext {
    return {
      database: this.config.database,
      prefix: this.config.table_prefix,
      features: this.features,
      ttlDays: this.config.ttl_days,
      dedupWindow: this.config.dedup_window,
    };
  }

  private qualified(table: string): string {
    return `${q(this.config.database)}.${q(table)}`;
  }

  async migrate(): Promise<MigrationReport> {
    const ctx = this.ddlContext();
    const run = async (what: string, query: string): Promise<void> => {
      try {
        await this.ch.command({ query });
      } catch (err) {
        throw new SinkError({ sink: this.name, retryable: classifyClickHouseError(err).retryable, what, why: errorMessage(err), cause: err });
      }
    };
    if (this.config.create_database) await run(`creating database ${this.config.database}`, `CREATE DATABASE IF NOT EXISTS ${q(this.config.database)}`);
    await run("creating the migrations table", migrationsTableDdl(ctx));
    const rs = await this.ch.query({
      query: `SELECT DISTINCT version FROM ${this.qualified(this.tables.schema_migrations)} FINAL`,
      format: "JSONEachRow",
      clickhouse_settings: READ_SETTINGS,
    });
    const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
    // Migrations that rebuild a table or add columns need the layout it has when they run.
    const layout = async (): Promise<Pick<ClickHouseDdlContext, "existingSortKeys" | "existingColumns">> => {
      // Literals, not query parameters: 18.16 has none. The name is a checked identifier.
      const db = this.config.database.replace(/[\\']/g, "");
      const keys = await this.ch.query({ query: `SELECT name, sorting_key FROM system.tables WHERE database = '${db}'`, format: "JSONEachRow" });
      const existingSortKeys = new Map((await keys.json<{ name: string; sorting_key: string }>()).map((r) => [r.name, r.sorting_key]));
      const cols = await this.ch.query({ query: `SELECT table, name FROM system.columns WHERE database = '${db}'`, format: "JSONEachRow" });
      const existingColumns = new Map<string, Set<string>>();
      for (const r of await cols.json<{ table: string; name: string }>()) {
        const set = existingColumns.get(r.table) ?? new Set<string>();
        set.add(r.name);
        existingColumns.set(r.table, set);
      }
      return { existingSortKeys, existingColumns };
    };
    const applied: AppliedMigration[] = [];
    const already: number[] = [];
    for (const m of CLICKHOUSE_MIGRATIONS) {
      if (done.has(m.version)) {
        already.push(m.version);
        continue;
      }
      const statements = m.statements({ ...ctx, ...(await layout()) });
      for (const [i, s] of statements.entries()) await run(`applying migration ${m.version} (${m.name}), statement ${i + 1}`, s);
      const checksum = migrationChecksum(statements);
      await this.ch.insert({
        table: this.qualified(this.tables.schema_migrations),
        format: "JSONEachRow",
        values: [
          {
            version: m.version,
            name: m.name,
            checksum,
            applied_at: chTime(new Date().toISOString(), false),
            server_version: this.features.version.text,
            engine_version: ENGINE_VERSION,
          },
        ],
      });
      applied.push({ version: m.version, name: m.name, checksum });
    }
    return { store: this.name, serverVersion: this.features.version.text, applied, alreadyApplied: already };
  }

  async write(result: AttributionResult): Promise<void> {
    if (this.writer === undefined) throw this.notStarted();
    let rows: StoredRows;
    try {
      rows = toRows(result, this.rowOptions);
    } catch (err) {
      if (err instanceof SinkError) throw new SinkError({ sink: this.name, retryable: false, what: err.what, why: err.why, cause: err, details: err.details });
      throw err;
    }
    return this.writer.write(rows);
  }

  /**
   * `insert_deduplication_token` for servers that have it: the same for every attempt of a block
   * (same table, same content identity), different for any other block. Attribution rows are
   * identified by their ids (an id always means the same attribution); coverage rows by their
   * values, since a window's counts grow.
   */
  private dedupSettings(table: string, identity: () => string): ClickHouseSettings {
    if (!this.features.dedupToken) return {};
    const token = createHash("sha256").update(`${table}\n${identity()}`).digest("hex");
    return { insert_deduplicate: 1, insert_deduplication_token: token };
  }

  private encoder(spec: TableSpec): RowBinaryEncoder {
    let enc = this.encoders.get(spec.name);
    if (enc === undefined) {
      enc = rowBinaryEncoder(spec, this.features.dateTime64);
      this.encoders.set(spec.name, enc);
    }
    return enc;
  }

  /**
   * Inserts one table's rows of a batch (RowBinary, see rowbinary.ts) unless a previous attempt
   * already did. Resolves once the server answered the INSERT: with wait_end_of_query the answer
   * comes only after the data is written.
   */
  private async insertRows(spec: TableSpec, batch: Batch<unknown>, rows: readonly object[], identity: () => string): Promise<void> {
    if (batch.done.has(spec.name) || rows.length === 0) return;
    const table = this.tables[spec.name];
    const enc = this.encoder(spec);
    const body = enc.encode(rows);
    const res = await this.ch.exec({
      query: `INSERT INTO ${this.qualified(table)} ${enc.columnList} FORMAT RowBinary`,
      values: Readable.from([body]),
      clickhouse_settings: { ...this.dedupSettings(table, identity), wait_end_of_query: 1 },
    });
    // The answer to an INSERT is empty; read it to the end so the socket is released.
    for await (const chunk of res.stream) void chunk;
    batch.done.add(spec.name);
  }

  private async insertBatch(batch: Batch<StoredRows>): Promise<void> {
    const ids = (): string => batch.items.map((r) => r.attribution.attribution_id).join("\n");
    await this.insertRows(ATTRIBUTIONS, batch, batch.items.map((r) => r.attribution), ids);
    await this.insertRows(ATTRIBUTION_SPANS, batch, batch.items.flatMap((r) => r.spans), ids);
    await this.insertRows(ATTRIBUTION_SEGMENTS, batch, batch.items.flatMap((r) => r.segments), ids);
  }

  async flush(): Promise<void> {
    await this.writer?.flush();
    await this.coverageWriter?.flush();
  }

  async close(): Promise<void> {
    try {
      await this.writer?.close();
      await this.coverageWriter?.close();
    } finally {
      this.writer = undefined;
      this.coverageWriter = undefined;
      const c = this.client;
      this.client = undefined;
      await c?.close();
    }
  }

  async recordCoverage(count: CoverageCount): Promise<void> {
    if (this.coverageWriter === undefined) throw this.notStarted();
    return this.coverageWriter.write(coverageRow(count, this.rowOptions.timePrecision));
  }

  /** Physical table expressions for the query pack: FINAL, so unmerged duplicates are read once. */
  private tableExpressions(): Record<TableToken, string> {
    return {
      attributions: `${this.qualified(this.tables.attributions)} FINAL`,
      attribution_spans: `${this.qualified(this.tables.attribution_spans)} FINAL`,
      attribution_segments: `${this.qualified(this.tables.attribution_segments)} FINAL`,
      attribution_coverage: `${this.qualified(this.tables.attribution_coverage)} FINAL`,
    };
  }

  /** The SQL text and bound parameters a query would run with (for `query --explain` and tests). */
  prepareQuery(query: string | AuditQuery, params: Readonly<Record<string, unknown>> = {}): { sql: string; query_params: Record<string, unknown> } {
    const qd = typeof query === "string" ? findQuery(query) : query;
    const values = resolveParams(qd, params);
    const sql = expandTables(qd.sql.clickhouse, this.tableExpressions());
    if (this.features.queryParams) {
      return { sql: clickHouseNativeSql(sql), query_params: clickHouseQueryParams(sql, qd.params, values) };
    }
    return { sql: bindClickHouseLiterals(sql, qd.params, values), query_params: {} };
  }

  async runQuery(query: string | AuditQuery, params: Readonly<Record<string, unknown>> = {}): Promise<QueryResult> {
    const qd = typeof query === "string" ? findQuery(query) : query;
    const prepared = this.prepareQuery(qd, params);
    try {
      const rs = await this.ch.query({
        query: prepared.sql,
        format: "JSON",
        clickhouse_settings: READ_SETTINGS,
        ...(Object.keys(prepared.query_params).length > 0 ? { query_params: prepared.query_params } : {}),
      });
      const body = await rs.json<Record<string, unknown>>();
      return { columns: (body.meta ?? []).map((m) => m.name), rows: body.data };
    } catch (err) {
      throw new SinkError({ sink: this.name, retryable: classifyClickHouseError(err).retryable, what: `running audit query ${qd.name}`, why: errorMessage(err), cause: err });
    }
  }

  private async selectByIds(table: string, ids: readonly string[], order: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    // Chunks keep the query under max_query_size (256 KiB by default).
    for (let i = 0; i < ids.length; i += 500) {
      const list = ids.slice(i, i + 500).map(clickHouseString).join(", ");
      const rs = await this.ch.query({
        query: `SELECT * FROM ${this.qualified(table)} FINAL WHERE attribution_id IN (${list}) ORDER BY ${order}`,
        format: "JSONEachRow",
        clickhouse_settings: READ_SETTINGS,
      });
      out.push(...(await rs.json<Record<string, unknown>>()));
    }
    return out;
  }

  async readRows(ids: readonly string[]): Promise<StoredRows[]> {
    const [a, s, g] = await Promise.all([
      this.selectByIds(this.tables.attributions, ids, "attribution_id"),
      this.selectByIds(this.tables.attribution_spans, ids, "attribution_id, rank"),
      this.selectByIds(this.tables.attribution_segments, ids, "attribution_id, ordinal"),
    ]);
    return assemble(ids, a.map((r) => decodeRow<AttributionRow>(ATTRIBUTIONS, r)), s.map((r) => decodeRow<SpanRow>(ATTRIBUTION_SPANS, r)), g.map((r) => decodeRow<SegmentRow>(ATTRIBUTION_SEGMENTS, r)));
  }

  /** Rows of a table without FINAL: how many physical rows exist (tests check duplicates with it). */
  async countPhysical(table: keyof TableNames, where = "1"): Promise<number> {
    const rs = await this.ch.query({ query: `SELECT count() AS n FROM ${this.qualified(this.tables[table])} WHERE ${where}`, format: "JSONEachRow", clickhouse_settings: READ_SETTINGS });
    const [row] = await rs.json<{ n: number }>();
    return Number(row?.n ?? 0);
  }
}
