/**
 * Exports what the ClickHouse sink would send to a modern server, for bench/sink/modern-clickhouse-check.py
 * (which runs it on chDB, an embedded ClickHouse): the DDL generated for a given version, fixture rows
 * as JSONEachRow (DateTime64 text), and every audit query bound with its defaults (literal binding, so it
 * runs on any version), plus the DuckDB answers to compare with.
 *
 *   node --import tsx bench/sink/modern-clickhouse-export.ts OUT_DIR [VERSION]
 */
import fs from "node:fs";
import path from "node:path";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { toRows } from "../../connectors/sink-common/rows.js";
import { bindClickHouseLiterals, clickHouseNativeSql, clickHouseQueryParams } from "../../connectors/sink-common/sql-params.js";
import { ATTRIBUTIONS, ATTRIBUTION_SEGMENTS, ATTRIBUTION_SPANS } from "../../connectors/sink-common/tables.js";
import { featuresFor } from "../../connectors/clickhouse/features.js";
import { CLICKHOUSE_MIGRATIONS, migrationsTableDdl, q } from "../../connectors/clickhouse/migrations.js";
import { expandTables, loadQueryPack, resolveParams, tableTokens } from "../../connectors/sink-common/query-pack.js";
import { makeResults } from "../../test/conformance/attribution-fixtures.js";

const out = process.argv[2] ?? "modern-ch";
const version = process.argv[3] ?? "24.3.2.23";
fs.mkdirSync(out, { recursive: true });
const features = featuresFor(version);
// No TTL: the 2024 fixtures would be past any sensible one (the TTL clause itself is checked by the DDL step).
const ctx = { database: "audit", prefix: "", features, ttlDays: null, dedupWindow: 1000 };
const ddl = [`CREATE DATABASE IF NOT EXISTS ${q("audit")}`, migrationsTableDdl(ctx), ...CLICKHOUSE_MIGRATIONS.flatMap((m) => m.statements(ctx))];
fs.writeFileSync(path.join(out, "ddl.json"), JSON.stringify(ddl, null, 1));

const results = makeResults(300, 5);
const opts = { storeText: "full" as const, maxMatrixCells: 4096, timePrecision: features.dateTime64 ? ("ms" as const) : ("s" as const) };
const chTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, features.dateTime64 ? 23 : 19)}`;
const enc = (spec: typeof ATTRIBUTIONS | typeof ATTRIBUTION_SPANS | typeof ATTRIBUTION_SEGMENTS, row: object): string => {
  const o: Record<string, unknown> = { ...row };
  for (const c of spec.columns) if (c.type === "time" && c.array === undefined && typeof o[c.name] === "string") o[c.name] = chTime(o[c.name] as string);
  return JSON.stringify(o);
};
const rows = results.map((r) => toRows(r, opts));
fs.writeFileSync(path.join(out, "attributions.ndjson"), rows.map((r) => enc(ATTRIBUTIONS, r.attribution)).join("\n") + "\n");
fs.writeFileSync(path.join(out, "attribution_spans.ndjson"), rows.flatMap((r) => r.spans.map((s) => enc(ATTRIBUTION_SPANS, s))).join("\n") + "\n");
fs.writeFileSync(path.join(out, "attribution_segments.ndjson"), rows.flatMap((r) => r.segments.map((s) => enc(ATTRIBUTION_SEGMENTS, s))).join("\n") + "\n");

const tables = Object.fromEntries(tableTokens.map((t) => [t, `${q("audit")}.${q(t)} FINAL`])) as Record<(typeof tableTokens)[number], string>;
const extra: Record<string, Record<string, unknown>> = { drift_before_after: { change_day: "2024-05-20" }, spans_for_response: { response_id: results[3]!.context.response_id } };
// Each query twice: bound as literals (the 18.16 path) and with server-side parameters (19.11+).
const queries = loadQueryPack().map((qd) => {
  const sql = expandTables(qd.sql.clickhouse, tables);
  const values = resolveParams(qd, extra[qd.name] ?? {});
  return { name: qd.name, sql: bindClickHouseLiterals(sql, qd.params, values), native: clickHouseNativeSql(sql), params: clickHouseQueryParams(sql, qd.params, values) };
});
fs.writeFileSync(path.join(out, "queries.json"), JSON.stringify(queries, null, 1));

const duckPath = path.join(out, "compare.duckdb");
fs.rmSync(duckPath, { force: true });
fs.rmSync(`${duckPath}.wal`, { force: true });
const duck = new DuckDbSink({ type: "duckdb", path: duckPath, store_text: "full" });
await duck.start();
await Promise.all(results.map((r) => duck.write(r)));
const answers: Record<string, unknown> = {};
for (const qd of loadQueryPack()) answers[qd.name] = (await duck.runQuery(qd, extra[qd.name] ?? {})).rows;
await duck.close();
fs.writeFileSync(path.join(out, "duckdb-answers.json"), JSON.stringify(answers));
console.log(`wrote ${out}: ${ddl.length} DDL statements for ClickHouse ${version}, ${rows.length} attributions, ${queries.length} queries`);
