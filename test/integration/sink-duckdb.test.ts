/**
 * The DuckDB sink on real database files: the conformance suite, plus DuckDB specifics — the
 * primary key keeps one physical row per id, the file survives a reopen, read-only opening.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { makeResults } from "../conformance/attribution-fixtures.js";
import { runSinkConformance } from "../conformance/sink.js";
import type { SinkOverrides } from "../conformance/sink.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reagent-duckdb-"));
let n = 0;
const newFile = (): string => path.join(dir, `store-${(n += 1)}.duckdb`);
const newSink = (file: string, overrides: SinkOverrides = {}): DuckDbSink => new DuckDbSink({ type: "duckdb", path: file, ...overrides });

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

runSinkConformance({
  name: "duckdb",
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
      expect(await reopened.readRows(results.map((r) => r.attribution_id))).toHaveLength(30);
      const { rows } = await reopened.runQuery("attribution_summary");
      expect(rows.reduce((s, r) => s + Number(r.attributions), 0)).toBe(30);
    } finally {
      await reopened.close();
    }
  });
});
