import { describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../../../connectors/clickhouse/sink.js";
import { classifyClickHouseError } from "../../../../connectors/clickhouse/errors.js";
import { defaultDuckDbThreads } from "../../../../connectors/duckdb/config.js";
import { DuckDbSink, classifyDuckDbError } from "../../../../connectors/duckdb/sink.js";
import { clickhouseSinkConfigSchema } from "../../../../connectors/clickhouse/config.js";
import { duckdbSinkConfigSchema } from "../../../../connectors/duckdb/config.js";
import { createStore, storeConfigSchema } from "../../../../src/app/components.js";
import { silentLogger } from "../../../../src/pipeline/logger.js";
import { noopMetrics } from "../../../../src/pipeline/contracts.js";

const createSink = (cfg: Parameters<typeof createStore>[0]) => createStore(cfg, { logger: silentLogger, metrics: noopMetrics });
import { coverageRow } from "../../../../connectors/sink-common/audit-sink.js";
import { ClickHouseError } from "@clickhouse/client";
import { ConfigError } from "../../../../src/errors.js";

describe("sink config schemas", () => {
  it("fill ClickHouse defaults", () => {
    expect(clickhouseSinkConfigSchema.parse({ type: "clickhouse" })).toEqual({
      type: "clickhouse",
      url: "http://127.0.0.1:8123",
      database: "default",
      create_database: true,
      username: "default",
      request_timeout_ms: 30_000,
      ttl_days: null,
      dedup_window: 1000,
      table_prefix: "",
      store_text: "redacted",
      max_matrix_cells: 4096,
      batch: { max_rows: 1000, max_wait_ms: 1000, concurrency: 2 },
      retry: { max_attempts: 6, initial_backoff_ms: 200, max_backoff_ms: 10_000 },
      migrate: true,
    });
  });

  it("fill DuckDB defaults (the embedded default store)", () => {
    expect(duckdbSinkConfigSchema.parse({ type: "duckdb" })).toMatchObject({ path: "./reagent-stream.duckdb", read_only: false, store_text: "redacted", migrate: true });
    expect(duckdbSinkConfigSchema.parse({ type: "duckdb", checkpoint_threshold: "256MB" }).checkpoint_threshold).toBe("256MB");
    expect(duckdbSinkConfigSchema.safeParse({ type: "duckdb", checkpoint_threshold: "lots" }).success).toBe(false);
  });

  it("leave DuckDB one core less than the machine has, never none", () => {
    expect(defaultDuckDbThreads(16)).toBe(15);
    expect(defaultDuckDbThreads(2)).toBe(1);
    expect(defaultDuckDbThreads(1)).toBe(1);
    expect(duckdbSinkConfigSchema.parse({ type: "duckdb" }).threads).toBeUndefined();
  });

  it("createStore (the registry) picks the store by type", () => {
    expect(createSink({ type: "duckdb", path: ":memory:" })).toBeInstanceOf(DuckDbSink);
    expect(createSink({ type: "clickhouse", url: "http://localhost:8123" })).toBeInstanceOf(ClickHouseSink);
    expect(storeConfigSchema.safeParse({ type: "postgres" }).success).toBe(false);
  });

  it("rejects unsafe identifiers and unknown keys with a ConfigError naming the field", () => {
    const bad = (cfg: unknown, path: string): void => {
      let err: unknown;
      try {
        createSink(cfg as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).path).toBe(path);
    };
    bad({ type: "clickhouse", database: "x; DROP DATABASE y" }, "sink.database");
    bad({ type: "duckdb", table_prefix: "a-b" }, "sink.table_prefix");
    bad({ type: "clickhouse", password: "secret" }, "sink.password");
    bad({ type: "duckdb", store_text: "some" }, "sink.store_text");
    bad({ type: "duckdb", batch: { max_rows: 0 } }, "sink.batch.max_rows");
  });
});

describe("error classification", () => {
  it("ClickHouse: transport failures and 'try again' codes are retryable, schema errors are not", () => {
    expect(classifyClickHouseError(new Error("connect ECONNREFUSED 127.0.0.1:1")).retryable).toBe(true);
    expect(classifyClickHouseError(new Error("Timeout error.")).retryable).toBe(true);
    expect(classifyClickHouseError(new ClickHouseError({ message: "too many parts", code: "252", type: "TOO_MANY_PARTS" })).retryable).toBe(true);
    expect(classifyClickHouseError(new ClickHouseError({ message: "no such column", code: "16", type: "NO_SUCH_COLUMN_IN_TABLE" })).retryable).toBe(false);
    expect(classifyClickHouseError(new ClickHouseError({ message: "syntax", code: "62", type: "SYNTAX_ERROR" })).retryable).toBe(false);
  });

  it("DuckDB: I/O and lock errors are retryable, constraint and conversion errors are not", () => {
    expect(classifyDuckDbError(new Error("IO Error: Could not write file")).retryable).toBe(true);
    expect(classifyDuckDbError(new Error('IO Error: Could not set lock on file "x.duckdb"')).retryable).toBe(true);
    expect(classifyDuckDbError(new Error("Conversion Error: Could not convert string")).retryable).toBe(false);
  });
});

describe("coverage rows", () => {
  it("validates counts and normalises the window", () => {
    const now = new Date("2024-05-01T10:00:05.123Z");
    expect(coverageRow({ source: "t", partition: 3, consumed: 10, sampled: 2, window_start: "2024-05-01T10:00:00Z" }, "s", now)).toEqual({
      source: "t",
      source_partition: "3",
      window_start: "2024-05-01T10:00:00.000Z",
      consumed: 10,
      sampled: 2,
      recorded_at: "2024-05-01T10:00:05.000Z",
    });
    expect(() => coverageRow({ source: "t", consumed: 1, sampled: 2, window_start: "2024-05-01T10:00:00Z" }, "s")).toThrow(/larger than consumed/);
    expect(() => coverageRow({ source: "", consumed: 1, sampled: 0, window_start: "2024-05-01T10:00:00Z" }, "s")).toThrow(ConfigError);
    expect(() => coverageRow({ source: "t", consumed: -1, sampled: 0, window_start: "2024-05-01T10:00:00Z" }, "s")).toThrow(ConfigError);
    expect(() => coverageRow({ source: "t", consumed: 1, sampled: 0, window_start: "soon" }, "s")).toThrow(ConfigError);
  });
});

describe("starting a store that is not there", () => {
  it("ClickHouse: an unreachable server is a retryable SinkError", async () => {
    const sink = new ClickHouseSink({ type: "clickhouse", url: "http://127.0.0.1:1", request_timeout_ms: 1000 });
    await expect(sink.start()).rejects.toMatchObject({ code: "sink_failed", sink: "clickhouse", retryable: true });
    await expect(sink.write({} as never)).rejects.toMatchObject({ code: "sink_failed", retryable: false });
  });

  it("DuckDB: a missing file opened read-only is a SinkError", async () => {
    const sink = new DuckDbSink({ type: "duckdb", path: "/nonexistent/dir/x.duckdb", read_only: true });
    await expect(sink.start()).rejects.toMatchObject({ code: "sink_failed", sink: "duckdb" });
  });
});
