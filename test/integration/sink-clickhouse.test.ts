/**
 * The ClickHouse sink on the real test server (Debian's ClickHouse 18.16): the conformance
 * suite, plus what only ClickHouse has — FINAL over duplicate physical rows, literal binding
 * checked by the server itself, the generated 18.16 DDL.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { bindClickHouseLiterals } from "../../connectors/sink-common/sql-params.js";
import { makeResults } from "../conformance/attribution-fixtures.js";
import { CLICKHOUSE_MIGRATIONS } from "../../connectors/clickhouse/migrations.js";
import { runSinkConformance } from "../conformance/sink.js";
import type { SinkOverrides } from "../conformance/sink.js";
import { dropTestDatabase, testClickHouse, testEndpoints, uniqueName } from "./services.js";

const databases: string[] = [];
let admin: ClickHouseClient;

beforeAll(() => {
  admin = testClickHouse();
});

afterAll(async () => {
  for (const db of databases) await dropTestDatabase(admin, db).catch(() => undefined);
  await admin.close();
});

const newSink = (database: string, overrides: SinkOverrides = {}): ClickHouseSink =>
  new ClickHouseSink({ type: "clickhouse", url: testEndpoints().clickhouseUrl, database, request_timeout_ms: 60_000, ...overrides });

runSinkConformance({
  name: "clickhouse",
  migrationVersions: CLICKHOUSE_MIGRATIONS.map((m) => m.version),
  newStore: () => {
    const db = uniqueName("sink_ch");
    databases.push(db);
    return db;
  },
  newSink: (db, overrides) => newSink(db, overrides),
  readBack: (sink, ids) => sink.readRows(ids),
});

describe("ClickHouse sink on 18.16", () => {
  it("detects the server and generates DDL without the newer features", async () => {
    const db = uniqueName("sink_ch_ddl");
    databases.push(db);
    const sink = newSink(db);
    await sink.start();
    try {
      expect(sink.features.version.major).toBe(18);
      expect(sink.rowOptions.timePrecision).toBe("s");
      const rs = await admin.query({ query: `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'attributions' AND name IN ('event_time', 'model', 'prompt_text')`, format: "JSONEachRow" });
      expect(await rs.json()).toEqual([
        { name: "model", type: "String" },
        { name: "event_time", type: "DateTime('UTC')" },
        { name: "prompt_text", type: "Nullable(String)" },
      ]);
      const engines = await admin.query({ query: `SELECT name, engine FROM system.tables WHERE database = '${db}' ORDER BY name`, format: "JSONEachRow" });
      expect(await engines.json()).toEqual([
        { name: "attribution_coverage", engine: "ReplacingMergeTree" },
        { name: "attribution_segments", engine: "ReplacingMergeTree" },
        { name: "attribution_spans", engine: "ReplacingMergeTree" },
        { name: "attributions", engine: "ReplacingMergeTree" },
        { name: "schema_migrations", engine: "ReplacingMergeTree" },
      ]);
    } finally {
      await sink.close();
    }
  });

  it("a duplicate delivery is two physical rows until merged, and one row through FINAL", async () => {
    const db = uniqueName("sink_ch_dup");
    databases.push(db);
    const sink = newSink(db, { batch: { max_rows: 100, max_wait_ms: 10 } });
    await sink.start();
    try {
      const results = makeResults(30, 91);
      await Promise.all(results.map((r) => sink.write(r)));
      await sink.flush();
      await Promise.all(results.map((r) => sink.write(r)));
      await sink.flush();
      // 18.16 has no insert dedup for plain MergeTree: the second insert is stored...
      expect(await sink.countPhysical("attributions")).toBe(60);
      // ...and every read goes through FINAL, so each attribution counts once.
      const { rows } = await sink.runQuery("attribution_summary");
      expect(rows.reduce((n, r) => n + Number(r.attributions), 0)).toBe(30);
      expect(await sink.readRows(results.map((r) => r.attribution_id))).toHaveLength(30);
      // A merge removes the duplicates for good.
      await admin.command({ query: `OPTIMIZE TABLE ${db}.attributions FINAL` });
      expect(await sink.countPhysical("attributions")).toBe(30);
    } finally {
      await sink.close();
    }
  });

  it("migration 4 adds unit_level and stopping_rule to a store created before it, keeping its rows", async () => {
    const db = uniqueName("sink_ch_v3");
    databases.push(db);
    const results = makeResults(6, 95);
    const first = newSink(db);
    await first.start();
    try {
      await Promise.all(results.map((r) => first.write(r)));
      await first.flush();
    } finally {
      await first.close();
    }
    // Make it the store an older release left: no new columns, migrations 1 to 3 recorded.
    await admin.command({ query: `ALTER TABLE ${db}.attributions DROP COLUMN unit_level, DROP COLUMN stopping_rule` });
    await admin.command({ query: `DROP TABLE ${db}.schema_migrations` });
    await admin.command({ query: `CREATE TABLE ${db}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime('UTC'), server_version String, engine_version String) ENGINE = ReplacingMergeTree() ORDER BY (version)` });
    await admin.command({ query: `INSERT INTO ${db}.schema_migrations VALUES (1, 'old', 'old', now(), 'old', 'old'), (2, 'old', 'old', now(), 'old', 'old'), (3, 'old', 'old', now(), 'old', 'old')` });

    const upgraded = newSink(db);
    await upgraded.start();
    try {
      const cols = await admin.query({ query: `SELECT name FROM system.columns WHERE database = '${db}' AND table = 'attributions' AND name IN ('unit_level', 'stopping_rule') ORDER BY name`, format: "JSONEachRow" });
      expect(await cols.json()).toEqual([{ name: "stopping_rule" }, { name: "unit_level" }]);
      const back = await upgraded.readRows(results.map((r) => r.attribution_id));
      expect(back.map((r) => r.attribution.unit_level)).toEqual(results.map(() => "token"));
      // Migrating again finds nothing to do.
      expect((await upgraded.migrate()).applied).toEqual([]);
    } finally {
      await upgraded.close();
    }
  });

  it("literal binding round-trips hostile strings through the real server", async () => {
    const hostile = ["it's", "back\\slash", "\\'", "'; DROP DATABASE default; --", "{s:String}", "tab\tnl\ncr\r nul\0 ", "ünï ✓ 🙂 日本", "x\\", "*/ --"];
    for (const s of hostile) {
      const sql = bindClickHouseLiterals("SELECT {s:String} AS s, length({s:String}) AS n", [{ name: "s", type: "String" }], { s });
      const rs = await admin.query({ query: sql, format: "JSONEachRow" });
      const [row] = await rs.json<{ s: string; n: string | number }>();
      expect(row?.s).toBe(s);
      expect(Number(row?.n)).toBe(Buffer.byteLength(s));
    }
  });
});
