/**
 * What real trace backends need from the attribution export, against real HTTP servers on
 * 127.0.0.1 and real attributions on the bundled tiny-lm:
 * - a late attribution (a replayed week-old log) goes on a new trace linked to the logged span,
 *   while a timely one stays a child of it;
 * - a backend that refuses OTLP logs (405, as Phoenix does) is asked once, spans still flow;
 * - Langfuse scores: one POST /api/public/scores per attribution with basic auth, on the
 *   logged trace and observation.
 * (Phoenix span annotations are tested against a real Phoenix in phoenix.test.ts.)
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOtelExporter } from "../../connectors/otel/index.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { buildEngine, BUNDLED_LM_DIR, type BuiltEngine } from "../../src/app/engine.js";
import { loadLocalModel, type LocalModel } from "../../src/models/local-model.js";
import { freePort, OtlpReceiver } from "./fixtures/otlp-receiver.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const WEEK_MS = 7 * 24 * 3600 * 1000;

let local: LocalModel;
let built: BuiltEngine;
let timely: AttributionResult;
let late: AttributionResult;

beforeAll(async () => {
  local = await loadLocalModel(BUNDLED_LM_DIR);
  built = await buildEngine({ model: local, engine: { sampler: "uniform", num_probes: 4, max_steps: 30, max_targets: 2 } });
  const ask = (id: string, ts: string): Promise<AttributionResult> =>
    built.engine.attribute({
      prompt: "Contact me at ada@example.com. When my flight landed in Greece, I was staying in the capital,",
      completion: " Athens",
      context: { record_id: id, trace_id: TRACE, span_id: SPAN, response_id: `chatcmpl-${id}`, provider: "openai", logged_model: "gpt-4o-mini", record_timestamp: ts },
    });
  timely = await ask("timely", new Date().toISOString());
  late = await ask("late", new Date(Date.now() - WEEK_MS).toISOString());
});

afterAll(async () => {
  await built?.close();
  await local?.scorer.close();
});

describe("attribution spans in trace backends", () => {
  it("puts a late attribution on a new trace linked to the logged span; a timely one stays its child", async () => {
    const rx = await OtlpReceiver.start();
    try {
      const otel = await createOtelExporter({ enabled: true, endpoint: rx.url, late_after_ms: 3_600_000, span_text: "redacted" }, { env: {} });
      otel.exporter.onAttributed(timely);
      otel.exporter.onAttributed(late);
      await otel.shutdown();
      const byId = (id: string) => rx.spans.find((s) => s.attributes["reagent.record.id"]?.value === id)!;
      const t = byId("timely");
      expect(t.traceId).toBe(TRACE);
      expect(t.parentSpanId).toBe(SPAN);
      expect(t.attributes["reagent.late_ms"]).toBeUndefined();
      const l = byId("late");
      expect(l.traceId).not.toBe(TRACE);
      expect(l.parentSpanId).toBe("");
      expect(l.links.map((k) => [k.traceId, k.spanId])).toEqual([[TRACE, SPAN]]);
      expect(l.attributes["reagent.source.trace_id"]?.value).toBe(TRACE);
      expect(Number(l.attributes["reagent.late_ms"]?.value)).toBeGreaterThan(WEEK_MS - 60_000);
      // The span lasts as long as the attribution did, not a week.
      expect(Number(l.endTimeUnixNano - l.startTimeUnixNano) / 1e6).toBeCloseTo(late.timings.duration_ms, 0);
      // Readable, with the e-mail address masked under span_text: redacted.
      const out = String(t.attributes["output.value"]?.value);
      expect(JSON.parse(out)).toMatchObject({ top_spans: expect.any(Array), convergence: expect.any(Object) });
      expect(JSON.stringify(t.attributes)).not.toContain("ada@example.com");
      expect(String(t.attributes["input.value"]?.value)).toContain("Athens");
    } finally {
      await rx.stop();
    }
  });

  it("asks a backend that refuses OTLP logs (405) once, and keeps exporting spans", async () => {
    const rx = await OtlpReceiver.start();
    rx.refuse.add("logs");
    const warnings: string[] = [];
    try {
      const otel = await createOtelExporter(
        { enabled: true, endpoint: rx.url, evaluation_events: true, schedule_delay_ms: 20 },
        { env: {}, log: { warn: (_o, msg) => warnings.push(msg) } },
      );
      otel.exporter.onAttributed(timely);
      await rx.waitFor(() => rx.refusedCount.logs === 1 && rx.spans.length === 1, 10_000, "the first logs request and the span");
      otel.exporter.onAttributed(late);
      await otel.shutdown();
      expect(rx.refusedCount.logs).toBe(1);
      expect(rx.spans).toHaveLength(2);
      expect(otel.stats().logs.droppedByReason).toEqual({ not_accepted: 2 });
      expect(warnings.filter((w) => w.includes("does not take logs"))).toHaveLength(1);
      expect(rx.spans[0]!.attributes["gen_ai.evaluation.score.label"]).toBeDefined();
    } finally {
      await rx.stop();
    }
  });

  it("writes one Langfuse score per attribution on the logged trace and observation, with basic auth", async () => {
    const got: { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        got.push({ url: req.url ?? "", headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
        res.statusCode = 200;
        res.setHeader("content-type", "application/json");
        res.end('{"id":"x"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const otel = await createOtelExporter(
        { annotations: { langfuse: { url }, schedule_delay_ms: 20 } },
        { env: { LANGFUSE_PUBLIC_KEY: "pk-lf-test", LANGFUSE_SECRET_KEY: "sk-lf-test" } },
      );
      otel.exporter.onAttributed(timely);
      await otel.shutdown();
      expect(otel.annotationStats()).toEqual({ sent: 1, dropped: 0, skipped: 0 });
      expect(got).toHaveLength(1);
      expect(got[0]!.url).toBe("/api/public/scores");
      expect(got[0]!.headers.authorization).toBe(`Basic ${Buffer.from("pk-lf-test:sk-lf-test").toString("base64")}`);
      expect(got[0]!.body).toMatchObject({
        id: timely.attribution_id,
        traceId: TRACE,
        observationId: SPAN,
        name: "reagent.top_spans_share",
        dataType: "NUMERIC",
        value: expect.any(Number),
        comment: expect.stringMatching(/top prompt spans/),
      });
      // span_text defaults to none: character ranges, no prompt text.
      expect(JSON.stringify(got[0]!.body)).not.toContain("Greece");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("serves /healthz and /readyz beside /metrics on the Prometheus port", async () => {
    const otel = await createOtelExporter({ prometheus: { enabled: true, port: await freePort() } }, { env: {} });
    try {
      const base = otel.prometheusUrl!.replace(/\/metrics$/, "");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      otel.setReady(true);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      otel.metrics.recordsConsumed(3, "file");
      const scrape = await (await fetch(otel.prometheusUrl!)).text();
      expect(scrape).toContain("reagent_stream_records_consumed_total");
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await otel.shutdown();
    }
  });
});
