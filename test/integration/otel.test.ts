/**
 * OpenTelemetry export end to end: real attributions on the bundled tiny-lm, exported by the
 * real OTLP/HTTP protobuf exporters to a real receiver (node:http on 127.0.0.1, decoding with
 * protobufjs from the OTLP .proto), and a real Prometheus scrape.
 *
 * The pipeline's worker (`reagent-stream run`) is not in the tree yet, so a small loop here
 * plays the pipeline: it calls PipelineMetrics at each event with the real attributions' values
 * (cost, duration, per-call scorer latency through a timing wrapper around the ONNX scorer).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTRIBUTE_SPECS, createOtelExporter, METRIC_SPECS, prometheusNames, type OtelExport } from "../../connectors/otel/index.js";
import type { AttributionModel, AttributeRequest } from "../../src/attribution/engine.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { buildEngine, BUNDLED_LM_DIR, type BuiltEngine } from "../../src/app/engine.js";
import { isReagentError } from "../../src/errors.js";
import { loadLocalModel, type LocalModel } from "../../src/models/local-model.js";
import type { Scorer } from "../../src/attribution/scorer.js";
import { noopMetrics, type AttributionFailure, type PipelineMetrics } from "../../src/pipeline/contracts.js";
import { freePort, OtlpReceiver, type AttrValue, type DecodedSpan } from "./fixtures/otlp-receiver.js";

const LOGGED_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const LOGGED_SPAN = "00f067aa0ba902b7";
const ONLY_TRACE = "a3ce929d0e0e47364bf92f3577b34da6";

/** Words that occur only in prompts and completions: none may leave the process unless opted in. */
const SECRET_WORDS = ["Zanzibar", "lighthouse", "marmalade", "Quixotic", "harbourmaster", "tangerine", "periwinkle"];

/** Logged LLM calls, as the parse stage would hand them over. */
const RECORDS: { id: string; model: string; req: AttributeRequest }[] = [
  {
    id: "rec-1",
    model: "gpt-4o-mini",
    req: {
      prompt: [
        { role: "system", content: "You are the Zanzibar lighthouse keeper." },
        { role: "user", content: "Who keeps the lighthouse? The harbourmaster eats marmalade." },
      ],
      completion: "The keeper of the lighthouse.",
      context: { record_id: "rec-1", trace_id: LOGGED_TRACE, span_id: LOGGED_SPAN, response_id: "chatcmpl-abc123", provider: "openai", logged_model: "gpt-4o-mini" },
    },
  },
  {
    id: "rec-2",
    model: "gpt-4o-mini",
    req: {
      prompt: "A Quixotic tangerine sat on the table near the lighthouse.",
      completion: " The table was old.",
      context: { record_id: "rec-2", trace_id: ONLY_TRACE, response_id: "chatcmpl-def456", provider: "openai", logged_model: "gpt-4o-mini" },
    },
  },
  {
    id: "rec-3",
    model: "llama-3-8b",
    req: { prompt: "The periwinkle boat left the harbour at dawn.", completion: " It came back at night.", context: { record_id: "rec-3" } },
  },
];

function expectedSpanTimes(r: AttributionResult): { start: bigint; end: bigint } {
  const startMs = Date.parse(r.timings.started_at);
  const start = BigInt(startMs) * 1_000_000n;
  return { start, end: start + BigInt(Math.round(r.timings.duration_ms * 1e6)) };
}

function attr(s: DecodedSpan, k: string): AttrValue | undefined {
  return s.attributes[k];
}

/** Types allowed on the wire for a documented type (whole doubles travel as int; mixed arrays decode as number[]). */
function wireTypeOk(declared: string, wire: string): boolean {
  if (declared === wire) return true;
  if (declared === "double") return wire === "int";
  if (declared === "double[]") return wire === "int[]" || wire === "number[]";
  return false;
}

