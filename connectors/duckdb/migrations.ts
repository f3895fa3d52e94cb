/**
 * DuckDB schema: the same logical tables as ClickHouse (connectors/sink-common/tables.ts).
 * `attributions` has a PRIMARY KEY on attribution_id and is written with `INSERT OR IGNORE …
 * RETURNING`: a redelivered attribution never makes a second row (the key, not a merge,
 * deduplicates). Spans and segments carry no key (migration 3 dropped it): the writer inserts
 * them only for the attribution ids that insert returned, in the same transaction, so they are
 * unique by construction, and the index maintenance they cost (8.8 rows per attribution in
 * bench/sink) is saved.
 *
 * Each migration runs in one transaction together with its row in `<prefix>schema_migrations`,
 * so a migration is either fully applied and recorded or not at all.
 */
import { createHash } from "node:crypto";
import type { ColumnSpec, TableSpec } from "../sink-common/tables.js";
import { ATTRIBUTIONS, ATTRIBUTION_COVERAGE, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames } from "../sink-common/tables.js";

export interface DuckDbDdlContext {
  readonly prefix: string;
}

export interface DuckDbMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: (ctx: DuckDbDdlContext) => string[];
}

/** Quotes an identifier that has already been checked to be plain (letters, digits, _). */
export const dq = (ident: string): string => `"${ident}"`;

const SCALAR: Record<ColumnSpec["type"], string> = {
  string: "VARCHAR",
  date: "DATE",
  time: "TIMESTAMP",
  u8: "UTINYINT",
  u16: "USMALLINT",
  u32: "UINTEGER",
  u64: "UBIGINT",
  i32: "INTEGER",
  f32: "FLOAT",
  f64: "DOUBLE",
};

export function duckColumnType(col: ColumnSpec): string {
  return SCALAR[col.type] + "[]".repeat(col.array ?? 0);
}

export function createTableDdl(spec: TableSpec, ctx: DuckDbDdlContext, opts: { primaryKey?: boolean; name?: string } = {}): string {
  const lines = spec.columns.map((col) => `    ${dq(col.name)} ${duckColumnType(col)}${col.nullable === true ? "" : " NOT NULL"}`);
  if (opts.primaryKey !== false) lines.push(`    PRIMARY KEY (${spec.identity.map(dq).join(", ")})`);
  return [`CREATE TABLE IF NOT EXISTS ${dq(opts.name ?? tableNames(ctx.prefix)[spec.name])}`, "(", lines.join(",\n"), ")"].join("\n");
}

/** DuckDB cannot drop a constraint: copy the table into one without the key and swap it in. */
function dropPrimaryKey(spec: TableSpec, ctx: DuckDbDdlContext): string[] {
  const name = tableNames(ctx.prefix)[spec.name];
  const tmp = `${name}__v3`;
  return [
    createTableDdl(spec, ctx, { primaryKey: false, name: tmp }),
    `INSERT INTO ${dq(tmp)} SELECT * FROM ${dq(name)}`,
    `DROP TABLE ${dq(name)}`,
    `ALTER TABLE ${dq(tmp)} RENAME TO ${dq(name)}`,
  ];
}

export function migrationsTableDdl(ctx: DuckDbDdlContext): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${dq(tableNames(ctx.prefix).schema_migrations)}`,
    "(",
    '    "version" INTEGER PRIMARY KEY,',
    '    "name" VARCHAR NOT NULL,',
    '    "checksum" VARCHAR NOT NULL,',
    '    "applied_at" TIMESTAMP NOT NULL,',
    '    "server_version" VARCHAR NOT NULL,',
    '    "engine_version" VARCHAR NOT NULL',
    ")",
  ].join("\n");
}

export const DUCKDB_MIGRATIONS: readonly DuckDbMigration[] = [
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
    name: "attribution_spans and attribution_segments without a primary key (unique by the writer)",
    statements: (ctx) => [...dropPrimaryKey(ATTRIBUTION_SPANS, ctx), ...dropPrimaryKey(ATTRIBUTION_SEGMENTS, ctx)],
  },
];

export function migrationChecksum(statements: readonly string[]): string {
  return createHash("sha256").update(statements.join(";\n")).digest("hex").slice(0, 16);
}
