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
 * sort key (tenant, model, attribution id; the id includes tenant and model) and lands in the
 * same partition (attributions by month of the record's own time, undated ones in 1970-01; side
 * tables unpartitioned), so merges keep one row; queries read with FINAL so a duplicate that is
 * not merged yet is never counted twice.
 */
import { createHash } from "node:crypto";
import type { ColumnSpec, TableSpec } from "../sink-common/tables.js";
import { ATTRIBUTIONS, ATTRIBUTIONS_ADDED_COLUMNS, ATTRIBUTION_COVERAGE, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames, withoutAddedColumns } from "../sink-common/tables.js";
import type { ClickHouseFeatures } from "./features.js";

export interface ClickHouseDdlContext {
  readonly database: string;
  readonly prefix: string;
  readonly features: ClickHouseFeatures;
  /** Rows older than this many days are dropped by TTL (servers with TTL only); null keeps everything. */
  readonly ttlDays: number | null;
  /** Blocks remembered per table for `insert_deduplication_token` (servers with dedupToken). */
  readonly dedupWindow: number;
  /** Sort keys of the tables that exist now (physical name -> system.tables.sorting_key), read before migrating. */
  readonly existingSortKeys?: ReadonlyMap<string, string>;
  /** Columns of the tables that exist now (physical name -> column names), read before each migration; absent: not read. */
  readonly existingColumns?: ReadonlyMap<string, ReadonlySet<string>>;
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

/** The PARTITION BY expression of a table. */
export function partitionExpression(spec: TableSpec): string {
  const p = spec.partition ?? { monthOf: spec.partitionTime };
  if (p === "none") return "tuple()";
  const col = spec.columns.find((c) => c.name === p.monthOf);
  return `toYYYYMM(${col?.nullable === true ? `assumeNotNull(${q(p.monthOf)})` : q(p.monthOf)})`;
}

/** `CREATE TABLE IF NOT EXISTS` for one logical table (under another physical name with `opts.name`). */
export function createTableDdl(spec: TableSpec, ctx: ClickHouseDdlContext, opts: { name?: string } = {}): string {
  const f = ctx.features;
  const lines = spec.columns.map((col) => `    ${columnDdl(col, f)}`);
  if (f.skipIndexes) {
    for (const col of spec.columns) {
      if (col.lookup === true) lines.push(`    INDEX ${q(`idx_${col.name}`)} ${q(col.name)} TYPE bloom_filter(0.001) GRANULARITY 1`);
    }
  }
  const physical = opts.name ?? tableNames(ctx.prefix)[spec.name];
  const partitionExpr = partitionExpression(spec);
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
  {
    version: 3,
    name: "one row per attribution_id: tenant in the id, sort key without day, partitions that never split an id",
    statements: (ctx) => [...rebuildForIdDedup(ATTRIBUTION_SPANS, ctx), ...rebuildForIdDedup(ATTRIBUTION_SEGMENTS, ctx), ...rebuildForIdDedup(ATTRIBUTIONS, ctx)],
  },
  {
    version: 4,
    name: "attributions.unit_level and attributions.stopping_rule",
    statements: (ctx) => addColumns(ATTRIBUTIONS, ATTRIBUTIONS_ADDED_COLUMNS, ctx),
  },
];

/**
 * The attribution id of a stored row under the current rule (src/attribution/engine.ts): rows
 * with a tenant get hash(tenant, record id, config hash); rows without keep theirs.
 */
const NEW_ID = "if(tenant_id = '' OR isNull(record_id), attribution_id, lower(substring(hex(SHA256(concat(tenant_id, '\\0', assumeNotNull(record_id), '\\0', config_hash))), 1, 32)))";

/**
 * Migration 3 for a table created with the old layout (sort key with `day`, ids without the
 * tenant): a copy with the new layout and rewritten ids is filled from the old table (FINAL: one
 * row per old key), then swapped in; the old table stays as `<name>__pre_v3` (drop it once the new
 * one is checked). Side tables are rebuilt before `attributions`, whose old rows map old ids to
 * new. Nothing to do for a table that already has the new layout or does not exist yet
 * (migration 1 then creates it new). Interrupted, it is simply run again: the copy is a
 * ReplacingMergeTree on the id, so rows copied twice count once.
 */
function rebuildForIdDedup(table: TableSpec, ctx: ClickHouseDdlContext): string[] {
  const name = tableNames(ctx.prefix)[table.name];
  // Columns added by later migrations are copied only when the old table has them (else the later migration adds them).
  const have = ctx.existingColumns?.get(name);
  const spec = table.name === "attributions" && have !== undefined ? withoutAddedColumns(table, have) : table;
  const current = ctx.existingSortKeys?.get(name);
  if (current === undefined || current.replace(/[`\s]/g, "") === spec.sortKey.join(",")) return [];
  const db = q(ctx.database);
  const copy = `${name}__v3`;
  const cols = spec.columns.map((c) => (c.name === "attribution_id" ? (spec.name === "attributions" ? NEW_ID : "if(new_id = '', attribution_id, new_id)") : q(c.name)));
  const attributions = `${db}.${q(tableNames(ctx.prefix).attributions)}`;
  const from =
    spec.name === "attributions"
      ? `${db}.${q(name)} FINAL`
      : `${db}.${q(name)} FINAL ANY LEFT JOIN (SELECT attribution_id, tenant_id, ${NEW_ID} AS new_id FROM ${attributions} FINAL) USING (attribution_id, tenant_id)`;
  return [
    createTableDdl(spec, ctx, { name: copy }),
    `INSERT INTO ${db}.${q(copy)} SELECT ${cols.join(", ")} FROM ${from}`,
    `RENAME TABLE ${db}.${q(name)} TO ${db}.${q(`${name}__pre_v3`)}, ${db}.${q(copy)} TO ${db}.${q(name)}`,
  ];
}

/**
 * `ALTER TABLE … ADD COLUMN` for the columns a table created before them lacks (18.16 has no
 * `ADD COLUMN IF NOT EXISTS`, so what exists is read first). A table created by migration 1 in
 * this run has every column already: nothing to add.
 */
function addColumns(spec: TableSpec, added: readonly { name: string; fill: string }[], ctx: ClickHouseDdlContext): string[] {
  const name = tableNames(ctx.prefix)[spec.name];
  const have = ctx.existingColumns?.get(name);
  if (have === undefined) return [];
  return added
    .filter((a) => !have.has(a.name))
    .map((a) => {
      const col = spec.columns.find((c) => c.name === a.name) as ColumnSpec;
      return `ALTER TABLE ${q(ctx.database)}.${q(name)} ADD COLUMN ${q(col.name)} ${columnType(col, ctx.features)} DEFAULT '${a.fill.replace(/'/g, "\\'")}'`;
    });
}

/** A checksum of a migration's statements as generated for this server (recorded, never enforced across servers). */
export function migrationChecksum(statements: readonly string[]): string {
  return createHash("sha256").update(statements.join(";\n")).digest("hex").slice(0, 16);
}
