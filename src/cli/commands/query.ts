/**
 * `reagent-stream query`: runs a query of the audit pack (schemas/queries/) on ClickHouse or
 * DuckDB, with bound parameters, and prints a table, JSON or CSV. `--list` describes the pack.
 *
 *   reagent-stream query --list
 *   reagent-stream query spans_for_response --param response_id=chatcmpl-123
 *   reagent-stream query segment_share_by_day --store clickhouse --url http://ch:8123 --param from=2024-05-01 --format csv
 *
 * Connection flags are shared with `migrate` (migrate.ts). docs/queries.md lists the queries.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { AuditSink } from "../../../connectors/sink-common/audit-sink.js";
import type { AuditQuery, QueryResult } from "../../../connectors/sink-common/query-pack.js";
import { findQuery, loadQueryPack } from "../../../connectors/sink-common/query-pack.js";
import { ConfigError } from "../../errors.js";
import { addStoreOptions, openStore, type StoreFlags } from "../store-options.js";

export const outputFormats = ["table", "json", "csv"] as const;
export type OutputFormat = (typeof outputFormats)[number];

interface QueryFlags extends StoreFlags {
  list?: boolean;
  param?: Record<string, string>;
  format: OutputFormat;
  explain?: boolean;
}

function paramArg(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError("expected NAME=VALUE, e.g. --param from=2024-05-01");
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return v.toString();
  return JSON.stringify(v);
}

/** RFC 4180 CSV: a header line, then one line per row; arrays as JSON text, NULL as an empty field. */
export function formatCsv(result: QueryResult): string {
  const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [result.columns.map(field).join(",")];
  for (const row of result.rows) lines.push(result.columns.map((c) => field(cellText(row[c]))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** Aligned columns for a terminal; NULL shown as NULL, long cells cut at `maxWidth` with an ellipsis. */
export function formatTable(result: QueryResult, maxWidth = 60): string {
  const show = (v: unknown): string => {
    const s = v === null || v === undefined ? "NULL" : cellText(v).replace(/[\r\n\t]/g, " ");
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const cells = result.rows.map((r) => result.columns.map((c) => show(r[c])));
  const widths = result.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const numeric = result.columns.map((c) => result.rows.length > 0 && result.rows.every((r) => r[c] === null || typeof r[c] === "number"));
  const line = (xs: readonly string[]): string =>
    xs
      .map((x, i) => (numeric[i] === true ? x.padStart(widths[i] as number) : x.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  const out = [line(result.columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  out.push(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`);
  return `${out.join("\n")}\n`;
}

export function formatResult(result: QueryResult, format: OutputFormat): string {
  if (format === "json") return `${JSON.stringify(result.rows, null, 2)}\n`;
  if (format === "csv") return formatCsv(result);
  return formatTable(result);
}

/** `query --list`: every query with its parameters. */
export function describePack(pack: readonly AuditQuery[] = loadQueryPack()): string {
  const out: string[] = [];
  for (const q of pack) {
    out.push(`${q.name} — ${q.title}`);
    out.push(`    ${q.description.trim().replace(/\s+/g, " ")}`);
    for (const p of q.params) {
      const dflt = p.default === undefined ? "required" : `default ${JSON.stringify(p.default)}`;
      out.push(`    --param ${p.name}=<${p.type}>  ${p.description} (${dflt})`);
    }
    out.push("");
  }
  return out.join("\n");
}

export interface QueryRun {
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly format: OutputFormat;
  readonly explain?: boolean;
}

/** Runs (or explains) one query on an opened store; returns the text to print. */
export async function runAuditQuery(store: AuditSink, run: QueryRun): Promise<string> {
  const q = findQuery(run.name);
  if (run.explain === true) {
    const prepared = (store as unknown as { prepareQuery: (q: AuditQuery, p: Record<string, string>) => unknown }).prepareQuery(q, run.params);
    return `${JSON.stringify(prepared, null, 2)}\n`;
  }
  return formatResult(await store.runQuery(q, run.params), run.format);
}

export function registerQuery(program: Command): void {
  const cmd = program
    .command("query")
    .description("Run an audit query (schemas/queries/) on ClickHouse or DuckDB; --list describes them")
    .argument("[name]", "query name (see --list)")
    .option("--list", "list the queries with their parameters")
    .option("-p, --param <name=value>", "a query parameter (repeatable)", paramArg)
    .addOption(new Option("--format <format>", "output format").choices(outputFormats).default("table"))
    .option("--explain", "print the SQL and bound parameters instead of running it");
  addStoreOptions(cmd);
  cmd.action(async (name: string | undefined, flags: QueryFlags) => {
    if (flags.list === true) {
      process.stdout.write(describePack());
      return;
    }
    if (name === undefined) {
      throw new ConfigError({ what: "running a query", why: "name a query, or use --list to see them", path: "query" });
    }
    findQuery(name); // an unknown name fails before connecting
    const store = await openStore(flags, { forQuery: true });
    try {
      process.stdout.write(await runAuditQuery(store, { name, params: flags.param ?? {}, format: flags.format, explain: flags.explain === true }));
    } finally {
      await store.close();
    }
  });
}
