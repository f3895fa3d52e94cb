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
import { ATTRIBUTIONS, ATTRIBUTIONS_ADDED_COLUMNS, ATTRIBUTION_COVERAGE, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS, tableNames, withoutAddedColumns } from "../sink-common/tables.js";

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
  {
    version: 4,
    name: "attribution ids include the tenant (one record id in two tenants is two attributions)",
    statements: (ctx) => tenantIds(ctx),
  },
  {
    version: 5,
    name: "attributions.unit_level and attributions.stopping_rule",
    // Tables created by migration 1 already have them: IF NOT EXISTS skips those.
    statements: (ctx) =>
      ATTRIBUTIONS_ADDED_COLUMNS.map((a) => {
        const col = ATTRIBUTIONS.columns.find((c) => c.name === a.name) as ColumnSpec;
        return `ALTER TABLE ${dq(tableNames(ctx.prefix).attributions)} ADD COLUMN IF NOT EXISTS ${dq(col.name)} ${duckColumnType(col)} DEFAULT '${a.fill.replace(/'/g, "''")}'`;
      }),
  },
];

/** The attribution id of a stored row under the current rule (src/attribution/engine.ts). */
const NEW_ID = "CASE WHEN tenant_id = '' OR record_id IS NULL THEN attribution_id ELSE substr(sha256(tenant_id || chr(0) || record_id || chr(0) || config_hash), 1, 32) END";

/**
 * Rewrites the ids of rows with a tenant so a redelivery after the upgrade finds its row. Side
 * rows follow their attribution (by old id and tenant); `attributions` has a key, so it is copied
 * into a keyed table with the new ids and swapped in (DuckDB will not update a key column in place).
 */
function tenantIds(ctx: DuckDbDdlContext): string[] {
  const t = tableNames(ctx.prefix);
  const map = `SELECT attribution_id AS old_id, tenant_id AS old_tenant, ${NEW_ID} AS new_id FROM ${dq(t.attributions)} WHERE tenant_id <> '' AND record_id IS NOT NULL`;
  const side = (name: string): string =>
    `UPDATE ${dq(name)} SET attribution_id = m.new_id FROM (${map}) AS m WHERE ${dq(name)}.attribution_id = m.old_id AND ${dq(name)}.tenant_id = m.old_tenant`;
  const tmp = `${t.attributions}__v4`;
  // The layout as of this migration: columns added by later ones are added by them.
  const layout = withoutAddedColumns(ATTRIBUTIONS);
  const cols = layout.columns.map((c) => (c.name === "attribution_id" ? NEW_ID : dq(c.name)));
  return [
    side(t.attribution_spans),
    side(t.attribution_segments),
    createTableDdl(layout, ctx, { name: tmp }),
    `INSERT INTO ${dq(tmp)} SELECT ${cols.join(", ")} FROM ${dq(t.attributions)}`,
    `DROP TABLE ${dq(t.attributions)}`,
    `ALTER TABLE ${dq(tmp)} RENAME TO ${dq(t.attributions)}`,
  ];
}

export function migrationChecksum(statements: readonly string[]): string {
  return createHash("sha256").update(statements.join(";\n")).digest("hex").slice(0, 16);
}
