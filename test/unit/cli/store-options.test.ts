import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { storeConfigFromFlags } from "../../../src/cli/store-options.js";
import { describePack, formatCsv, formatTable } from "../../../src/cli/commands/query.js";

const result = {
  columns: ["day", "text", "n", "pii"],
  rows: [
    { day: "2024-05-01", text: 'say "hi", then\nleave', n: 3, pii: ["email"] },
    { day: "2024-05-02", text: null, n: 10, pii: [] },
  ],
};

describe("query output", () => {
  it("CSV quotes what needs quoting, writes NULL as empty and arrays as JSON", () => {
    expect(formatCsv(result)).toBe('day,text,n,pii\r\n2024-05-01,"say ""hi"", then\nleave",3,"[""email""]"\r\n2024-05-02,,10,[]\r\n');
  });

  it("table aligns columns, right-aligns numbers and shows NULL", () => {
    expect(formatTable(result)).toBe(
      [
        "day         text                   n  pii",
        "----------  --------------------  --  ---------",
        '2024-05-01  say "hi", then leave   3  ["email"]',
        "2024-05-02  NULL                  10  []",
        "(2 rows)",
        "",
      ].join("\n"),
    );
  });

  it("--list names every query and its parameters", () => {
    const text = describePack();
    expect(text).toContain("spans_for_response — The prompt spans that drove a response or trace");
    expect(text).toContain("--param change_day=<Date>  First day of the new behaviour (UTC) (required)");
  });
});

describe("store flags", () => {
  it("default to DuckDB, switch to ClickHouse with --url, and map flags to config keys", () => {
    expect(storeConfigFromFlags({}, {})).toEqual({ type: "duckdb" });
    expect(storeConfigFromFlags({ file: "x.duckdb", tablePrefix: "r_" }, {})).toEqual({ type: "duckdb", path: "x.duckdb", table_prefix: "r_" });
    expect(storeConfigFromFlags({ url: "http://ch:8123", database: "audit", passwordEnv: "CH_PW" }, {})).toEqual({
      type: "clickhouse",
      url: "http://ch:8123",
      database: "audit",
      password_env: "CH_PW",
    });
    expect(storeConfigFromFlags({ store: "clickhouse" }, { REAGENT_CLICKHOUSE_URL: "http://env:8123" })).toEqual({ type: "clickhouse", url: "http://env:8123" });
  });

  it("take the store from a worker config's sinks, with flags on top", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-cfg-"));
    try {
      const file = path.join(dir, "worker.yaml");
      fs.writeFileSync(
        file,
        [
          "source: { type: stdin }",
          "scorer: { type: local, path: models/tiny-lm }",
          "sinks:",
          "  - { type: duckdb, path: /data/audit.duckdb, store_text: none }",
          "  - { type: clickhouse, url: http://ch:8123, database: audit }",
          "",
        ].join("\n"),
      );
      expect(storeConfigFromFlags({ config: file }, {})).toMatchObject({ type: "duckdb", path: "/data/audit.duckdb", store_text: "none" });
      expect(storeConfigFromFlags({ config: file, store: "clickhouse", database: "other" }, {})).toMatchObject({ type: "clickhouse", url: "http://ch:8123", database: "other" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
