/**
 * In-process counters of everything the pipeline reports to PipelineMetrics, for the stats
 * snapshot (`Pipeline.stats()`, the run summary, the demo's terminal summary). It forwards each
 * call to the configured metrics (OpenTelemetry or none).
 */
import type { PipelineMetrics, SampleDecision } from "./contracts.js";

export interface DecisionCount {
  readonly decision: SampleDecision;
  readonly reason: string;
  readonly model: string;
  readonly count: number;
}

export interface StatsSnapshot {
  readonly consumed: number;
  readonly parsed: number;
  readonly decisions: { readonly sampled: number; readonly skipped: number; readonly byReason: Readonly<Record<string, number>>; readonly detail: readonly DecisionCount[] };
  readonly attributed: number;
  readonly attributionMs: { readonly total: number; readonly max: number };
  readonly failed: Readonly<Record<string, number>>;
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly modelCalls: number;
  readonly tokensScored: number;
  readonly inFlight: number;
  readonly sinkBatches: Readonly<Record<string, { readonly ok: number; readonly failed: number; readonly rows: number }>>;
}

function bump(m: Map<string, number>, k: string, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

export class StatsMetrics implements PipelineMetrics {
  private consumed = 0;
  private parsed = 0;
  private readonly decisions = new Map<string, number>();
  private attributed = 0;
  private attrTotalMs = 0;
  private attrMaxMs = 0;
  private readonly failed = new Map<string, number>();
  private readonly dead = new Map<string, number>();
  private calls = 0;
  private tokens = 0;
  private inflight = 0;
  private readonly sinks = new Map<string, { ok: number; failed: number; rows: number }>();

  constructor(private readonly inner: PipelineMetrics) {}

  recordsConsumed(n: number, source: string): void {
    this.consumed += n;
    this.inner.recordsConsumed(n, source);
  }
  recordParsed(source: string): void {
    this.parsed++;
    this.inner.recordParsed(source);
  }
  recordDecision(decision: SampleDecision, reason: string, model: string): void {
    bump(this.decisions, `${decision}\u0000${reason}\u0000${model}`);
    this.inner.recordDecision(decision, reason, model);
  }
  recordAttributed(model: string, durationMs: number): void {
    this.attributed++;
    this.attrTotalMs += durationMs;
    this.attrMaxMs = Math.max(this.attrMaxMs, durationMs);
    this.inner.recordAttributed(model, durationMs);
  }
  recordFailed(stage: string, code: string): void {
    bump(this.failed, `${stage}:${code}`);
    this.inner.recordFailed(stage, code);
  }
  recordDeadLettered(stage: string, reason: string): void {
    bump(this.dead, stage);
    this.inner.recordDeadLettered(stage, reason);
  }
  modelCalls(n: number, model: string): void {
    this.calls += n;
    this.inner.modelCalls(n, model);
  }
  tokensScored(n: number, model: string): void {
    this.tokens += n;
    this.inner.tokensScored(n, model);
  }
  endpointRequest(model: string, durationMs: number, outcome: string): void {
    this.inner.endpointRequest(model, durationMs, outcome);
  }
  endpointBreaker(model: string, state: string): void {
    this.inner.endpointBreaker(model, state);
  }
  inFlight(delta: number): void {
    this.inflight += delta;
    this.inner.inFlight(delta);
  }
  commitLag(source: string, partition: string, lag: number): void {
    this.inner.commitLag(source, partition, lag);
  }
  sinkBatch(sink: string, rows: number, durationMs: number, ok: boolean): void {
    const s = this.sinks.get(sink) ?? { ok: 0, failed: 0, rows: 0 };
    if (ok) {
      s.ok++;
      s.rows += rows;
    } else s.failed++;
    this.sinks.set(sink, s);
    this.inner.sinkBatch(sink, rows, durationMs, ok);
  }

  snapshot(): StatsSnapshot {
    const detail: DecisionCount[] = [];
    const byReason: Record<string, number> = {};
    let sampled = 0;
    let skipped = 0;
    for (const [k, count] of this.decisions) {
      const [decision, reason, model] = k.split("\u0000") as [SampleDecision, string, string];
      detail.push({ decision, reason, model, count });
      byReason[`${decision}:${reason}`] = (byReason[`${decision}:${reason}`] ?? 0) + count;
      if (decision === "sampled") sampled += count;
      else skipped += count;
    }
    return {
      consumed: this.consumed,
      parsed: this.parsed,
      decisions: { sampled, skipped, byReason, detail },
      attributed: this.attributed,
      attributionMs: { total: Math.round(this.attrTotalMs), max: Math.round(this.attrMaxMs) },
      failed: Object.fromEntries(this.failed),
      deadLettered: Object.fromEntries(this.dead),
      modelCalls: this.calls,
      tokensScored: this.tokens,
      inFlight: this.inflight,
      sinkBatches: Object.fromEntries(this.sinks),
    };
  }
}
