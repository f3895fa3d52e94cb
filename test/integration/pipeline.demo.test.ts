/**
 * `reagent-stream demo` end to end: the bundled sample logs through the file source, mapping
 * (every preset), rules, the bundled ONNX model and the embedded DuckDB store, in a child
 * process as a user runs it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

describe("reagent-stream demo", () => {
  const out = mkdtempSync(join(tmpdir(), "reagent-demo-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs the pipeline on the bundled samples into DuckDB and prints a summary", () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [join(ROOT, "bin/reagent-stream.js"), "demo", "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
    const secs = (Date.now() - t0) / 1000;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/records 17 .* parsed 15, dead-lettered 2/);
    expect(r.stdout).toMatch(/"sampled:rule:showcase":1/);
    expect(r.stdout).toMatch(/"skipped:rule:logged_models":7/);
    expect(r.stdout).toMatch(/attributed 8 /);
    expect(r.stdout).toContain("■ chat-peru");
    expect(existsSync(join(out, "reagent-stream.duckdb"))).toBe(true);
    const results = readFileSync(join(out, "results.jsonl"), "utf8").trim().split("\n");
    expect(results).toHaveLength(8);
    const letters = readFileSync(join(out, "dead-letters.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { stage: string; error_code: string });
    expect(letters.map((l) => l.stage).sort()).toEqual(["parse", "validate"]);
    console.log(`[demo test] finished in ${secs.toFixed(1)} s`);
  }, 300_000);
});
