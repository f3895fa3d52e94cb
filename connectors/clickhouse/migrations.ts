/**
 * ClickHouse schema: versioned migrations whose DDL is generated for the server at hand.
 *
 * Each migration is a list of idempotent statements (`CREATE … IF NOT EXISTS`), so a migration
 * interrupted half-way is simply applied again. Applied versions are recorded in
 * `<prefix>schema_migrations`. Rules for new migrations: add tables, columns and indexes; never
 * rewrite ORDER BY or PARTITION BY in place; never edit a released migration (its checksum is
 * recorded). docs/sinks.md shows the DDL for 18.16 and for 24.3.
 *
 * Every table is immutable-row `ReplacingMergeTree`: a redelivered attribution has the same
 * sort key (tenant, model, day, attribution id), so merges keep one row; queries read with
 * FINAL so a duplicate that is not merged yet is never counted twice.
 */
import { createHash } from "node:crypto";
import type { ColumnSpec, TableSpec } from "../sink-common/tables.js";
import { ATTRIBUTIONS, ATTRIBUTION_COVERAGE, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames } from "../sink-common/tables.js";
import type { ClickHouseFeatures } from "./features.js";

export interface ClickHouseDdlContext {
  readonly database: string;
  readonly prefix: string;
  readonly features: ClickHouseFeatures;
  /** Rows older than this many days are dropped by TTL (servers with TTL only); null keeps everything. */
  readonly ttlDays: number | null;
  /** Blocks remembered per table for `insert_deduplication_token` (servers with dedupToken). */
  readonly dedupWindow: number;
}

export interface ClickHouseMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: (ctx: ClickHouseDdlContext) => string[];
}

/** Quotes an identifier that has already been checked to be plain (letters, digits, _). */
export const q = (ident: string): string => `\`${ident}\``;

const SCALAR: Record<ColumnSpec["type"], string> = {
  string: "String",
  date: "Date",
  time: "DateTime('UTC')",
  u8: "UInt8",
  u16: "UInt16",
  u32: "UInt32",
  u64: "UInt64",
  i32: "Int32",
  f32: "Float32",
  f64: "Float64",
};

/** The ClickHouse type of a column on a server with `features`. */
export function columnType(col: ColumnSpec, features: ClickHouseFeatures): string {
  let t = col.type === "time" && features.dateTime64 ? "DateTime64(3, 'UTC')" : SCALAR[col.type];
  if (col.array !== undefined) {
    if (col.elementNullable === true) t = `Nullable(${t})`;
    for (let i = 0; i < col.array; i++) t = `Array(${t})`;
    return t;
  }
  if (col.nullable === true) t = `Nullable(${t})`;
  if (col.lowCardinality === true && col.type === "string" && features.lowCardinality) t = `LowCardinality(${t})`;
  return t;
}

function columnDdl(col: ColumnSpec, features: ClickHouseFeatures): string {
  const codec = col.heavy === true && features.codecs ? ` CODEC(ZSTD(${col.type === "string" ? 3 : 1}))` : "";
  // Column grammar: name type [DEFAULT …] [COMMENT '…'] [CODEC(…)] [TTL …].
  return `${q(col.name)} ${columnType(col, features)} COMMENT '${col.doc.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'${codec}`;
}

/** `CREATE TABLE IF NOT EXISTS` for one logical table. */
export function createTableDdl(spec: TableSpec, ctx: ClickHouseDdlContext): string {
  const f = ctx.features;
  const lines = spec.columns.map((col) => `    ${columnDdl(col, f)}`);
  if (f.skipIndexes) {
    for (const col of spec.columns) {
      if (col.lookup === true) lines.push(`    INDEX ${q(`idx_${col.name}`)} ${q(col.name)} TYPE bloom_filter(0.001) GRANULARITY 1`);
    }
  }
  const physical = tableNames(ctx.prefix)[spec.name];
  const partitionExpr = `toYYYYMM(${q(spec.partitionTime)})`;
  const settings = ["index_granularity = 8192"];
  if (f.dedupToken) settings.push(`non_replicated_deduplication_window = ${ctx.dedupWindow}`);
  let ttl = "";
  if (f.ttl && ctx.ttlDays !== null) {
    ttl = `\nTTL toDateTime(${q(spec.partitionTime)}) + INTERVAL ${Math.trunc(ctx.ttlDays)} DAY`;
    settings.push("ttl_only_drop_parts = 1");
  }
  const version = spec.versionColumn === undefined ? "" : q(spec.versionColumn);
  return [
    `CREATE TABLE IF NOT EXISTS ${q(ctx.database)}.${q(physical)}`,
    "(",
    lines.join(",\n"),
    ")",
    `ENGINE = ReplacingMergeTree(${version})`,
    `PARTITION BY ${partitionExpr}`,
    `ORDER BY (${spec.sortKey.map(q).join(", ")})${ttl}`,
    `SETTINGS ${settings.join(", ")}`,
  ].join("\n");
}

/** The table that records applied migrations (created before any migration runs). */
export function migrationsTableDdl(ctx: Pick<ClickHouseDdlContext, "database" | "prefix">): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${q(ctx.database)}.${q(tableNames(ctx.prefix).schema_migrations)}`,
    "(",
    "    `version` UInt32,",
    "    `name` String,",
    "    `checksum` String,",
    "    `applied_at` DateTime('UTC'),",
    "    `server_version` String,",
    "    `engine_version` String",
    ")",
    "ENGINE = ReplacingMergeTree()",
    "ORDER BY (`version`)",
  ].join("\n");
}

export const CLICKHOUSE_MIGRATIONS: readonly ClickHouseMigration[] = [
  {
    version: 1,
    name: "attributions, attribution_spans, attribution_segments",
    statements: (ctx) => [createTableDdl(ATTRIBUTIONS, ctx), createTableDdl(ATTRIBUTION_SPANS, ctx), createTableDdl(ATTRIBUTION_SEGMENTS, ctx)],
  },
  {
    version: 2,
    name: "attribution_coverage",
    statements: (ctx) => [createTableDdl(ATTRIBUTION_COVERAGE, ctx)],
  },
];

/** A checksum of a migration's statements as generated for this server (recorded, never enforced across servers). */
export function migrationChecksum(statements: readonly string[]): string {
  return createHash("sha256").update(statements.join(";\n")).digest("hex").slice(0, 16);
}
