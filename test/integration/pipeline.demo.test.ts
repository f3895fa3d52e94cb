/**
 * `reagent-stream demo` end to end: the bundled sample logs through the file source, mapping
 * (every preset), rules, the bundled ONNX model and the embedded DuckDB store, in a child
 * process as a user runs it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OtlpReceiver } from "./fixtures/otlp-receiver.js";
import { cleanEnv, runCli } from "./fixtures/cli.js";


describe("reagent-stream demo", () => {
  const out = mkdtempSync(join(tmpdir(), "reagent-demo-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs the pipeline on the bundled samples into DuckDB, prints a summary, and honours OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const rx = await OtlpReceiver.start();
    const t0 = Date.now();
    const r = await runCli(["demo", "--out", out], cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url }));
    await rx.stop();
    const secs = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    // Export is best effort within otel.shutdown_timeout_ms: on a loaded 2-core machine the last
    // batch can miss the deadline (counted as dropped), so this asserts that export happened.
    const spans = rx.spans.filter((s) => s.name.startsWith("reagent.attribute"));
    expect(spans.length).toBeGreaterThan(0);
    expect(spans.length).toBeLessThanOrEqual(8);
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
