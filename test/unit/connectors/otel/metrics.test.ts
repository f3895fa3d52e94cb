import { readFileSync } from "node:fs";
import { DataPointType, MeterProvider, MetricReader, type MetricData } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { METRIC_SPECS, OtelPipelineMetrics, prometheusNames } from "../../../../connectors/otel/metrics.js";
import { prometheusFamily } from "../../../../connectors/otel/prometheus.js";

/** A pull reader: collect() on demand, nothing exported anywhere. */
class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

async function collect(reader: PullReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

function value(m: MetricData | undefined, attrs: Record<string, string> = {}): unknown {
  const p = m?.dataPoints.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v));
  return p?.value;
}

describe("OtelPipelineMetrics", () => {
  it("records every pipeline event under its documented reagent_stream.* name", async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const m = new OtelPipelineMetrics(provider.getMeter("t"));
    m.recordsConsumed(5, "kafka");
    m.recordParsed("kafka");
    m.recordDecision("sampled", "rate", "gpt");
    m.recordDecision("skipped", "budget", "gpt");
    m.recordDecision("skipped", "budget", "gpt");
    m.recordAttributed("gpt", 1500);
    m.recordFailed("attribute", "scorer_http");
    m.recordDeadLettered("parse", "record_invalid");
    m.modelCalls(101, "gpt");
    m.tokensScored(5000, "gpt");
    m.endpointRequest("gpt", 20, "ok");
    m.endpointRequest("gpt", 30_000, "timeout");
    m.inFlight(3);
    m.inFlight(-1);
    m.commitLag("kafka", "0", 12);
    m.commitLag("kafka", "0", 7);
    m.sinkBatch("clickhouse", 100, 250, true);
    m.sinkBatch("clickhouse", 10, 5, false);
    m.exported("traces", 4);
    m.dropped("traces", "export_failed", 2);
    m.endpointBreaker("gpt", "closed");
    m.endpointBreaker("gpt", "open");

    const got = await collect(reader);
    const S = METRIC_SPECS;
    expect(value(got.get(S.consumed.name), { source: "kafka" })).toBe(5);
    expect(value(got.get(S.parsed.name), { source: "kafka" })).toBe(1);
    expect(value(got.get(S.sampled.name), { reason: "rate", model: "gpt" })).toBe(1);
    expect(value(got.get(S.skipped.name), { reason: "budget" })).toBe(2);
    expect(value(got.get(S.attributed.name), { model: "gpt" })).toBe(1);
    expect(value(got.get(S.failed.name), { stage: "attribute", code: "scorer_http" })).toBe(1);
    expect(value(got.get(S.deadLettered.name), { stage: "parse" })).toBe(1);
    expect(value(got.get(S.modelCalls.name))).toBe(101);
    expect(value(got.get(S.tokensScored.name))).toBe(5000);
    expect(value(got.get(S.endpointErrors.name), { outcome: "timeout" })).toBe(1);
    expect(value(got.get(S.endpointErrors.name), { outcome: "ok" })).toBeUndefined();
    expect(value(got.get(S.inFlight.name))).toBe(2);
    expect(value(got.get(S.commitLag.name), { partition: "0" })).toBe(7);
    expect(value(got.get(S.sinkRows.name), { sink: "clickhouse", outcome: "ok" })).toBe(100);
    expect(value(got.get(S.otelExported.name), { signal: "traces" })).toBe(4);
    expect(value(got.get(S.otelDropped.name), { signal: "traces", reason: "export_failed" })).toBe(2);
    // The breaker: the current state's series is 1, every other state's 0 (none missing).
    const breaker = got.get(S.endpointBreaker.name)!;
    expect(Object.fromEntries(breaker.dataPoints.map((d) => [d.attributes.state, d.value]))).toEqual({ closed: 0, open: 1, half_open: 0 });

    const dur = got.get(S.attributionDuration.name)!;
    expect(dur.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(dur.descriptor.unit).toBe("s");
    const h = dur.dataPoints[0]!.value as { sum: number; count: number; buckets: { boundaries: number[] } };
    expect(h.count).toBe(1);
    expect(h.sum).toBeCloseTo(1.5, 6);
    expect(h.buckets.boundaries).toEqual(S.attributionDuration.buckets);
    const ep = got.get(S.endpointDuration.name)!;
    expect(ep.dataPoints.map((d) => d.attributes.outcome).sort()).toEqual(["ok", "timeout"]);

    // every spec'd instrument exists (the self-metrics too)
    for (const spec of Object.values(S)) expect(got.has(spec.name), spec.name).toBe(true);
    await provider.shutdown();
  });

  it("ignores values that would corrupt a counter and never throws", async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const m = new OtelPipelineMetrics(provider.getMeter("t"));
    expect(() => {
      m.recordsConsumed(-1, "kafka");
      m.recordsConsumed(Number.NaN, "kafka");
      m.recordAttributed("gpt", Number.POSITIVE_INFINITY);
      m.commitLag("kafka", "1", -5);
      m.inFlight(Number.NaN);
    }).not.toThrow();
    const got = await collect(reader);
    expect(value(got.get(METRIC_SPECS.consumed.name))).toBeUndefined();
    expect(value(got.get(METRIC_SPECS.attributed.name))).toBe(1);
    expect(got.get(METRIC_SPECS.attributionDuration.name)?.dataPoints ?? []).toHaveLength(0);
    await provider.shutdown();
  });

  it("derives conventional Prometheus names: unit suffix in base units, _total for counters", () => {
    expect(prometheusNames(METRIC_SPECS.consumed)).toEqual(["reagent_stream_records_consumed_total"]);
    expect(prometheusNames(METRIC_SPECS.attributionDuration)).toEqual([
      "reagent_stream_attribution_duration_seconds_bucket",
      "reagent_stream_attribution_duration_seconds_sum",
      "reagent_stream_attribution_duration_seconds_count",
    ]);
    expect(prometheusNames(METRIC_SPECS.inFlight)).toEqual(["reagent_stream_records_in_flight"]);
    expect(prometheusNames(METRIC_SPECS.commitLag)).toEqual(["reagent_stream_commit_lag"]);
    expect(prometheusNames(METRIC_SPECS.endpointBreaker)).toEqual(["reagent_stream_endpoint_breaker_state"]);
    expect(prometheusFamily("x.bytes.sent", "By", "counter")).toBe("x_bytes_sent_bytes_total");
    expect(prometheusFamily("x.wait_seconds", "s", "histogram")).toBe("x_wait_seconds");
    expect(prometheusFamily("x.calls", "{call}", "counter")).toBe("x_calls_total");
    for (const m of Object.values(METRIC_SPECS)) {
      const family = prometheusNames(m)[0]!.replace(/_(bucket|sum|count)$/, "");
      if (m.unit === "s") expect(family, m.name).toMatch(/_seconds$/);
      if (m.kind === "counter") expect(family, m.name).toMatch(/_total$/);
    }
  });

  it("docs/otel.md lists exactly these metrics, kinds, units, labels and Prometheus names", () => {
    const md = readFileSync(new URL("../../../../docs/otel.md", import.meta.url), "utf8");
    const rows = new Map<string, string[]>();
    for (const line of md.split("\n")) {
      if (!line.startsWith("| `reagent_stream.")) continue;
      const cells = line.split("|").map((c) => c.trim());
      rows.set(cells[1]!.replace(/`/g, ""), cells.slice(2, 6));
    }
    const specs = Object.values(METRIC_SPECS);
    expect([...rows.keys()].sort()).toEqual(specs.map((m) => m.name).sort());
    for (const m of specs) {
      const [kind, unit, labels, prom] = rows.get(m.name)!;
      expect(kind, m.name).toBe(m.kind);
      expect(unit, m.name).toBe(`\`${m.unit}\``);
      expect(labels, m.name).toBe(m.attributes.length === 0 ? "—" : m.attributes.map((a) => `\`${a}\``).join(", "));
      expect(prom, m.name).toBe(prometheusNames(m).map((n) => `\`${n}\``).join(", "));
    }
  });
});
