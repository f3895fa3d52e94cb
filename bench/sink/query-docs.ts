/**
 * Renders the per-query reference of docs/queries.md from the query files, with each query's
 * documented example run on the hand-made dataset (test/conformance/query-dataset.ts) in DuckDB
 * (ClickHouse gives the same rows: test/integration/sink-queries.test.ts).
 *
 *   node --import tsx bench/sink/query-docs.ts > /tmp/queries-reference.md
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { loadQueryPack } from "../../connectors/sink-common/query-pack.js";
import { formatTable } from "../../src/cli/commands/query.js";
import { QUERY_DATASET } from "../../test/conformance/query-dataset.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "query-docs-"));
const sink = new DuckDbSink({ type: "duckdb", path: path.join(dir, "docs.duckdb"), store_text: "full" });
await sink.start();
await Promise.all(QUERY_DATASET.map((r) => sink.write(r)));
await sink.recordCoverage({ source: "llm-logs", partition: 0, consumed: 1200, sampled: 50, window_start: "2024-05-01T09:00:00Z" });
await sink.recordCoverage({ source: "llm-logs", partition: 1, consumed: 800, sampled: 30, window_start: "2024-05-01T10:00:00Z" });
const out: string[] = [];
for (const q of loadQueryPack()) {
  const params = { ...(q.name === "drift_before_after" ? { change_day: "2024-05-02" } : {}), ...q.example };
  const res = await sink.runQuery(q, params);
  const shown = { columns: res.columns, rows: res.rows.slice(0, 6) };
  const flags = Object.entries(params)
    .map(([k, v]) => ` --param ${k}=${/^[\w.:-]+$/.test(String(v)) ? String(v) : `'${String(v)}'`}`)
    .join("");
  out.push(`### \`${q.name}\` — ${q.title}`, "", q.description.trim().replace(/\s+/g, " "), "");
  out.push("| parameter | type | default | meaning |", "|---|---|---|---|");
  for (const p of q.params) out.push(`| \`${p.name}\` | ${p.type} | ${p.default === undefined ? "required" : `\`${JSON.stringify(p.default)}\``} | ${p.description} |`);
  if (q.params.length === 0) out.push("| — | | | |");
  out.push("", `Columns: ${q.columns.map((c) => `\`${c.name}\` (${c.description})`).join(", ")}.`, "");
  out.push(`Dialects: ${typeof q.sql.clickhouse === "string" && q.sql.clickhouse === q.sql.duckdb ? "one SQL text for both stores" : "a ClickHouse and a DuckDB variant"} (\`schemas/queries/${q.file}\`).`, "");
  out.push("```console", `$ reagent-stream query ${q.name}${flags}`, formatTable(shown).trimEnd() + (res.rows.length > shown.rows.length ? `\n… (${res.rows.length} rows in all)` : ""), "```", "");
}
await sink.close();
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(out.join("\n"));
