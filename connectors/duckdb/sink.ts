/**
 * The DuckDB results store: the embedded default, one local file (`./reagent-stream.duckdb`).
 *
 * A batch is written in one transaction: rows go through an appender into per-connection
 * temporary staging tables; `INSERT OR IGNORE … RETURNING` moves the attribution rows into
 * `attributions`, whose PRIMARY KEY (attribution_id) drops redelivered ones, and the spans and
 * segments of exactly the ids it returned follow (those tables carry no key of their own: the
 * index cost is saved, uniqueness comes from this order). write() resolves after COMMIT
 * returned, i.e. after DuckDB wrote the transaction to its write-ahead log. Queries and reads
 * use a second connection, so they never see a batch half-written.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { DuckDBInstance, DuckDBTypeId } from "@duckdb/node-api";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { setImmediate as yieldNow } from "node:timers/promises";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { DUCKDB_MIGRATIONS, dq, duckColumnType, migrationChecksum, migrationsTableDdl } from "./migrations.js";
import type { AuditQuery, QueryResult, TableToken } from "../sink-common/query-pack.js";
import { expandTables, findQuery, resolveParams } from "../sink-common/query-pack.js";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { PipelineMetrics } from "../../src/pipeline/contracts.js";
import { ENGINE_VERSION } from "../../src/version.js";
import type { AppliedMigration, AuditSink, CoverageCount, MigrationReport } from "../sink-common/audit-sink.js";
import { coverageRow } from "../sink-common/audit-sink.js";
import type { Batch, ErrorClass } from "../sink-common/batch-writer.js";
import { BatchWriter } from "../sink-common/batch-writer.js";
import { parseSinkConfig } from "../sink-common/config.js";
import { decodeRow } from "../sink-common/decode.js";
import type { AttributionRow, RowOptions, SegmentRow, SpanRow, StoredRows } from "../sink-common/rows.js";
import { assemble, toRows } from "../sink-common/rows.js";
import { toDuckDbStatement } from "../sink-common/sql-params.js";
import type { CoverageRow, TableNames, TableSpec } from "../sink-common/tables.js";
import { ATTRIBUTIONS, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames } from "../sink-common/tables.js";
import type { DuckDbSinkConfig, DuckDbSinkConfigInput } from "./config.js";
import { defaultDuckDbThreads, duckdbSinkConfigSchema } from "./config.js";

export interface DuckDbSinkOptions {
  readonly metrics?: PipelineMetrics;
  readonly onRetry?: (info: { seq: number; attempt: number; waitMs: number; error: unknown }) => void;
}

/** DuckDB errors are plain Errors whose message starts with the error class. */
export function classifyDuckDbError(err: unknown): ErrorClass {
  const msg = errorMessage(err);
  return { retryable: /^(IO Error|Interrupt Error|TransactionContext Error)|Could not set lock|database is locked|Conflict on/i.test(msg) };
}

/**
 * Rows are staged as one JSON text per row and unpacked by DuckDB with `json_transform` into a
 * struct of the table's column types (one parse per row, vectorised, in C++): appending ~75
 * typed values per row through the appender (list values built element by element in JS) took
 * about twice as long (measured: 5.7 s against 3.0 s for 4,000 results).
 */
function jsonStructType(spec: TableSpec): string {
  return JSON.stringify(Object.fromEntries(spec.columns.map((col) => [col.name, duckColumnType(col)])));
}

interface TablePlan {
  readonly spec: TableSpec;
  readonly physical: string;
  readonly stage: string;
  /** INSERT [OR IGNORE] INTO physical <this> */
  readonly select: string;
}

interface EncodedResult {
  readonly id: string;
  readonly attribution: string;
  readonly spans: readonly string[];
  readonly segments: readonly string[];
}

/**
 * Rows encoded between yields to the event loop (about 5 ms of work): the batch DuckDB inserts
 * meanwhile needs the event loop between its statements, and encoding a whole batch in one go
 * stalled it (bench/sink: +12% rows/s with slices).
 */
const ENCODE_SLICE = 128;

/** Runs tasks one after another; a failed task does not stop the ones queued behind it. */
class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Settles once every task queued so far has. */
  idle(): Promise<void> {
    return this.tail;
  }
}

const BIG_TYPES: ReadonlySet<DuckDBTypeId> = new Set([DuckDBTypeId.BIGINT, DuckDBTypeId.UBIGINT, DuckDBTypeId.HUGEINT, DuckDBTypeId.UHUGEINT, DuckDBTypeId.DECIMAL]);

