/**
 * The generated DDL, per server version. The 18.16 path runs for real in the integration tests;
 * the 24.3 path (LowCardinality, ZSTD codecs, bloom-filter indexes, DateTime64, TTL, dedup
 * window) is checked here and kept as a readable snapshot next to this file.
 */
import { describe, expect, it } from "vitest";
import { FEATURE_MIN_VERSIONS, featuresFor, parseClickHouseVersion } from "../../../../connectors/clickhouse/features.js";
import { CLICKHOUSE_MIGRATIONS, columnType, createTableDdl, migrationsTableDdl } from "../../../../connectors/clickhouse/migrations.js";
import type { ClickHouseDdlContext } from "../../../../connectors/clickhouse/migrations.js";
import { DUCKDB_MIGRATIONS, migrationsTableDdl as duckMigrationsTableDdl } from "../../../../connectors/duckdb/migrations.js";
import { ATTRIBUTIONS, TABLES } from "../../../../connectors/sink-common/tables.js";

const ctx = (version: string, ttlDays: number | null = null): ClickHouseDdlContext => ({
  database: "audit",
  prefix: "reagent_",
  features: featuresFor(version),
  ttlDays,
  dedupWindow: 1000,
});

const allDdl = (c: ClickHouseDdlContext): string => [migrationsTableDdl(c), ...CLICKHOUSE_MIGRATIONS.flatMap((m) => m.statements(c))].join(";\n\n") + ";\n";

describe("ClickHouse features by version", () => {
  it("18.16 (Debian) has none of the optional features", () => {
    const f = featuresFor("18.16.1");
    expect(f).toMatchObject({ lowCardinality: false, codecs: false, skipIndexes: false, ttl: false, dateTime64: false, queryParams: false, dedupToken: false });
  });

  it("24.3 has all of them; 21.8 has all but the dedup token", () => {
    expect(Object.values(featuresFor("24.3.2.23")).filter((v) => v === true)).toHaveLength(Object.keys(FEATURE_MIN_VERSIONS).length);
    expect(featuresFor("21.8.15.7")).toMatchObject({ dateTime64: true, queryParams: true, dedupToken: false });
    expect(featuresFor("19.11.3.11")).toMatchObject({ queryParams: true, lowCardinality: false });
  });

  it("parses versions and rejects garbage", () => {
    expect(parseClickHouseVersion(" 23.8.1.1 ")).toMatchObject({ major: 23, minor: 8 });
    expect(() => parseClickHouseVersion("ClickHouse")).toThrow(RangeError);
  });
});

describe("ClickHouse DDL", () => {
  it("18.16: plain types, DateTime, no codecs, indexes, TTL or dedup window", async () => {
    const ddl = allDdl(ctx("18.16.1", 30));
    for (const absent of ["LowCardinality", "CODEC", "INDEX ", "TTL ", "DateTime64", "non_replicated_deduplication_window"]) expect(ddl).not.toContain(absent);
    expect(ddl).toContain("ENGINE = ReplacingMergeTree()");
    // One row per attribution id: the id is the key (no day), and no partition splits an id.
    expect(ddl).toContain("PARTITION BY toYYYYMM(assumeNotNull(`record_time`))");
    expect(ddl).toContain("PARTITION BY tuple()");
    expect(ddl).toContain("ORDER BY (`tenant_id`, `model`, `attribution_id`)");
    expect(ddl).toContain("ORDER BY (`tenant_id`, `model`, `attribution_id`, `rank`)");
    await expect(ddl).toMatchFileSnapshot("./__snapshots__/clickhouse-18.16.sql");
  });

  it("24.3: LowCardinality, ZSTD, bloom filters on ids, DateTime64(3), TTL, dedup window", async () => {
    const ddl = allDdl(ctx("24.3.2.23", 400));
    expect(ddl).toContain("`model` LowCardinality(String)");
    expect(ddl).toContain("`logged_model` LowCardinality(Nullable(String))");
    expect(ddl).toMatch(/`prompt_text` Nullable\(String\) COMMENT '[^']*' CODEC\(ZSTD\(3\)\)/);
    expect(ddl).toMatch(/`importance` Array\(Float32\) COMMENT '[^']*' CODEC\(ZSTD\(1\)\)/);
    expect(ddl).toContain("INDEX `idx_trace_id` `trace_id` TYPE bloom_filter(0.001) GRANULARITY 1");
    expect(ddl).toContain("INDEX `idx_response_id` `response_id` TYPE bloom_filter(0.001) GRANULARITY 1");
    expect(ddl).toContain("`event_time` DateTime64(3, 'UTC')");
    expect(ddl).toContain("TTL toDateTime(`event_time`) + INTERVAL 400 DAY");
    expect(ddl).toContain("SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1");
    expect(ddl).toContain("ENGINE = ReplacingMergeTree(`recorded_at`)");
    await expect(ddl).toMatchFileSnapshot("./__snapshots__/clickhouse-24.3.sql");
  });

  it("24.3 without ttl_days has no TTL clause", () => {
    expect(allDdl(ctx("24.3.2.23"))).not.toContain("TTL ");
  });

  it("uses the prefix and database in every table name", () => {
    const ddl = allDdl(ctx("18.16.1"));
    for (const t of TABLES) expect(ddl).toContain(`\`audit\`.\`reagent_${t.name}\``);
    expect(ddl).toContain("`audit`.`reagent_schema_migrations`");
  });

  it("never makes a sort-key column Nullable", () => {
    for (const t of TABLES) {
      for (const k of t.sortKey) {
        const col = t.columns.find((c) => c.name === k);
        expect(col, `${t.name}.${k}`).toBeDefined();
        expect(columnType(col!, featuresFor("24.3.1"))).not.toContain("Nullable");
      }
    }
  });

  it("escapes quotes in column comments", () => {
    const stmt = createTableDdl(ATTRIBUTIONS, ctx("18.16.1"));
    expect(stmt).toContain("COMMENT 'Tenant of the logged call; \\'\\' when the record had none'");
  });

  it("migration versions are unique and increasing, per store", () => {
    for (const versions of [CLICKHOUSE_MIGRATIONS.map((m) => m.version), DUCKDB_MIGRATIONS.map((m) => m.version)]) {
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
    }
  });
});

describe("DuckDB DDL", () => {
  it("has the same tables and columns; attributions keyed, spans and segments not (migration 3)", async () => {
    const c = { prefix: "" };
    const ddl = [duckMigrationsTableDdl(c), ...DUCKDB_MIGRATIONS.flatMap((m) => m.statements(c))].join(";\n\n") + ";\n";
    expect(ddl).toContain('PRIMARY KEY ("attribution_id")');
    expect(ddl).toContain('PRIMARY KEY ("attribution_id", "rank")'); // migration 1, dropped by 3
    expect(ddl).toContain('ALTER TABLE "attribution_spans__v3" RENAME TO "attribution_spans"');
    expect(ddl).toContain('ALTER TABLE "attribution_segments__v3" RENAME TO "attribution_segments"');
    expect(ddl).toContain('"matrix" FLOAT[][] NOT NULL');
    expect(ddl).toContain('"record_time" TIMESTAMP,');
    for (const t of TABLES) for (const col of t.columns) expect(ddl).toContain(`"${col.name}" `);
    await expect(ddl).toMatchFileSnapshot("./__snapshots__/duckdb.sql");
  });
});
