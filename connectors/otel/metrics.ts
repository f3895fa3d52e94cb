/**
 * PipelineMetrics on the OpenTelemetry metrics API: every pipeline event becomes a
 * `reagent_stream.*` instrument, read by the OTLP metric exporter and the Prometheus scrape
 * endpoint alike. Calls never throw: a bad value (negative count, NaN) is ignored.
 *
 * Durations arrive in milliseconds and are recorded in seconds (unit `s`), as OTel advises.
 *
 * @see docs/otel.md (metric list and their Prometheus names)
 */
import type { Attributes, Counter, Gauge, Histogram, Meter, UpDownCounter } from "@opentelemetry/api";
import type { PipelineMetrics, SampleDecision } from "../../src/pipeline/contracts.js";
import { prometheusSampleNames } from "./prometheus.js";

export type MetricKind = "counter" | "updowncounter" | "histogram" | "gauge";

export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly description: string;
  readonly attributes: readonly string[];
  readonly buckets?: readonly number[];
}

/** The breaker states of src/models/http/guard.ts; each gets a series so a dashboard sees 0s, not gaps. */
const BREAKER_STATES = ["closed", "open", "half_open"] as const;
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ATTRIBUTION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const SINK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every instrument, its unit and attributes (the contract of docs/otel.md's metric table). */
export const METRIC_SPECS = {
  consumed: { name: "reagent_stream.records.consumed", kind: "counter", unit: "{record}", description: "Records read from a source", attributes: ["source"] },
  parsed: { name: "reagent_stream.records.parsed", kind: "counter", unit: "{record}", description: "Records that parsed and mapped into an LLM log record", attributes: ["source"] },
  sampled: { name: "reagent_stream.records.sampled", kind: "counter", unit: "{record}", description: "Records the sampler picked for attribution", attributes: ["reason", "model"] },
  skipped: { name: "reagent_stream.records.skipped", kind: "counter", unit: "{record}", description: "Records the sampler skipped", attributes: ["reason", "model"] },
  attributed: { name: "reagent_stream.records.attributed", kind: "counter", unit: "{record}", description: "Records attributed successfully", attributes: ["model"] },
  failed: { name: "reagent_stream.records.failed", kind: "counter", unit: "{record}", description: "Records that failed at a stage", attributes: ["stage", "code"] },
  deadLettered: { name: "reagent_stream.records.dead_lettered", kind: "counter", unit: "{record}", description: "Records routed to the dead-letter destination", attributes: ["stage", "reason"] },
  modelCalls: { name: "reagent_stream.model.calls", kind: "counter", unit: "{call}", description: "Scorer calls made by attribution", attributes: ["model"] },
  tokensScored: { name: "reagent_stream.tokens.scored", kind: "counter", unit: "{token}", description: "Tokens processed by the scorer", attributes: ["model"] },
  endpointDuration: {
    name: "reagent_stream.endpoint.duration",
    kind: "histogram",
    unit: "s",
    description: "Scoring endpoint request latency",
    attributes: ["model", "outcome"],
    buckets: LATENCY_BUCKETS,
  },
  endpointBreaker: {
    name: "reagent_stream.endpoint.breaker.state",
    kind: "gauge",
    unit: "1",
    description: "Scoring endpoint circuit breaker: 1 on the current state's series, 0 on the others",
    attributes: ["model", "state"],
  },
  endpointErrors: { name: "reagent_stream.endpoint.errors", kind: "counter", unit: "{request}", description: "Scoring endpoint requests whose outcome was not ok", attributes: ["model", "outcome"] },
  attributionDuration: {
    name: "reagent_stream.attribution.duration",
    kind: "histogram",
    unit: "s",
    description: "Wall time of one record's attribution",
    attributes: ["model"],
    buckets: ATTRIBUTION_BUCKETS,
  },
  inFlight: { name: "reagent_stream.records.in_flight", kind: "updowncounter", unit: "{record}", description: "Records being attributed or written now", attributes: [] },
  commitLag: { name: "reagent_stream.commit.lag", kind: "gauge", unit: "{record}", description: "Records read but not yet committed, per partition (last reported)", attributes: ["source", "partition"] },
  sinkBatchDuration: {
    name: "reagent_stream.sink.batch.duration",
    kind: "histogram",
    unit: "s",
    description: "Time for a sink to confirm a batch",
    attributes: ["sink", "outcome"],
    buckets: SINK_BUCKETS,
  },
  sinkRows: { name: "reagent_stream.sink.rows", kind: "counter", unit: "{row}", description: "Rows in sink batches, by outcome", attributes: ["sink", "outcome"] },
  otelExported: { name: "reagent_stream.otel.exported", kind: "counter", unit: "{item}", description: "Spans, log records or metric points accepted by the OTLP endpoint", attributes: ["signal"] },
  otelDropped: {
    name: "reagent_stream.otel.dropped",
    kind: "counter",
    unit: "{item}",
    description: "Spans, log records or metric points that were not exported (collector down, queue full, shutdown deadline)",
    attributes: ["signal", "reason"],
  },
} as const satisfies Record<string, MetricSpec>;

/** The names a metric is scraped as on the Prometheus endpoint (`_seconds`, `_total`: prometheus.ts). */
export function prometheusNames(m: MetricSpec): string[] {
  return prometheusSampleNames(m.name, m.unit, m.kind);
}

function finiteNonNegative(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}

/** Self-metrics of the exporter: what reached the collector and what was dropped. */
export interface OtelSelfMetrics {
  exported(signal: string, n: number): void;
  dropped(signal: string, reason: string, n: number): void;
}

export class OtelPipelineMetrics implements PipelineMetrics, OtelSelfMetrics {
  private readonly c: {
    consumed: Counter;
    parsed: Counter;
    sampled: Counter;
    skipped: Counter;
    attributed: Counter;
    failed: Counter;
    deadLettered: Counter;
    modelCalls: Counter;
    tokensScored: Counter;
    endpointErrors: Counter;
    sinkRows: Counter;
    otelExported: Counter;
    otelDropped: Counter;
  };
  private readonly endpointDuration: Histogram;
  private readonly attributionDuration: Histogram;
  private readonly sinkBatchDuration: Histogram;
  private readonly inFlightCounter: UpDownCounter;
  private readonly commitLagGauge: Gauge;
  private readonly breakerGauge: Gauge;

  constructor(meter: Meter) {
    const counter = (s: MetricSpec): Counter => meter.createCounter(s.name, { unit: s.unit, description: s.description });
    const histogram = (s: MetricSpec): Histogram =>
      meter.createHistogram(s.name, { unit: s.unit, description: s.description, ...(s.buckets ? { advice: { explicitBucketBoundaries: [...s.buckets] } } : {}) });
    const M = METRIC_SPECS;
    this.c = {
      consumed: counter(M.consumed),
      parsed: counter(M.parsed),
      sampled: counter(M.sampled),
      skipped: counter(M.skipped),
      attributed: counter(M.attributed),
      failed: counter(M.failed),
      deadLettered: counter(M.deadLettered),
      modelCalls: counter(M.modelCalls),
      tokensScored: counter(M.tokensScored),
      endpointErrors: counter(M.endpointErrors),
      sinkRows: counter(M.sinkRows),
      otelExported: counter(M.otelExported),
      otelDropped: counter(M.otelDropped),
    };
    this.endpointDuration = histogram(M.endpointDuration);
    this.attributionDuration = histogram(M.attributionDuration);
    this.sinkBatchDuration = histogram(M.sinkBatchDuration);
    this.inFlightCounter = meter.createUpDownCounter(M.inFlight.name, { unit: M.inFlight.unit, description: M.inFlight.description });
    this.commitLagGauge = meter.createGauge(M.commitLag.name, { unit: M.commitLag.unit, description: M.commitLag.description });
    this.breakerGauge = meter.createGauge(M.endpointBreaker.name, { unit: M.endpointBreaker.unit, description: M.endpointBreaker.description });
  }

  private add(c: Counter, n: number, attrs: Attributes): void {
    if (!finiteNonNegative(n)) return;
    try {
      c.add(n, attrs);
    } catch {
      // Metrics are best effort: never throw into the pipeline.
    }
  }

  private seconds(h: Histogram, ms: number, attrs: Attributes): void {
    if (!finiteNonNegative(ms)) return;
    try {
      h.record(ms / 1000, attrs);
    } catch {
      // best effort
    }
  }

  recordsConsumed(n: number, source: string): void {
    this.add(this.c.consumed, n, { source });
  }
  recordParsed(source: string): void {
    this.add(this.c.parsed, 1, { source });
  }
  recordDecision(decision: SampleDecision, reason: string, model: string): void {
    this.add(decision === "sampled" ? this.c.sampled : this.c.skipped, 1, { reason, model });
  }
  recordAttributed(model: string, durationMs: number): void {
    this.add(this.c.attributed, 1, { model });
    this.seconds(this.attributionDuration, durationMs, { model });
  }
  recordFailed(stage: string, code: string): void {
    this.add(this.c.failed, 1, { stage, code });
  }
  recordDeadLettered(stage: string, reason: string): void {
    this.add(this.c.deadLettered, 1, { stage, reason });
  }
  modelCalls(n: number, model: string): void {
    this.add(this.c.modelCalls, n, { model });
  }
  tokensScored(n: number, model: string): void {
    this.add(this.c.tokensScored, n, { model });
  }
  /** `outcome` "ok" (or "success") is a success; any other value also counts in reagent_stream.endpoint.errors. */
  endpointRequest(model: string, durationMs: number, outcome: string): void {
    this.seconds(this.endpointDuration, durationMs, { model, outcome });
    if (outcome !== "ok" && outcome !== "success") this.add(this.c.endpointErrors, 1, { model, outcome });
  }
  /**
   * One series per state, the current one 1 (the kube-state-metrics way of exposing an enum): a
   * single numeric code would make `state="open"` unqueryable and averages meaningless.
   */
  endpointBreaker(model: string, state: string): void {
    try {
      for (const s of new Set([...BREAKER_STATES, state])) this.breakerGauge.record(s === state ? 1 : 0, { model, state: s });
    } catch {
      // best effort
    }
  }
  inFlight(delta: number): void {
    if (!Number.isFinite(delta)) return;
    try {
      this.inFlightCounter.add(delta);
    } catch {
      // best effort
    }
  }
  commitLag(source: string, partition: string, lag: number): void {
    if (!finiteNonNegative(lag)) return;
    try {
      this.commitLagGauge.record(lag, { source, partition });
    } catch {
      // best effort
    }
  }
  sinkBatch(sink: string, rows: number, durationMs: number, ok: boolean): void {
    const outcome = ok ? "ok" : "error";
    this.seconds(this.sinkBatchDuration, durationMs, { sink, outcome });
    this.add(this.c.sinkRows, rows, { sink, outcome });
  }

  exported(signal: string, n: number): void {
    this.add(this.c.otelExported, n, { signal });
  }
  dropped(signal: string, reason: string, n: number): void {
    this.add(this.c.otelDropped, n, { signal, reason });
  }
}