function documentedTypes(): Map<string, string> {
  const md = readFileSync(new URL("../../schemas/otel-attributes.md", import.meta.url), "utf8");
  const section = md.split("## Attributes")[1]!.split("\n## ")[0]!;
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const m = /^\| `([^`]+)` \| ([a-z[\]]+) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

/** Prometheus text format -> sample name{labels} -> value. */
function parseProm(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function promValue(samples: ReturnType<typeof parseProm>, name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

let local: LocalModel;
let built: BuiltEngine;
/** Where the timing scorer reports endpoint latency (the current run's metrics). */
let endpointMetrics: PipelineMetrics = noopMetrics;

beforeAll(async () => {
  local = await loadLocalModel(BUNDLED_LM_DIR);
  const inner = local.scorer;
  const timed: Scorer = {
    info: inner.info,
    capabilities: inner.capabilities,
    score: async (batch, opts) => {
      const t0 = performance.now();
      try {
        const out = await inner.score(batch, opts);
        endpointMetrics.endpointRequest(inner.info.model, performance.now() - t0, "ok");
        return out;
      } catch (err) {
        endpointMetrics.endpointRequest(inner.info.model, performance.now() - t0, "error");
        throw err;
      }
    },
    close: () => inner.close(),
  };
  const model: AttributionModel = { scorer: timed, tokenizer: local.tokenizer, chatTemplate: local.chatTemplate, addBos: local.addBos };
  built = await buildEngine({ model, engine: { sampler: "uniform", num_probes: 4, max_steps: 50 } });
});

afterAll(async () => {
  await built?.close();
  await local?.scorer.close();
});

describe("OTLP export to a real receiver, metrics on a real Prometheus endpoint", () => {
  let rx: OtlpReceiver;
  let otel: OtelExport;
  const results: AttributionResult[] = [];
  let failure: AttributionFailure;
  let scrape = "";

  beforeAll(async () => {
    rx = await OtlpReceiver.start();
    otel = await createOtelExporter(
      {
        enabled: true,
        endpoint: rx.url,
        headers: { "x-reagent-test": "yes" },
        service_name: "reagent-otel-test",
        evaluation_events: true,
        metric_export_interval_ms: 60_000,
        prometheus: { enabled: true, port: await freePort() },
      },
      { env: {} },
    );
    const { exporter, metrics } = otel;
    endpointMetrics = metrics;

    // The pipeline, played by hand: consume, parse, sample, attribute, write, commit.
    metrics.recordsConsumed(RECORDS.length + 2, "file");
    metrics.recordDeadLettered("parse", "record_invalid"); // one line that is not JSON
    // The endpoint's breaker as src/app/worker.ts reports it: closed at the first request.
    metrics.endpointBreaker(local.scorer.info.model, "closed");
    for (const rec of RECORDS) {
      metrics.recordParsed("file");
      metrics.recordDecision("sampled", "rate", rec.model);
      metrics.inFlight(1);
      const r = await built.engine.attribute(rec.req);
      results.push(r);
      metrics.modelCalls(r.cost.model_calls, r.model.name);
      metrics.tokensScored(r.cost.tokens_processed, r.model.name);
      metrics.recordAttributed(rec.model, r.timings.duration_ms);
      exporter.onAttributed(r);
      metrics.sinkBatch("memory", 1, 0.4, true);
      metrics.inFlight(-1);
      metrics.commitLag("file", "0", RECORDS.length - results.length);
    }
    // A record the engine rejects (nothing to attribute): a real failure.
    metrics.recordParsed("file");
    metrics.recordDecision("sampled", "rate", "gpt-4o-mini");
    const startedAt = new Date();
    const ctx = { record_id: "rec-4", trace_id: LOGGED_TRACE, span_id: LOGGED_SPAN, response_id: "chatcmpl-ghi789", provider: "openai", logged_model: "gpt-4o-mini" };
    try {
      await built.engine.attribute({ prompt: "Zanzibar marmalade", completion: "", context: ctx });
      throw new Error("expected the engine to reject an empty completion");
    } catch (err) {
      if (!isReagentError(err)) throw err;
      failure = { context: { ...results[0]!.context, ...ctx }, model: "tiny-lm", code: err.code, message: err.message, startedAt, endedAt: new Date() };
      exporter.onFailed(failure);
      metrics.recordFailed("attribute", err.code);
      metrics.recordDeadLettered("attribute", err.code);
    }
    metrics.recordDecision("skipped", "rate", "gpt-4o-mini");

    scrape = await (await fetch(otel.prometheusUrl!)).text();
    await otel.shutdown();
    endpointMetrics = noopMetrics;
  });

  afterAll(async () => {
    await rx?.stop();
  });

  it("decodes every request, with the configured headers and service name", () => {
    expect(rx.decodeErrors).toEqual([]);
    expect(new Set(rx.requests.map((r) => r.signal))).toEqual(new Set(["traces", "logs", "metrics"]));
    for (const r of rx.requests) {
      expect(r.headers["x-reagent-test"]).toBe("yes");
      expect(r.headers["content-type"]).toBe("application/x-protobuf");
    }
    for (const s of rx.spans) {
      expect(s.resource["service.name"]?.value).toBe("reagent-otel-test");
      expect(s.scope.name).toBe("reagent-stream");
    }
    expect(otel.stats().traces).toMatchObject({ exported: 4, dropped: 0 });
  });

  it("puts the span of a record with trace and span ids under the logged span, with a link to it", () => {
    const r = results[0]!;
    const s = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === r.attribution_id)!;
    expect(s).toBeDefined();
    expect(s.name).toBe("reagent.attribute gpt-4o-mini");
    expect(s.kind).toBe(1); // INTERNAL
    expect(s.traceId).toBe(LOGGED_TRACE);
    expect(s.parentSpanId).toBe(LOGGED_SPAN);
    expect(s.links).toHaveLength(1);
    expect(s.links[0]).toMatchObject({ traceId: LOGGED_TRACE, spanId: LOGGED_SPAN });
    expect(s.links[0]!.attributes["reagent.link.type"]?.value).toBe("attributed_call");
    expect(s.status.code).toBe(0);
    const t = expectedSpanTimes(r);
    expect(Number(s.startTimeUnixNano - t.start)).toBe(0);
    expect(Math.abs(Number(s.endTimeUnixNano - t.end))).toBeLessThan(1000); // < 1 µs
    expect(attr(s, "reagent.parent")?.value).toBe("span");
  });

  it("a record with only a trace id joins that trace as a root; one with no ids starts a new trace", () => {
    const s2 = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === results[1]!.attribution_id)!;
    expect(s2.traceId).toBe(ONLY_TRACE);
    expect(s2.parentSpanId).toBe("");
    expect(s2.links).toEqual([]);
    expect(attr(s2, "reagent.parent")?.value).toBe("trace");
    expect(attr(s2, "openinference.span.kind")?.value).toBe("EVALUATOR");

    const s3 = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === results[2]!.attribution_id)!;
    expect(s3.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect([LOGGED_TRACE, ONLY_TRACE]).not.toContain(s3.traceId);
    expect(s3.parentSpanId).toBe("");
    expect(s3.links).toEqual([]);
    expect(s3.name).toBe("reagent.attribute tiny-lm");
    expect(attr(s3, "reagent.parent")?.value).toBe("none");
    expect(attr(s3, "gen_ai.provider.name")).toBeUndefined();
  });

  it("carries every documented attribute with its documented type and the result's values", () => {
    const doc = documentedTypes();
    expect(doc.size).toBe(ATTRIBUTE_SPECS.length);
    const seen = new Set<string>();
    for (const s of rx.spans) {
      expect(s.droppedAttributesCount).toBe(0);
      for (const [k, v] of Object.entries(s.attributes)) {
        expect(doc.has(k), `undocumented attribute ${k}`).toBe(true);
        expect(wireTypeOk(doc.get(k)!, v.type), `${k}: documented ${doc.get(k)}, exported ${v.type}`).toBe(true);
        seen.add(k);
      }
    }
    // All but the two that need other settings (tested below) appear in this run.
    // (faithfulness: the engine does not compute it yet; the unit tests cover those two.)
    const notHere = ["reagent.spans.text", "reagent.source.trace_id", "reagent.late_ms", "reagent.faithfulness.name", "reagent.faithfulness.value"];
    expect([...doc.keys()].filter((k) => !seen.has(k) && !notHere.includes(k))).toEqual([]);

    const r = results[0]!;
    const s = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === r.attribution_id)!;
    const v = (k: string): unknown => attr(s, k)?.value;
    expect(v("gen_ai.provider.name")).toBe("openai");
    expect(v("gen_ai.request.model")).toBe("gpt-4o-mini");
    expect(v("gen_ai.response.id")).toBe("chatcmpl-abc123");
    expect(v("gen_ai.operation.name")).toBeUndefined(); // not an LLM call
    expect(v("openinference.span.kind")).toBe("EVALUATOR");
    expect(v("gen_ai.evaluation.score.label")).toBe(r.convergence.converged ? "converged" : "not_converged");
    expect(JSON.parse(v("output.value") as string)).toMatchObject({ attribution_id: r.attribution_id, top_spans: expect.any(Array) });
    expect(v("reagent.record.id")).toBe("rec-1");
    expect(v("reagent.method")).toBe("reagent");
    expect(v("reagent.mode")).toBe("joint");
    expect(v("reagent.sampler")).toBe("uniform");
    expect(v("reagent.unit_level")).toBe("token");
    expect(v("reagent.stopping_rule")).toBe("ensemble");
    expect(v("reagent.config_hash")).toBe(r.config_hash);
    expect(v("reagent.engine.version")).toBe(r.engine_version);
    expect(v("reagent.scorer.id")).toBe(r.model.scorer_id);
    expect(v("reagent.convergence.probes_converged")).toBe(r.convergence.probes_converged);
    expect(v("reagent.convergence.probes_total")).toBe(r.convergence.probes_total);
    expect(v("reagent.convergence.steps_total")).toBe(r.convergence.steps_total);
    expect(v("reagent.cost.model_calls")).toBe(r.cost.model_calls);
    expect(v("reagent.cost.tokens_processed")).toBe(r.cost.tokens_processed);
    expect(v("reagent.duration_ms") as number).toBeCloseTo(r.timings.duration_ms, 1);
    expect(v("reagent.spans.start")).toEqual(r.spans.map((x) => x.start));
    expect(v("reagent.spans.end")).toEqual(r.spans.map((x) => x.end));
    expect((v("reagent.spans.score") as number[]).map((x) => x.toFixed(4))).toEqual(r.spans.map((x) => x.score.toFixed(4)));
    expect(v("reagent.spans.segment")).toEqual(r.spans.map((x) => x.segment ?? ""));
    expect(v("reagent.sequence.length")).toBe(r.sequence.importance.length);
    expect((v("reagent.sequence.importance") as number[]).length).toBe(r.sequence.importance.length);
    expect(new Set(v("reagent.segments.name") as string[])).toEqual(new Set(r.segments.map((x) => x.name)));
  });

  it("exports a failed attribution as an ERROR span under the logged span", () => {
    const s = rx.spans.find((x) => attr(x, "error.type") !== undefined)!;
    expect(s).toBeDefined();
    expect(s.status.code).toBe(2);
    expect(s.status.message).toBe(`${failure.code}: ${failure.message}`);
    expect(s.traceId).toBe(LOGGED_TRACE);
    expect(s.parentSpanId).toBe(LOGGED_SPAN);
    expect(attr(s, "error.type")?.value).toBe("input_rejected");
    expect(attr(s, "gen_ai.response.id")?.value).toBe("chatcmpl-ghi789");
    expect(s.startTimeUnixNano).toBe(BigInt(failure.startedAt.getTime()) * 1_000_000n);
  });

  it("sends no prompt or completion text anywhere (spans, events, metrics)", () => {
    const all = rx.allBytes().toString("latin1");
    expect(all.length).toBeGreaterThan(1000);
    for (const w of SECRET_WORDS) expect(all.includes(w), w).toBe(false);
    for (const r of results) {
      for (const sp of r.spans) if (sp.text.trim().length >= 6) expect(all.includes(sp.text), sp.text).toBe(false);
      expect(all.includes(r.completion.text.trim())).toBe(false);
    }
  });

  it("emits one gen_ai.evaluation.result event per attribution, on the logged span when known", () => {
    expect(rx.logs).toHaveLength(3);
    for (const l of rx.logs) {
      expect(l.eventName).toBe("gen_ai.evaluation.result");
      expect(l.attributes["gen_ai.evaluation.name"]?.value).toBe("reagent.top_spans_share");
      const score = l.attributes["gen_ai.evaluation.score.value"]!;
      expect(["double", "int"]).toContain(score.type);
      expect(score.value as number).toBeGreaterThanOrEqual(0);
      expect(score.value as number).toBeLessThanOrEqual(1);
    }
    const first = rx.logs.find((l) => l.attributes["reagent.attribution.id"]?.value === results[0]!.attribution_id)!;
    expect(first.traceId).toBe(LOGGED_TRACE);
    expect(first.spanId).toBe(LOGGED_SPAN);
    expect(first.attributes["gen_ai.response.id"]?.value).toBe("chatcmpl-abc123");
    expect(first.attributes["gen_ai.evaluation.score.value"]?.value as number).toBeCloseTo(
      results[0]!.spans.reduce((s, x) => s + x.score, 0),
      4,
    );
    const third = rx.logs.find((l) => l.attributes["reagent.attribution.id"]?.value === results[2]!.attribution_id)!;
    const ownSpan = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === results[2]!.attribution_id)!;
    expect([third.traceId, third.spanId]).toEqual([ownSpan.traceId, ownSpan.spanId]);
  });

  it("pushes the pipeline metrics over OTLP on shutdown", () => {
    const names = new Set(rx.metrics.map((m) => m.name));
    const expected = Object.values(METRIC_SPECS)
      .map((m) => m.name)
      .filter((n) => n !== METRIC_SPECS.otelDropped.name && n !== METRIC_SPECS.endpointErrors.name); // nothing dropped, no endpoint error
    expect(expected.filter((n) => !names.has(n))).toEqual([]);
    const attributed = rx.metrics.filter((m) => m.name === METRIC_SPECS.attributed.name).at(-1)!;
    expect(attributed.type).toBe("sum");
    expect(attributed.isMonotonic).toBe(true);
    expect(attributed.points.reduce((s, p) => s + p.value, 0)).toBe(3);
    const dur = rx.metrics.filter((m) => m.name === METRIC_SPECS.attributionDuration.name).at(-1)!;
    expect(dur.type).toBe("histogram");
    expect(dur.unit).toBe("s");
  });

  it("serves the documented metrics on the Prometheus endpoint with the run's values", () => {
    const samples = parseProm(scrape);
    const names = new Set(samples.map((s) => s.name));
    for (const spec of Object.values(METRIC_SPECS)) {
      if (spec === METRIC_SPECS.otelDropped || spec === METRIC_SPECS.endpointErrors || spec === METRIC_SPECS.otelExported) continue;
      for (const n of prometheusNames(spec)) expect(names.has(n), n).toBe(true);
    }
    const totalCalls = results.reduce((s, r) => s + r.cost.model_calls, 0);
    const totalTokens = results.reduce((s, r) => s + r.cost.tokens_processed, 0);
    const totalSeconds = results.reduce((s, r) => s + r.timings.duration_ms, 0) / 1000;
    expect(promValue(samples, "reagent_stream_records_consumed_total", { source: "file" })).toBe(5);
    expect(promValue(samples, "reagent_stream_records_parsed_total")).toBe(4);
    expect(promValue(samples, "reagent_stream_records_sampled_total")).toBe(4);
    expect(promValue(samples, "reagent_stream_records_skipped_total")).toBe(1);
    expect(promValue(samples, "reagent_stream_records_attributed_total")).toBe(3);
    expect(promValue(samples, "reagent_stream_endpoint_breaker_state", { state: "closed" })).toBe(1);
    expect(promValue(samples, "reagent_stream_endpoint_breaker_state", { state: "open" })).toBe(0);
    expect(promValue(samples, "reagent_stream_records_attributed_total", { model: "gpt-4o-mini" })).toBe(2);
    expect(promValue(samples, "reagent_stream_records_failed_total", { stage: "attribute", code: "input_rejected" })).toBe(1);
    expect(promValue(samples, "reagent_stream_records_dead_lettered_total")).toBe(2);
    expect(promValue(samples, "reagent_stream_model_calls_total", { model: "tiny-lm" })).toBe(totalCalls);
    expect(promValue(samples, "reagent_stream_tokens_scored_total")).toBe(totalTokens);
    // Every scorer call went through the timing wrapper.
    expect(promValue(samples, "reagent_stream_endpoint_duration_seconds_count", { model: "tiny-lm", outcome: "ok" })).toBe(totalCalls);
    expect(promValue(samples, "reagent_stream_endpoint_duration_seconds_sum")).toBeGreaterThan(0);
    expect(promValue(samples, "reagent_stream_endpoint_duration_seconds_sum")).toBeLessThanOrEqual(totalSeconds + 0.5);
    expect(promValue(samples, "reagent_stream_attribution_duration_seconds_count")).toBe(3);
    expect(promValue(samples, "reagent_stream_attribution_duration_seconds_sum")).toBeCloseTo(totalSeconds, 3);
    expect(promValue(samples, "reagent_stream_attribution_duration_seconds_bucket", { le: "+Inf" })).toBe(3);
    expect(promValue(samples, "reagent_stream_records_in_flight")).toBe(0);
    expect(promValue(samples, "reagent_stream_commit_lag", { source: "file", partition: "0" })).toBe(0);
    expect(promValue(samples, "reagent_stream_sink_rows_total", { sink: "memory", outcome: "ok" })).toBe(3);
    expect(promValue(samples, "reagent_stream_sink_batch_duration_seconds_count", { sink: "memory" })).toBe(3);
    expect(scrape).toContain('target_info{service_name="reagent-otel-test"');
  });

  it("names every scraped family by Prometheus conventions (unit suffix, _total), none by its 0.1.0 name", () => {
    const families = new Map<string, { type: string; unit?: string }>();
    for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, { type: m[2]! });
    for (const m of scrape.matchAll(/^# UNIT (\S+) (\S+)$/gm)) families.get(m[1]!)!.unit = m[2]!;
    const ours = [...families].filter(([name]) => name.startsWith("reagent_stream_"));
    expect(ours.length).toBeGreaterThanOrEqual(15);
    for (const [name, f] of ours) {
      if (f.type === "counter") expect(name).toMatch(/_total$/);
      if (f.type === "histogram") expect(name, name).toMatch(/_seconds$/); // every histogram here is a duration
      if (f.unit !== undefined) expect(name.endsWith(`_${f.unit}`) || name.endsWith(`_${f.unit}_total`), name).toBe(true);
    }
    // Every sample belongs to a declared family, under the name docs/otel.md lists.
    const documented = new Set(Object.values(METRIC_SPECS).flatMap(prometheusNames));
    for (const s of parseProm(scrape)) if (s.name.startsWith("reagent_stream_")) expect(documented.has(s.name), s.name).toBe(true);
    for (const old of ["reagent_stream_endpoint_duration_count", "reagent_stream_attribution_duration_count", "reagent_stream_sink_batch_duration_count"]) {
      expect(scrape).not.toMatch(new RegExp(`^${old}[{ ]`, "m"));
    }
  });
});

describe("opt-in span text and link mode", () => {
  it("exports span text only with dangerously_capture_span_text, and link mode starts new traces", async () => {
    const rx = await OtlpReceiver.start();
    try {
      const otel = await createOtelExporter({ enabled: true, endpoint: rx.url, dangerously_capture_span_text: true, span_parent: "link" }, { env: {} });
      const r1 = await built.engine.attribute(RECORDS[0]!.req);
      const r2 = await built.engine.attribute(RECORDS[1]!.req);
      otel.exporter.onAttributed(r1);
      otel.exporter.onAttributed(r2);
      await otel.shutdown();
      expect(rx.decodeErrors).toEqual([]);
      const s1 = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === r1.attribution_id)!;
      expect(attr(s1, "reagent.spans.text")).toEqual({ type: "string[]", value: r1.spans.map((x) => x.text) });
      expect(rx.allBytes("traces").toString("utf8")).toContain(r1.spans[0]!.text);
      // link mode: a new trace that links to the logged span
      expect(s1.traceId).not.toBe(LOGGED_TRACE);
      expect(s1.parentSpanId).toBe("");
      expect(s1.links[0]).toMatchObject({ traceId: LOGGED_TRACE, spanId: LOGGED_SPAN });
      const s2 = rx.spans.find((x) => attr(x, "reagent.attribution.id")?.value === r2.attribution_id)!;
      expect(s2.traceId).not.toBe(ONLY_TRACE);
      expect(attr(s2, "reagent.source.trace_id")).toEqual({ type: "string", value: ONLY_TRACE });
    } finally {
      await rx.stop();
    }
  });
});

describe("the standard OTEL_* environment variables", () => {
  it("configure endpoint, headers and service name with no YAML at all", async () => {
    const rx = await OtlpReceiver.start();
    const saved = { ...process.env };
    try {
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = rx.url;
      process.env.OTEL_EXPORTER_OTLP_HEADERS = "authorization=Bearer%20test-token,x-tenant=acme";
      process.env.OTEL_SERVICE_NAME = "reagent-from-env";
      process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment.name=test";
      const otel = await createOtelExporter({});
      expect(otel.settings.otlp).toBe(true);
      otel.exporter.onAttributed(await built.engine.attribute(RECORDS[2]!.req));
      await otel.shutdown();
      expect(rx.spans).toHaveLength(1);
      const req = rx.requests.find((r) => r.signal === "traces")!;
      expect(req.headers.authorization).toBe("Bearer test-token");
      expect(req.headers["x-tenant"]).toBe("acme");
      expect(rx.spans[0]!.resource["service.name"]?.value).toBe("reagent-from-env");
      expect(rx.spans[0]!.resource["deployment.environment.name"]?.value).toBe("test");
      expect(rx.logs).toEqual([]); // evaluation events stay off unless configured
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await rx.stop();
    }
  });

  it("export stays off when nothing is configured", async () => {
    const otel = await createOtelExporter({}, { env: {} });
    expect(otel.settings).toMatchObject({ otlp: false, prometheus: false });
    expect(otel.metrics).toBe(noopMetrics);
    expect(otel.prometheusUrl).toBeUndefined();
    expect(() => otel.exporter.onAttributed({} as AttributionResult)).not.toThrow();
    await otel.shutdown();
  });
});

describe("with the collector down", () => {
  let base: AttributionResult;
  beforeAll(async () => {
    base = await built.engine.attribute(RECORDS[0]!.req);
  });

  /** n copies of one real result, each with its own attribution id. */
  function variants(n: number): AttributionResult[] {
    return Array.from({ length: n }, (_, i) => ({ ...base, attribution_id: `${base.attribution_id.slice(0, 24)}${String(i).padStart(8, "0")}` }));
  }

  it("drops spans with a counter, never throws or blocks, and shuts down by its deadline (receiver stopped mid-run)", async () => {
    const rx = await OtlpReceiver.start();
    const promPort = await freePort();
    const otel = await createOtelExporter(
      { enabled: true, endpoint: rx.url, schedule_delay_ms: 50, shutdown_timeout_ms: 1500, metric_export_interval_ms: 60_000, prometheus: { enabled: true, port: promPort } },
      { env: {} },
    );
    const results = variants(205);
    for (const r of results.slice(0, 5)) otel.exporter.onAttributed(r);
    // Wait for the exporter to see the collector's answer, not just for the receiver to decode.
    await rx.waitFor(() => otel.stats().traces.exported === 5, 10_000, "the first 5 spans acknowledged");
    await rx.stop(); // the collector goes away

    let slowest = 0;
    for (const r of results.slice(5)) {
      const t0 = performance.now();
      expect(() => otel.exporter.onAttributed(r)).not.toThrow();
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(slowest).toBeLessThan(100); // no network wait (typically < 1 ms; the bound leaves room for a GC pause)
    const until = Date.now() + 10_000;
    while (otel.stats().traces.dropped < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const stats = otel.stats().traces;
    expect(stats).toMatchObject({ exported: 5, dropped: 200 });
    expect(stats.droppedByReason.export_failed).toBe(200);
    expect(stats.lastError).toBeTruthy();

    const samples = parseProm(await (await fetch(otel.prometheusUrl!)).text());
    expect(promValue(samples, "reagent_stream_otel_dropped_total", { signal: "traces", reason: "export_failed" })).toBe(200);
    expect(promValue(samples, "reagent_stream_otel_exported_total", { signal: "traces" })).toBe(5);

    const t0 = Date.now();
    await otel.shutdown();
    expect(Date.now() - t0).toBeLessThan(1500 + 500);
    expect(() => otel.exporter.onAttributed(results[0]!)).not.toThrow(); // after shutdown: ignored, counted
    expect(otel.stats().traces.droppedByReason.after_shutdown).toBe(1);
  });

  it("a collector that never answers costs the shutdown deadline, not the export timeout", async () => {
    const rx = await OtlpReceiver.start();
    rx.mode = "hang";
    try {
      const otel = await createOtelExporter(
        { enabled: true, endpoint: rx.url, evaluation_events: true, schedule_delay_ms: 20, export_timeout_ms: 60_000, shutdown_timeout_ms: 1000, metric_export_interval_ms: 60_000 },
        { env: {} },
      );
      const results = variants(20);
      let slowest = 0;
      for (const r of results.slice(0, 10)) otel.exporter.onAttributed(r);
      await new Promise((r) => setTimeout(r, 200)); // let a batch go out and hang
      for (const r of results.slice(10)) {
        const t = performance.now();
        otel.exporter.onAttributed(r);
        slowest = Math.max(slowest, performance.now() - t);
      }
      expect(slowest).toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 200)); // a second batch goes out while the first still hangs
      const t0 = Date.now();
      await otel.shutdown();
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(700);
      expect(took).toBeLessThan(1000 + 500);
      const stats = otel.stats();
      expect(stats.traces.exported).toBe(0);
      expect(stats.traces.dropped).toBe(20);
      expect(stats.traces.droppedByReason.shutdown).toBe(20);
      expect(stats.logs.dropped).toBe(20);
    } finally {
      await rx.stop();
    }
  });

  it("an overloaded collector (503) is retried within the export timeout, then the batch is dropped", async () => {
    const rx = await OtlpReceiver.start();
    rx.mode = "unavailable";
    try {
      const otel = await createOtelExporter(
        { enabled: true, endpoint: rx.url, schedule_delay_ms: 20, export_timeout_ms: 1200, shutdown_timeout_ms: 3000, metric_export_interval_ms: 60_000 },
        { env: {} },
      );
      for (const r of variants(5)) otel.exporter.onAttributed(r);
      const until = Date.now() + 10_000;
      while (otel.stats().traces.dropped < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      expect(otel.stats().traces).toMatchObject({ exported: 0, dropped: 5, droppedByReason: { export_failed: 5 } });
      const t0 = Date.now();
      await otel.shutdown();
      expect(Date.now() - t0).toBeLessThan(3000 + 500);
    } finally {
      await rx.stop();
    }
  });

  it("nothing listening from the start: the first failure is logged once, the caller is unaffected", async () => {
    const port = await freePort();
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const otel = await createOtelExporter(
      { enabled: true, endpoint: `http://127.0.0.1:${port}`, schedule_delay_ms: 20, shutdown_timeout_ms: 1000, metric_export_interval_ms: 60_000 },
      { env: {}, log: { warn: (obj, msg) => warnings.push({ obj, msg }) } },
    );
    const results = variants(30);
    for (const r of results.slice(0, 10)) otel.exporter.onAttributed(r);
    await new Promise((r) => setTimeout(r, 300));
    for (const r of results.slice(10)) otel.exporter.onAttributed(r);
    const t0 = Date.now();
    await otel.shutdown();
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(otel.stats().traces.dropped).toBe(30);
    const traceWarnings = warnings.filter((w) => w.obj.signal === "traces");
    expect(traceWarnings.length).toBe(1);
    expect(traceWarnings[0]!.msg).toContain("OTLP traces export failed");
    expect(JSON.stringify(warnings)).not.toMatch(new RegExp(SECRET_WORDS.join("|")));
  });
});
