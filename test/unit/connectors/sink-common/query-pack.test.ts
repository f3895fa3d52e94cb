import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bindClickHouseLiterals, scanPlaceholders, toDuckDbStatement } from "../../../../connectors/sink-common/sql-params.js";
import { dialects, expandTables, findQuery, loadQueryPack, resolveParams, tableTokens } from "../../../../connectors/sink-common/query-pack.js";
import { ConfigError } from "../../../../src/errors.js";

const pack = loadQueryPack();
const tables = Object.fromEntries(tableTokens.map((t) => [t, `t_${t}`])) as Record<(typeof tableTokens)[number], string>;

describe("audit query pack", () => {
  it("has at least 10 queries, each with metadata and both dialects", () => {
    expect(pack.length).toBeGreaterThanOrEqual(10);
    for (const q of pack) {
      expect(q.description.length, q.name).toBeGreaterThan(40);
      expect(q.columns.length, q.name).toBeGreaterThan(0);
      for (const d of dialects) expect(q.sql[d].trim().length, `${q.name}/${d}`).toBeGreaterThan(0);
      for (const p of q.params) expect(p.description.length, `${q.name}.${p.name}`).toBeGreaterThan(0);
    }
  });

  it("covers the audits the issue asks for", () => {
    const names = pack.map((q) => q.name);
    for (const n of [
      "spans_for_response",
      "segment_share_by_day",
      "user_dominated_completions",
      "top_phrases_by_model",
      "top_tokens_by_model",
      "drift_by_version",
      "drift_before_after",
      "unconverged_or_unfaithful",
      "cost_by_model",
      "spans_matching_pattern",
      "sensitive_spans",
      "coverage",
    ]) {
      expect(names).toContain(n);
    }
  });

  it("binds every query on both dialects with defaults plus its documented example, leaving no placeholder", () => {
    for (const q of pack) {
      const values = resolveParams(q, { ...(q.name === "drift_before_after" ? { change_day: "2024-05-02" } : {}), ...q.example });
      const ch = bindClickHouseLiterals(expandTables(q.sql.clickhouse, tables), q.params, values);
      expect(scanPlaceholders(ch), q.name).toEqual([]);
      expect(ch, q.name).not.toMatch(/\{\{|\}\}/);
      const duck = toDuckDbStatement(expandTables(q.sql.duckdb, tables), q.params, values);
      expect(scanPlaceholders(duck.sql), q.name).toEqual([]);
      expect(Object.keys(duck.values).sort(), q.name).toEqual(q.params.map((p) => p.name).sort());
    }
  });

  it("docs/queries.md documents every query and parameter (regenerate: node --import tsx bench/sink/query-docs.ts)", () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, "../../../../docs/queries.md"), "utf8");
    for (const q of pack) {
      expect(doc, q.name).toContain(`### \`${q.name}\` — ${q.title}`);
      for (const p of q.params) expect(doc, `${q.name}.${p.name}`).toContain(`| \`${p.name}\` | ${p.type} |`);
    }
  });

  it("resolveParams fills defaults, coerces text, and rejects unknown or missing parameters", () => {
    const q = findQuery("spans_matching_pattern");
    expect(resolveParams(q, { max_rank: "3" })).toMatchObject({ max_rank: 3, tenant: "", from: "1970-01-01" });
    expect(() => resolveParams(q, { nope: 1 })).toThrow(/unknown parameter nope/);
    expect(() => resolveParams(findQuery("drift_before_after"), {})).toThrow(/change_day \(Date\) is required/);
    expect(() => resolveParams(q, { max_rank: "x" })).toThrow(ConfigError);
    expect(() => findQuery("nope")).toThrow(/valid: attribution_summary/);
  });

  it("rejects a query file whose SQL and parameters disagree", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qpack-"));
    try {
      const write = (body: string): void => fs.writeFileSync(path.join(dir, "bad_query.yaml"), body);
      const head = "name: bad_query\ntitle: t\ndescription: d\ncolumns: [{ name: x, description: y }]\n";
      write(`${head}params: [{ name: a, type: String, description: x }]\nsql: "SELECT {b:String}"\n`);
      expect(() => loadQueryPack(dir)).toThrow(/no parameter b is declared/);
      write(`${head}params: [{ name: a, type: String, description: x }]\nsql: "SELECT 1"\n`);
      expect(() => loadQueryPack(dir)).toThrow(/parameter a is declared but/);
      write(`${head}params: [{ name: a, type: UInt32, description: x }]\nsql: "SELECT {a:String}"\n`);
      expect(() => loadQueryPack(dir)).toThrow(/declared UInt32/);
      write(`${head}sql: "SELECT * FROM {{nope}}"\n`);
      expect(() => loadQueryPack(dir)).toThrow(/unknown table/);
      write(`${head.replace("bad_query", "other")}sql: "SELECT 1"\n`);
      expect(() => loadQueryPack(dir)).toThrow(/must be other.yaml/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