export class DuckDbSink implements AuditSink {
  readonly name = "duckdb" as const;
  readonly config: DuckDbSinkConfig;
  private readonly tables: TableNames;
  private instance: DuckDBInstance | undefined;
  private writeConn: DuckDBConnection | undefined;
  private readConn: DuckDBConnection | undefined;
  private writer: BatchWriter<StoredRows> | undefined;
  private coverageWriter: BatchWriter<CoverageRow> | undefined;
  private plans: Record<"attributions" | "attribution_spans" | "attribution_segments", TablePlan> | undefined;
  /** Serialises transactions on the write connection (attribution and coverage batches). */
  private readonly lock = new SerialQueue();
  private readonly encoding = new SerialQueue();
  private version = "";

  constructor(
    config: DuckDbSinkConfigInput | DuckDbSinkConfig,
    private readonly opts: DuckDbSinkOptions = {},
  ) {
    this.config = parseSinkConfig(duckdbSinkConfigSchema, config, "duckdb");
    this.tables = tableNames(this.config.table_prefix);
  }

  get rowOptions(): RowOptions {
    return { storeText: this.config.store_text, maxMatrixCells: this.config.max_matrix_cells, timePrecision: "ms" };
  }

  private fail(what: string, err: unknown): SinkError {
    return new SinkError({ sink: this.name, retryable: classifyDuckDbError(err).retryable, what, why: errorMessage(err), cause: err });
  }

  async start(): Promise<void> {
    if (this.instance !== undefined) return;
    const options: Record<string, string> = {};
    if (this.config.read_only) options.access_mode = "READ_ONLY";
    options.threads = String(this.config.threads ?? defaultDuckDbThreads());
    if (this.config.memory_limit !== undefined) options.memory_limit = this.config.memory_limit;
    options.checkpoint_threshold = this.config.checkpoint_threshold;
    try {
      // A new store's directory is created, like the JSONL sink's (read-only opens need the file).
      if (!this.config.read_only && this.config.path !== ":memory:") mkdirSync(dirname(this.config.path), { recursive: true });
      this.instance = await DuckDBInstance.create(this.config.path, options);
      this.writeConn = await this.instance.connect();
      this.readConn = await this.instance.connect();
      const v = await this.readConn.runAndReadAll("SELECT version() AS v");
      const version = v.getRowObjectsJson()[0]?.v;
      this.version = typeof version === "string" ? version : "unknown";
    } catch (err) {
      this.closeHandles();
      throw this.fail(`opening DuckDB file ${this.config.path}`, err);
    }
    if (this.config.migrate && !this.config.read_only) {
      try {
        await this.migrate();
      } catch (err) {
        this.closeHandles();
        throw err;
      }
    }
    if (this.config.read_only) return;
    await this.prepareStaging();
    const retry = this.config.retry;
    this.writer = new BatchWriter<StoredRows>({
      sink: this.name,
      maxRows: this.config.batch.max_rows,
      maxWaitMs: this.config.batch.max_wait_ms,
      concurrency: this.config.batch.concurrency,
      retry,
      keyOf: (r) => r.attribution.attribution_id,
      // Encoding runs outside the lock, batch after batch, so the next batch is encoded while
      // DuckDB inserts the one before (and the first is ready without waiting for the second).
      writeBatch: async (b) => {
        const staged = await this.inOrder(() => this.encodeBatch(b));
        return this.exclusive(() => this.insertBatch(staged));
      },
      classify: classifyDuckDbError,
      what: `inserting attributions into DuckDB ${this.config.path}`,
      ...(this.opts.metrics !== undefined ? { metrics: this.opts.metrics } : {}),
      ...(this.opts.onRetry !== undefined ? { onRetry: this.opts.onRetry } : {}),
    });
    this.coverageWriter = new BatchWriter<CoverageRow>({
      sink: this.name,
      maxRows: 100,
      maxWaitMs: 0,
      retry,
      keyOf: (r) => `${r.source}\u0000${r.source_partition}\u0000${r.window_start}`,
      writeBatch: (b) => this.exclusive(() => this.upsertCoverage(b)),
      classify: classifyDuckDbError,
      what: `recording coverage in DuckDB ${this.config.path}`,
    });
  }

  private notStarted(): SinkError {
    return new SinkError({ sink: this.name, retryable: false, what: "using the DuckDB sink", why: "start() has not been called (or close() was), or the store is read-only" });
  }

  private get wc(): DuckDBConnection {
    if (this.writeConn === undefined) throw this.notStarted();
    return this.writeConn;
  }

