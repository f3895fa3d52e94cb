/**
 * The DuckDB sink on real database files: the conformance suite, plus DuckDB specifics — the
 * primary key keeps one physical row per id, the file survives a reopen, read-only opening.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { defaultDuckDbThreads } from "../../connectors/duckdb/config.js";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { findQuery } from "../../connectors/sink-common/query-pack.js";
import { makeResults, withTenantId } from "../conformance/attribution-fixtures.js";
import { DUCKDB_MIGRATIONS, migrationsTableDdl } from "../../connectors/duckdb/migrations.js";
import { runSinkConformance } from "../conformance/sink.js";
import type { SinkOverrides } from "../conformance/sink.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reagent-duckdb-"));
let n = 0;
const newFile = (): string => path.join(dir, `store-${(n += 1)}.duckdb`);
const newSink = (file: string, overrides: SinkOverrides = {}): DuckDbSink => new DuckDbSink({ type: "duckdb", path: file, ...overrides });

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

runSinkConformance({
  name: "duckdb",
  migrationVersions: DUCKDB_MIGRATIONS.map((m) => m.version),
  newStore: newFile,
  newSink,
  readBack: (sink, ids) => sink.readRows(ids),
});

describe("DuckDB sink", () => {
  it("keeps one physical row per attribution id, and the rows survive a reopen", async () => {
    const file = newFile();
    const sink = newSink(file, { batch: { max_rows: 100, max_wait_ms: 10 } });
    await sink.start();
    const results = makeResults(30, 92);
    await Promise.all(results.map((r) => sink.write(r)));
    await Promise.all(results.map((r) => sink.write(r)));
    await sink.close();
    const reopened = newSink(file, { read_only: true } as SinkOverrides);
    await reopened.start();
    try {
      expect(await reopened.countPhysical("attributions")).toBe(30);
      // Spans and segments have no key of their own: the writer adds them for new ids only.
      expect(await reopened.countPhysical("attribution_spans")).toBe(results.reduce((n, r) => n + r.spans.length, 0));
      expect(await reopened.countPhysical("attribution_segments")).toBe(results.reduce((n, r) => n + r.segments.length, 0));
      expect(await reopened.readRows(results.map((r) => r.attribution_id))).toHaveLength(30);
      const { rows } = await reopened.runQuery("attribution_summary");
      expect(rows.reduce((s, r) => s + Number(r.attributions), 0)).toBe(30);
    } finally {
      await reopened.close();
    }
  });

  it("upgrades a store written before migration 3 (keyed spans and segments) without losing rows", async () => {
    const file = newFile();
    // Build the version-2 schema as an older reagent-stream left it.
    const inst = await DuckDBInstance.create(file);
    const c = await inst.connect();
    const ctx = { prefix: "" };
    await c.run(migrationsTableDdl(ctx));
    for (const m of DUCKDB_MIGRATIONS.filter((x) => x.version <= 2)) {
      for (const st of m.statements(ctx)) await c.run(st);
      await c.run(`INSERT INTO schema_migrations VALUES (${m.version}, 'old', 'old', now()::TIMESTAMP, 'old', 'old')`);
    }
    c.closeSync();
    inst.closeSync();
    const results = makeResults(12, 93);
    const old = newSink(file, { migrate: false });
    await old.start();
    await Promise.all(results.map((r) => old.write(r)));
    await old.close();

    const sink = newSink(file);
    await sink.start();
    try {
      const report = await sink.migrate();
      expect(report.alreadyApplied).toEqual(DUCKDB_MIGRATIONS.map((m) => m.version));
      // Migration 4 gave rows with a tenant the engine's current id; a redelivery carries that id.
      const current = results.map(withTenantId);
      expect(current.some((r, i) => r.attribution_id !== results[i]!.attribution_id)).toBe(true);
      await Promise.all(current.map((r) => sink.write(r))); // redelivery after the upgrade
      const back = await sink.readRows(current.map((r) => r.attribution_id));
      expect(back.map((b) => b.spans.length)).toEqual(results.map((r) => r.spans.length));
      expect(await sink.countPhysical("attributions")).toBe(results.length);
      expect(await sink.countPhysical("attribution_spans")).toBe(results.reduce((n, r) => n + r.spans.length, 0));
      expect(await sink.countPhysical("attribution_segments")).toBe(results.reduce((n, r) => n + r.segments.length, 0));
    } finally {
      await sink.close();
    }
  });

  it("migration 5 adds unit_level and stopping_rule to a store created before it, keeping its rows", async () => {
    const file = newFile();
    const results = makeResults(6, 97);
    const first = newSink(file);
    await first.start();
    await Promise.all(results.map((r) => first.write(r)));
    await first.close();
    // Make it the store an older release left: no new columns, migration 5 not recorded.
    const inst = await DuckDBInstance.create(file);
    const c = await inst.connect();
    await c.run('ALTER TABLE attributions DROP COLUMN unit_level');
    await c.run('ALTER TABLE attributions DROP COLUMN stopping_rule');
    await c.run("DELETE FROM schema_migrations WHERE version = 5");
    c.closeSync();
    inst.closeSync();

    const sink = newSink(file);
    await sink.start();
    try {
      const back = await sink.readRows(results.map((r) => r.attribution_id));
      expect(back.map((r) => r.attribution.unit_level)).toEqual(results.map(() => "token"));
      expect(back.map((r) => r.attribution.stopping_rule)).toEqual(results.map(() => ""));
      await Promise.all(makeResults(2, 98).map((r) => sink.write(r)));
    } finally {
      await sink.close();
    }
  });

  it("runs DuckDB on the configured threads, by default one core less than the machine has", async () => {
    const threadsOf = async (sink: DuckDbSink): Promise<number> => {
      const q = { ...findQuery("coverage"), name: "threads", params: [], sql: { clickhouse: "", duckdb: "SELECT current_setting('threads') AS t" } };
      const { rows } = await sink.runQuery(q);
      return Number(rows[0]?.t);
    };
    for (const [overrides, expected] of [
      [{}, defaultDuckDbThreads()],
      [{ threads: 3 }, 3],
    ] as const) {
      const sink = newSink(newFile(), overrides as SinkOverrides);
      await sink.start();
      try {
        expect(await threadsOf(sink)).toBe(expected);
      } finally {
        await sink.close();
      }
    }
  });

  it("opens with a checkpoint_threshold and writes through it", async () => {
    const file = newFile();
    const sink = new DuckDbSink({ type: "duckdb", path: file, checkpoint_threshold: "256MB" });
    await sink.start();
    const results = makeResults(5, 94);
    await Promise.all(results.map((r) => sink.write(r)));
    await sink.close();
    const reopened = newSink(file, { read_only: true } as SinkOverrides);
    await reopened.start();
    try {
      expect(await reopened.countPhysical("attributions")).toBe(5);
    } finally {
      await reopened.close();
    }
  });
});
