/**
 * The Grafana dashboard's ClickHouse panels (deploy/grafana/reagent-stream.json) on the real
 * ClickHouse server, over tables made by the project's own migrations and filled by the
 * ClickHouse sink with the audit query pack's dataset: every panel's SQL, with the
 * grafana-clickhouse-datasource macros expanded as the plugin expands them, must run on this
 * server version and return rows; the counts must match the dataset (a redelivered attribution
 * counts once).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { DASHBOARD } from "../../deploy/grafana/make-dashboard.js";
import { QUERY_DATASET } from "../conformance/query-dataset.js";
import { dropTestDatabase, testClickHouse, testEndpoints, uniqueName } from "./services.js";

const FROM = Date.UTC(2024, 0, 1) / 1000;
const TO = Date.UTC(2026, 0, 1) / 1000;

/** What the plugin sends for a dashboard over [FROM, TO] with every model and tenant selected (or the given ones). */
function expand(sql: string, db: string, pick: { model?: string[]; tenant?: string[] } = {}): string {
  const quoted = (vs: string[] | undefined): string => (vs ?? ["__all"]).map((v) => `'${v}'`).join(",");
  return sql
    .replace(/\$__timeFilter\((\w+)\)/g, `$1 >= toDateTime(${FROM}) AND $1 <= toDateTime(${TO})`)
    .replace(/\$__interval_s/g, "3600")
    .replace(/\$\{database\}/g, db)
    .replace(/\$\{model:singlequote\}/g, quoted(pick.model))
    .replace(/\$\{tenant:singlequote\}/g, quoted(pick.tenant));
}

type Panel = { title: string; type: string; targets?: { rawSql?: string }[] };
const sqlPanels = (DASHBOARD.panels as Panel[]).flatMap((p) => (p.targets ?? []).filter((t) => t.rawSql).map((t) => [p.title, t.rawSql!] as const));

describe("Grafana dashboard SQL on the real ClickHouse", () => {
  let admin: ClickHouseClient;
  let db = "";
  let sink: ClickHouseSink;

  beforeAll(async () => {
    admin = testClickHouse();
    db = uniqueName("grafana");
    sink = new ClickHouseSink({ type: "clickhouse", url: testEndpoints().clickhouseUrl, database: db, store_text: "full", batch: { max_rows: 4, max_wait_ms: 5, concurrency: 1 } });
    await sink.start();
    // The first record twice: a redelivery the panels must count once.
    for (const r of [...QUERY_DATASET, QUERY_DATASET[0]!]) await sink.write(r);
    await sink.flush();
  });

  afterAll(async () => {
    await sink?.close().catch(() => undefined);
    if (db !== "") await dropTestDatabase(admin, db).catch(() => undefined);
    await admin?.close();
  });

  const rows = async (sql: string, pick: { model?: string[]; tenant?: string[] } = {}): Promise<Record<string, unknown>[]> => {
    const rs = await admin.query({ query: expand(sql, db, pick), format: "JSONEachRow" });
    return rs.json<Record<string, unknown>>();
  };

  it("has ClickHouse panels", () => {
    expect(sqlPanels.length).toBeGreaterThanOrEqual(8);
  });

  it.each(sqlPanels)("%s: runs and returns rows", async (_title, sql) => {
    const out = await rows(sql);
    expect(out.length).toBeGreaterThan(0);
  });

  it("counts each attribution once, as the dataset has them", async () => {
    const [count] = await rows(sqlPanels.find(([t]) => t === "Attributions")![1]);
    expect(Number(count!.attributions)).toBe(QUERY_DATASET.length);
    const [conv] = await rows(sqlPanels.find(([t]) => t === "Converged")![1]);
    const converged = QUERY_DATASET.filter((r) => r.convergence.converged).length / QUERY_DATASET.length;
    expect(Number(conv!.converged)).toBeCloseTo(converged, 6);
  });

  it("the model and tenant variables list the stored values, and a selection filters every panel", async () => {
    const variable = (name: string): string => (DASHBOARD.templating.list as { name: string; query: string }[]).find((x) => x.name === name)!.query;
    const models = (await rows(variable("model"))).map((r) => r.model);
    expect(models.sort()).toEqual([...new Set(QUERY_DATASET.map((r) => r.model.name))].sort());
    const tenants = (await rows(variable("tenant"))).map((r) => r.tenant_id);
    expect(tenants.sort()).toEqual([...new Set(QUERY_DATASET.map((r) => r.context.tenant_id ?? ""))].sort());
    const count = sqlPanels.find(([t]) => t === "Attributions")![1];
    for (const tenant of tenants as string[]) {
      const [got] = await rows(count, { tenant: [tenant] });
      expect(Number(got!.attributions), tenant).toBe(QUERY_DATASET.filter((r) => (r.context.tenant_id ?? "") === tenant).length);
    }
    const [both] = await rows(count, { model: [models[0] as string], tenant: tenants as string[] });
    expect(Number(both!.attributions)).toBe(QUERY_DATASET.filter((r) => r.model.name === models[0]).length);
  });

  it("the faithfulness histogram has one row per scored attribution, NULL where a score is missing", async () => {
    const out = await rows(sqlPanels.find(([t]) => t.startsWith("Faithfulness"))![1]);
    expect(out).toHaveLength(QUERY_DATASET.filter((r) => r.faithfulness !== null && Object.keys(r.faithfulness).length > 0).length);
    // The dataset's scores are named `comprehensiveness`, not the engine's `_ln_ratio`: no row reads as 0.
    for (const r of out) expect(r.comprehensiveness).toBeNull();
  });
});