  private get rc(): DuckDBConnection {
    if (this.readConn === undefined) throw this.notStarted();
    return this.readConn;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** Batches encode one after another, so the first is ready to insert while the next encodes. */
  private inOrder<T>(fn: () => Promise<T>): Promise<T> {
    return this.encoding.run(fn);
  }

  async migrate(): Promise<MigrationReport> {
    return this.exclusive(async () => {
      const ctx = { prefix: this.config.table_prefix };
      const c = this.wc;
      try {
        await c.run(migrationsTableDdl(ctx));
      } catch (err) {
        throw this.fail("creating the migrations table", err);
      }
      const rs = await c.runAndReadAll(`SELECT version FROM ${dq(this.tables.schema_migrations)}`);
      const done = new Set(rs.getRowObjectsJson().map((r) => Number(r.version)));
      const applied: AppliedMigration[] = [];
      const already: number[] = [];
      for (const m of DUCKDB_MIGRATIONS) {
        if (done.has(m.version)) {
          already.push(m.version);
          continue;
        }
        const statements = m.statements(ctx);
        const checksum = migrationChecksum(statements);
        try {
          await c.run("BEGIN TRANSACTION");
          for (const s of statements) await c.run(s);
          await c.run(`INSERT INTO ${dq(this.tables.schema_migrations)} VALUES ($version, $name, $checksum, now()::TIMESTAMP, $server, $engine)`, {
            version: m.version,
            name: m.name,
            checksum,
            server: this.version,
            engine: ENGINE_VERSION,
          });
          await c.run("COMMIT");
        } catch (err) {
          await c.run("ROLLBACK").catch(() => undefined);
          throw this.fail(`applying migration ${m.version} (${m.name})`, err);
        }
        applied.push({ version: m.version, name: m.name, checksum });
      }
      return { store: this.name, serverVersion: this.version, applied, alreadyApplied: already };
    });
  }

  private async prepareStaging(): Promise<void> {
    const plan = (spec: TableSpec): TablePlan => {
      const stage = `_stage_${this.config.table_prefix}${spec.name}`;
      const struct = jsonStructType(spec).replace(/'/g, "''");
      return { spec, physical: this.tables[spec.name], stage, select: `SELECT r.* FROM (SELECT json_transform(j, '${struct}') AS r FROM ${dq(stage)})` };
    };
    this.plans = { attributions: plan(ATTRIBUTIONS), attribution_spans: plan(ATTRIBUTION_SPANS), attribution_segments: plan(ATTRIBUTION_SEGMENTS) };
    try {
      for (const p of Object.values(this.plans)) {
        await this.wc.run(`CREATE OR REPLACE TEMP TABLE ${dq(p.stage)} (j VARCHAR)`);
      }
    } catch (err) {
      throw this.fail("creating the staging tables", err);
    }
  }

  /** One JSON text per row (no database work: runs outside the write lock). */
  private async encodeBatch(batch: Batch<StoredRows>): Promise<EncodedResult[]> {
    const out: EncodedResult[] = [];
    for (const r of batch.items) {
      out.push({
        id: r.attribution.attribution_id,
        attribution: JSON.stringify(r.attribution),
        spans: r.spans.map((s) => JSON.stringify(s)),
        segments: r.segments.map((s) => JSON.stringify(s)),
      });
      if (out.length % ENCODE_SLICE === 0) await yieldNow();
    }
    return out;
  }

  private async stage(plan: TablePlan, rows: readonly string[]): Promise<void> {
    const c = this.wc;
    await c.run(`DELETE FROM ${dq(plan.stage)}`);
    const ap = await c.createAppender(plan.stage, "main", "temp");
    try {
      for (const row of rows) {
        ap.appendVarchar(row);
        ap.endRow();
      }
      ap.flushSync();
    } finally {
      ap.closeSync();
    }
  }

  /** One transaction: every table of the batch, or none. */
  private async insertBatch(encoded: readonly EncodedResult[]): Promise<void> {
    const plans = this.plans;
    if (plans === undefined) throw this.notStarted();
    const c = this.wc;
    await c.run("BEGIN TRANSACTION");
    try {
      await this.stage(plans.attributions, encoded.map((e) => e.attribution));
      const inserted = await c.runAndReadAll(`INSERT OR IGNORE INTO ${dq(plans.attributions.physical)} ${plans.attributions.select} RETURNING attribution_id`);
      const fresh = new Set(inserted.getRowObjectsJson().flatMap((r) => (typeof r.attribution_id === "string" ? [r.attribution_id] : [])));
      // Redelivered ids already have their spans and segments: only new ids bring theirs.
      const news = encoded.filter((e) => fresh.has(e.id));
      for (const [plan, rows] of [
        [plans.attribution_spans, news.flatMap((e) => e.spans)],
        [plans.attribution_segments, news.flatMap((e) => e.segments)],
      ] as const) {
        if (rows.length === 0) continue;
        await this.stage(plan, rows);
        await c.run(`INSERT INTO ${dq(plan.physical)} ${plan.select}`);
      }
      for (const p of Object.values(plans)) await c.run(`DELETE FROM ${dq(p.stage)}`);
      await c.run("COMMIT");
    } catch (err) {
      await c.run("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  private async upsertCoverage(batch: Batch<CoverageRow>): Promise<void> {
    const c = this.wc;
    const t = dq(this.tables.attribution_coverage);
    await c.run("BEGIN TRANSACTION");
    try {
      for (const r of batch.items) {
        await c.run(
          `INSERT INTO ${t} VALUES ($source, $part, CAST($ws AS TIMESTAMP), $consumed, $sampled, CAST($at AS TIMESTAMP))
           ON CONFLICT (source, source_partition, window_start) DO UPDATE SET
             consumed = greatest(consumed, excluded.consumed),
             sampled = greatest(sampled, excluded.sampled),
             recorded_at = excluded.recorded_at`,
          {
            source: r.source,
            part: r.source_partition,
            ws: r.window_start.replace("T", " ").replace("Z", ""),
            consumed: r.consumed,
            sampled: r.sampled,
            at: r.recorded_at.replace("T", " ").replace("Z", ""),
          },
        );
      }
      await c.run("COMMIT");
    } catch (err) {
      await c.run("ROLLBACK").catch(() => undefined);
      throw err;
    }
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

  async recordCoverage(count: CoverageCount): Promise<void> {
    if (this.coverageWriter === undefined) throw this.notStarted();
    return this.coverageWriter.write(coverageRow(count, "ms"));
  }

  async flush(): Promise<void> {
    await this.writer?.flush();
    await this.coverageWriter?.flush();
  }

  async close(): Promise<void> {
    try {
      await this.writer?.close();
      await this.coverageWriter?.close();
      await this.lock.idle();
    } finally {
      this.writer = undefined;
      this.coverageWriter = undefined;
      this.closeHandles();
    }
  }

  private closeHandles(): void {
    this.readConn?.closeSync();
    this.writeConn?.closeSync();
    this.instance?.closeSync();
    this.readConn = undefined;
    this.writeConn = undefined;
    this.instance = undefined;
  }

  private tableExpressions(): Record<TableToken, string> {
    return {
      attributions: dq(this.tables.attributions),
      attribution_spans: dq(this.tables.attribution_spans),
      attribution_segments: dq(this.tables.attribution_segments),
      attribution_coverage: dq(this.tables.attribution_coverage),
    };
  }

  /** The SQL text and bound values a query would run with. */
  prepareQuery(query: string | AuditQuery, params: Readonly<Record<string, unknown>> = {}): { sql: string; values: Record<string, string | number> } {
    const qd = typeof query === "string" ? findQuery(query) : query;
    const values = resolveParams(qd, params);
    return toDuckDbStatement(expandTables(qd.sql.duckdb, this.tableExpressions()), qd.params, values);
  }

  async runQuery(query: string | AuditQuery, params: Readonly<Record<string, unknown>> = {}): Promise<QueryResult> {
    const qd = typeof query === "string" ? findQuery(query) : query;
    const st = this.prepareQuery(qd, params);
    try {
      const reader = await this.rc.runAndReadAll(st.sql, st.values);
      const columns = reader.columnNames();
      const big = new Set(reader.columnTypes().flatMap((t, i) => (BIG_TYPES.has(t.typeId) ? [columns[i] as string] : [])));
      const rows = reader.getRowObjectsJson().map((r) => {
        const out: Record<string, unknown> = { ...r };
        for (const k of big) if (out[k] !== null && out[k] !== undefined) out[k] = Number(out[k]);
        return out;
      });
      return { columns, rows };
    } catch (err) {
      throw this.fail(`running audit query ${qd.name}`, err);
    }
  }

  private async selectByIds(table: string, ids: readonly string[], order: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const reader = await this.rc.runAndReadAll(`SELECT * FROM ${dq(table)} WHERE attribution_id IN (${chunk.map(() => "?").join(", ")}) ORDER BY ${order}`, chunk);
      out.push(...reader.getRowObjectsJson());
    }
    return out;
  }

  async readRows(ids: readonly string[]): Promise<StoredRows[]> {
    const a = await this.selectByIds(this.tables.attributions, ids, "attribution_id");
    const s = await this.selectByIds(this.tables.attribution_spans, ids, "attribution_id, rank");
    const g = await this.selectByIds(this.tables.attribution_segments, ids, "attribution_id, ordinal");
    return assemble(ids, a.map((r) => decodeRow<AttributionRow>(ATTRIBUTIONS, r)), s.map((r) => decodeRow<SpanRow>(ATTRIBUTION_SPANS, r)), g.map((r) => decodeRow<SegmentRow>(ATTRIBUTION_SEGMENTS, r)));
  }

  /** Rows of a table (tests check duplicates with it). */
  async countPhysical(table: keyof TableNames, where = "1 = 1"): Promise<number> {
    const r = await this.rc.runAndReadAll(`SELECT count(*) AS n FROM ${dq(this.tables[table])} WHERE ${where}`);
    return Number(r.getRowObjectsJson()[0]?.n ?? 0);
  }
}
