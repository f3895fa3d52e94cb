/**
 * `reagent-stream migrate` and `reagent-stream query` as a user runs them: the real binary,
 * against a DuckDB file and the ClickHouse test server.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import { REPO_ROOT } from "../../deploy/services/config.js";
import { QUERY_DATASET } from "../conformance/query-dataset.js";
import { dropTestDatabase, testClickHouse, testEndpoints, uniqueName } from "./services.js";

const run = promisify(execFile);
const cli = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
  run(process.execPath, [path.join(REPO_ROOT, "bin", "reagent-stream.js"), ...args], { cwd: REPO_ROOT, timeout: 120_000 });

describe("reagent-stream migrate / query", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reagent-cli-"));
  const file = path.join(dir, "audit.duckdb");
  const db = uniqueName("sink_cli");
  const admin = testClickHouse();

  beforeAll(async () => {
    const ch = new ClickHouseSink({ type: "clickhouse", url: testEndpoints().clickhouseUrl, database: db, store_text: "full" });
    await ch.start();
    await Promise.all(QUERY_DATASET.map((r) => ch.write(r)));
    await ch.close();
  });

  afterAll(async () => {
    await dropTestDatabase(admin, db).catch(() => undefined);
    await admin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("migrates a new DuckDB file, then finds nothing to do", async () => {
    const first = await cli("migrate", "--file", file, "--json");
    expect(JSON.parse(first.stdout)).toMatchObject({ store: "duckdb", applied: [{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }], alreadyApplied: [] });
    const again = await cli("migrate", "--file", file);
    expect(again.stdout).toContain("already applied: 1, 2, 3, 4, 5");
    expect(again.stdout).toContain("nothing to do");
  });

  it("queries DuckDB (json) and ClickHouse (csv) with bound parameters", async () => {
    const duck = new DuckDbSink({ type: "duckdb", path: file, store_text: "full" });
    await duck.start();
    await Promise.all(QUERY_DATASET.map((r) => duck.write(r)));
    await duck.close();

    const j = await cli("query", "user_dominated_completions", "--file", file, "--param", "min_share=0.85", "--format", "json");
    expect((JSON.parse(j.stdout) as { attribution_id: string }[]).map((r) => r.attribution_id)).toEqual(["q05", "q02"]);

    const c = await cli("query", "cost_by_model", "--store", "clickhouse", "--url", testEndpoints().clickhouseUrl, "--database", db, "--param", "from=2024-05-02", "--format", "csv");
    expect(c.stdout.split("\r\n")).toEqual([
      "day,model,attributions,model_calls,sequences_evaluated,tokens_processed,tokens_per_attribution,avg_duration_ms,max_duration_ms",
      "2024-05-02,m-b,2,60,240,6000,3000,3000,4000",
      "2024-05-03,m-a,1,5,20,500,500,500,500",
      "",
    ]);
  });

  it("fails with a typed message and exit code 2 on a bad parameter", async () => {
    const err = (await cli("query", "coverage", "--file", file, "--param", "from=yesterday").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('binding query parameter from: "yesterday" is not a valid Date');
  });
});
