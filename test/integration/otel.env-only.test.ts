/**
 * The README's OpenTelemetry command as a user types it: `OTEL_EXPORTER_OTLP_ENDPOINT=… run
 * --config worker.yaml` with NO `otel:` section in the YAML, against a real OTLP/HTTP receiver.
 * The attribution spans must arrive, on the logged trace. The decoded requests are kept in
 * test-output/otel/env-only-requests.json for a person to read.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeJsonArtifact } from "./fixtures/artifacts.js";
import { cleanEnv, runCli } from "./fixtures/cli.js";
import { OtlpReceiver } from "./fixtures/otlp-receiver.js";

const ROOT = resolve(import.meta.dirname, "../..");

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("OTEL_EXPORTER_OTLP_ENDPOINT alone turns export on", () => {
  const dir = mkdtempSync(join(tmpdir(), "reagent-otel-env-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("run --config without an otel: section exports the attribution span under the logged span", async () => {
    const logs = join(dir, "logs.jsonl");
    writeFileSync(
      logs,
      `${JSON.stringify({ id: "env-1", trace_id: TRACE, span_id: SPAN, model: "gpt-4o-mini", prompt: "When my flight landed in Greece, I was staying in the capital,", completion: " Athens" })}\n`,
    );
    const cfg = join(dir, "worker.yaml");
    writeFileSync(
      cfg,
      [
        "source: { type: file, path: " + JSON.stringify(logs) + ", progress: off }",
        "mapping: { preset: flat }",
        "sampling: { rate: 1 }",
        "scorer: { type: local, path: " + JSON.stringify(join(ROOT, "models/tiny-lm")) + " }",
        "engine: { method: reagent, sampler: uniform, num_probes: 4, max_steps: 30, max_targets: 2 }",
        "sinks: [{ type: jsonl, path: " + JSON.stringify(join(dir, "results.jsonl")) + " }]",
        "dead_letter: { type: jsonl, path: " + JSON.stringify(join(dir, "dl.jsonl")) + " }",
        "logging: { level: warn }",
        "",
      ].join("\n"),
    );
    const rx = await OtlpReceiver.start();
    try {
      const r = await runCli(["run", "--config", cfg, "--summary", "none"], cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url }));
      expect(r.code, r.stderr).toBe(0);
      expect(rx.decodeErrors).toEqual([]);
      const signals = [...new Set(rx.requests.map((q) => q.signal))].sort();
      expect(signals).toContain("traces");
      expect(signals).toContain("metrics");
      const span = rx.spans.find((s) => s.name.startsWith("reagent.attribute"));
      expect(span).toBeDefined();
      expect(span!.traceId).toBe(TRACE);
      expect(span!.parentSpanId).toBe(SPAN);
      writeJsonArtifact("otel/env-only-requests.json", {
        command: "OTEL_EXPORTER_OTLP_ENDPOINT=<receiver> reagent-stream run --config worker.yaml (no otel: section)",
        requests: rx.requests.map((q) => ({ signal: q.signal, path: `/v1/${q.signal}`, content_type: q.headers["content-type"], bytes: q.body.length })),
        spans: rx.spans,
        metrics: rx.metrics.map((m) => ({ name: m.name, unit: m.unit, type: m.type, points: m.points.length })),
        logs: rx.logs,
      });
    } finally {
      await rx.stop();
    }
  });
});
