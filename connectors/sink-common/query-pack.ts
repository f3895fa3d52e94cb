/**
 * The audit query pack: named, parameterised SQL in `schemas/queries/*.yaml`, one file a query.
 *
 * A file holds the metadata (name, title, description, parameters with types, defaults and
 * descriptions, an example) and the SQL, either one text for both stores or a `clickhouse` and a
 * `duckdb` variant. In SQL, parameters are `{name:Type}` placeholders (bound, never spliced; see
 * connectors/sink-common/sql-params.ts) and tables are `{{attributions}}`,
 * `{{attribution_spans}}`, `{{attribution_segments}}` and `{{attribution_coverage}}`: the store
 * replaces them with the physical table (ClickHouse: `db`.`prefix_table` FINAL, so a duplicate
 * delivery that is not merged yet is read once). docs/queries.md describes each query.
 */
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseConfig } from "../../src/config-issues.js";
import { ConfigError } from "../../src/errors.js";
import { PACKAGE_ROOT } from "../../src/package-root.js";
import type { DeclaredParam, ParamValue } from "./sql-params.js";
import { coerceParam, paramTypes, scanPlaceholders } from "./sql-params.js";

/** The pack files are contracts and live in schemas/queries; this is only their loader. */
export const QUERY_DIR = path.join(PACKAGE_ROOT, "schemas/queries");

export const dialects = ["clickhouse", "duckdb"] as const;
export type Dialect = (typeof dialects)[number];

export const tableTokens = ["attributions", "attribution_spans", "attribution_segments", "attribution_coverage"] as const;
export type TableToken = (typeof tableTokens)[number];

const paramSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    type: z.enum(paramTypes),
    default: z.union([z.string(), z.number()]).optional().describe("Absent: the parameter is required"),
    description: z.string().min(1),
  })
  .strict();

export const auditQuerySchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    title: z.string().min(1),
    description: z.string().min(1),
    params: z.array(paramSchema).default([]),
    columns: z.array(z.object({ name: z.string(), description: z.string() }).strict()).min(1).describe("What each output column means"),
    example: z.record(z.string(), z.union([z.string(), z.number()])).default({}).describe("Parameters of the documented example"),
    sql: z.union([z.string().min(1), z.object({ clickhouse: z.string().min(1), duckdb: z.string().min(1) }).strict()]),
  })
  .strict();

export type AuditQueryParam = z.infer<typeof paramSchema>;

export interface AuditQuery {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly params: readonly (AuditQueryParam & DeclaredParam)[];
  readonly columns: readonly { name: string; description: string }[];
  readonly example: Readonly<Record<string, string | number>>;
  readonly sql: Readonly<Record<Dialect, string>>;
  readonly file: string;
}

const TABLE_TOKEN = /\{\{([a-z_]+)\}\}/g;

/** Checks one query: placeholders match the declared parameters, every parameter is used, tables are known. */
function validate(q: z.infer<typeof auditQuerySchema>, file: string): AuditQuery {
  const sql: Record<Dialect, string> = typeof q.sql === "string" ? { clickhouse: q.sql, duckdb: q.sql } : q.sql;
  const fail = (why: string): ConfigError => new ConfigError({ what: `loading audit query ${file}`, why, path: file });
  const declared = new Map(q.params.map((p) => [p.name, p.type] as const));
  if (declared.size !== q.params.length) throw fail("a parameter is declared twice");
  for (const d of dialects) {
    const used = new Set<string>();
    for (const p of scanPlaceholders(sql[d])) {
      const type = declared.get(p.name);
      if (type === undefined) throw fail(`${d} SQL uses {${p.name}:${p.type}} but no parameter ${p.name} is declared`);
      if (type !== p.type) throw fail(`${d} SQL uses {${p.name}:${p.type}} but ${p.name} is declared ${type}`);
      used.add(p.name);
    }
    for (const name of declared.keys()) if (!used.has(name)) throw fail(`parameter ${name} is declared but the ${d} SQL does not use it`);
    for (const m of sql[d].matchAll(TABLE_TOKEN)) {
      if (!(tableTokens as readonly string[]).includes(m[1] as string)) throw fail(`${d} SQL names an unknown table {{${m[1]}}}`);
    }
  }
  for (const p of q.params) if (p.default !== undefined) coerceParam(p.name, p.type, p.default);
  for (const [k, v] of Object.entries(q.example)) {
    const type = declared.get(k);
    if (type === undefined) throw fail(`example names an undeclared parameter ${k}`);
    coerceParam(k, type, v);
  }
  return { ...q, sql, file };
}

let cached: readonly AuditQuery[] | undefined;

/** Every query in the pack, sorted by name. */
export function loadQueryPack(dir: string = QUERY_DIR): readonly AuditQuery[] {
  if (dir === QUERY_DIR && cached !== undefined) return cached;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  const out: AuditQuery[] = [];
  for (const f of files) {
    const parsed = parseConfig(auditQuerySchema, parseYaml(fs.readFileSync(path.join(dir, f), "utf8")), { what: `loading audit query ${f}`, path: f });
    if (`${parsed.name}.yaml` !== f) throw new ConfigError({ what: `loading audit query ${f}`, why: `its name is ${parsed.name}; the file must be ${parsed.name}.yaml`, path: f });
    out.push(validate(parsed, f));
  }
  out.sort((a, b) => a.name.localeCompare(b.name));
  if (dir === QUERY_DIR) cached = out;
  return out;
}

export function findQuery(name: string, pack: readonly AuditQuery[] = loadQueryPack()): AuditQuery {
  const q = pack.find((x) => x.name === name);
  if (q === undefined) {
    throw new ConfigError({ what: `finding audit query "${name}"`, why: `no such query; valid: ${pack.map((x) => x.name).join(", ")}`, path: "query", details: { valid: pack.map((x) => x.name) } });
  }
  return q;
}

/** The parameter values for a run: given values (typed or text) over defaults, checked; unknown names rejected. */
export function resolveParams(q: AuditQuery, given: Readonly<Record<string, unknown>>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  const known = new Set(q.params.map((p) => p.name));
  for (const k of Object.keys(given)) {
    if (!known.has(k)) {
      throw new ConfigError({ what: `running ${q.name}`, why: `unknown parameter ${k}; ${q.name} takes ${q.params.map((p) => p.name).join(", ") || "none"}`, path: `params.${k}` });
    }
  }
  for (const p of q.params) {
    const v = given[p.name] ?? p.default;
    if (v === undefined) throw new ConfigError({ what: `running ${q.name}`, why: `parameter ${p.name} (${p.type}) is required: ${p.description}`, path: `params.${p.name}` });
    out[p.name] = coerceParam(p.name, p.type, v);
  }
  return out;
}

/** Replaces `{{table}}` tokens with the store's physical table expressions. */
export function expandTables(sql: string, tables: Readonly<Record<TableToken, string>>): string {
  return sql.replace(TABLE_TOKEN, (_, name: string) => tables[name as TableToken]);
}

/** What running a query returns, on any store: column names in order and JSON-safe rows. */
export interface QueryResult {
  readonly columns: readonly string[];
  readonly rows: readonly Record<string, unknown>[];
}
