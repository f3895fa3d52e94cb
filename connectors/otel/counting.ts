/**
 * Counting wrappers around the OTLP exporters and batch processors, so that what a down or slow
 * collector costs is visible: every item is eventually counted as exported or dropped (with a
 * reason) in `reagent_stream.otel.{exported,dropped}` and in `stats()`.
 *
 * Reasons: `export_failed` (the collector refused, errored or timed out), `queue_full` (the
 * batch processor's queue was full: it drops the item itself, we count it), `shutdown` (still
 * unsent when the shutdown deadline passed), `after_shutdown` (emitted after shutdown began),
 * `internal_error` (building the span failed: a bug, reported to the log), `not_accepted` (the
 * endpoint answered that it does not take this signal at all: HTTP 404, 405, 415 or 501, as
 * Phoenix does for /v1/logs; it is not asked again, and the drops are counted without requests).
 */
import type { Context } from "@opentelemetry/api";
import { TraceFlags } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from "@opentelemetry/sdk-logs";
import { AggregationTemporality, AggregationType } from "@opentelemetry/sdk-metrics";
import type { AggregationOption, InstrumentType, PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { OtelSelfMetrics } from "./metrics.js";

export type Signal = "traces" | "logs" | "metrics";
export type DropReason = "export_failed" | "queue_full" | "shutdown" | "after_shutdown" | "internal_error" | "not_accepted";

/** HTTP statuses meaning "this endpoint does not take this signal", not "try again". */
const NOT_ACCEPTED_STATUS = new Set([404, 405, 415, 501]);

function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

export interface SignalStats {
  exported: number;
  dropped: number;
  droppedByReason: Partial<Record<DropReason, number>>;
  failedExports: number;
  lastError: string | undefined;
}

export type OtelStats = Record<Signal, SignalStats>;

interface InflightExport {
  readonly n: number;
  settled: boolean;
}

function emptyStats(): SignalStats {
  return { exported: 0, dropped: 0, droppedByReason: {}, failedExports: 0, lastError: undefined };
}

/** The exported/dropped tally, mirrored into the self-metrics counters once they exist. */
export class ExportTally {
  private readonly stats: OtelStats = { traces: emptyStats(), logs: emptyStats(), metrics: emptyStats() };
  /** Items handed to a batch processor and not yet to its exporter, per signal. */
  private readonly pending: Record<Signal, number> = { traces: 0, logs: 0, metrics: 0 };
  /** Export requests under way (not yet answered), per signal. */
  private readonly inflight: Record<Signal, Set<InflightExport>> = { traces: new Set(), logs: new Set(), metrics: new Set() };
  private sink: OtelSelfMetrics | undefined;
  private readonly refused = new Set<Signal>();

  constructor(
    private readonly onFailure?: (signal: Signal, error: string, items: number) => void,
    private readonly onRefused?: (signal: Signal, status: number) => void,
  ) {}

  /** The endpoint said it does not take this signal: stop sending it. */
  isRefused(signal: Signal): boolean {
    return this.refused.has(signal);
  }

  attach(sink: OtelSelfMetrics): void {
    this.sink = sink;
  }

  exported(signal: Signal, n: number): void {
    if (n <= 0) return;
    this.stats[signal].exported += n;
    this.sink?.exported(signal, n);
  }

  dropped(signal: Signal, reason: DropReason, n: number): void {
    if (n <= 0) return;
    const s = this.stats[signal];
    s.dropped += n;
    s.droppedByReason[reason] = (s.droppedByReason[reason] ?? 0) + n;
    this.sink?.dropped(signal, reason, n);
  }

  failed(signal: Signal, n: number, error: string): void {
    const s = this.stats[signal];
    s.failedExports += 1;
    s.lastError = error;
    this.dropped(signal, "export_failed", n);
    this.onFailure?.(signal, error, n);
  }

  queued(signal: Signal): void {
    this.pending[signal] += 1;
  }

  handed(signal: Signal, n: number): void {
    this.pending[signal] = Math.max(0, this.pending[signal] - n);
  }

  pendingCount(signal: Signal): number {
    return this.pending[signal];
  }

  /** An export request began; settle() it with its outcome (ignored once abandoned). */
  begin(signal: Signal, n: number): InflightExport {
    const ex: InflightExport = { n, settled: false };
    this.inflight[signal].add(ex);
    return ex;
  }

  settle(signal: Signal, ex: InflightExport, ok: boolean, error: string, cause?: unknown): void {
    if (ex.settled) return;
    ex.settled = true;
    this.inflight[signal].delete(ex);
    const status = ok ? undefined : httpStatus(cause);
    if (ok) this.exported(signal, ex.n);
    else if (status !== undefined && NOT_ACCEPTED_STATUS.has(status)) {
      this.dropped(signal, "not_accepted", ex.n);
      if (!this.refused.has(signal)) {
        this.refused.add(signal);
        this.onRefused?.(signal, status);
      }
    } else this.failed(signal, ex.n, error);
  }

  /** The shutdown deadline passed: everything still queued or in flight is counted as dropped. */
  abandonPending(signal: Signal): void {
    let n = this.pending[signal];
    this.pending[signal] = 0;
    for (const ex of this.inflight[signal]) {
      ex.settled = true;
      n += ex.n;
    }
    this.inflight[signal].clear();
    this.dropped(signal, "shutdown", n);
  }

  snapshot(): OtelStats {
    const copy = (s: SignalStats): SignalStats => ({ ...s, droppedByReason: { ...s.droppedByReason } });
    return { traces: copy(this.stats.traces), logs: copy(this.stats.logs), metrics: copy(this.stats.metrics) };
  }
}

function describe(result: ExportResult): string {
  const e = result.error;
  if (e === undefined) return "export failed";
  return e.message === "" ? e.name : e.message;
}

/** Calls back exactly once, whatever the inner exporter does (throws, calls twice). */
function once(cb: (r: ExportResult) => void): (r: ExportResult) => void {
  let done = false;
  return (r) => {
    if (done) return;
    done = true;
    cb(r);
  };
}

export class CountingSpanExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly tally: ExportTally,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.tally.handed("traces", spans.length);
    if (this.tally.isRefused("traces")) {
      this.tally.dropped("traces", "not_accepted", spans.length);
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    const ex = this.tally.begin("traces", spans.length);
    const done = once((r) => {
      this.tally.settle("traces", ex, r.code === ExportResultCode.SUCCESS, describe(r), r.error);
      resultCallback(r);
    });
    // Serialising a batch costs CPU (tens of ms for 512 spans): do it on a later turn of the
    // event loop, never on the stack of the onAttributed call that filled the batch.
    setImmediate(() => {
      try {
        this.inner.export(spans, done);
      } catch (err) {
        done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export class CountingLogExporter implements LogRecordExporter {
  constructor(
    private readonly inner: LogRecordExporter,
    private readonly tally: ExportTally,
  ) {}

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.tally.handed("logs", logs.length);
    if (this.tally.isRefused("logs")) {
      this.tally.dropped("logs", "not_accepted", logs.length);
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    const ex = this.tally.begin("logs", logs.length);
    const done = once((r) => {
      this.tally.settle("logs", ex, r.code === ExportResultCode.SUCCESS, describe(r), r.error);
      resultCallback(r);
    });
    // Serialising a batch costs CPU (tens of ms for 512 spans): do it on a later turn of the
    // event loop, never on the stack of the onAttributed call that filled the batch.
    setImmediate(() => {
      try {
        this.inner.export(logs, done);
      } catch (err) {
        done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    const inner = this.inner as LogRecordExporter & { forceFlush?: () => Promise<void> };
    return inner.forceFlush?.() ?? Promise.resolve();
  }
}

function countPoints(m: ResourceMetrics): number {
  let n = 0;
  for (const sm of m.scopeMetrics) for (const metric of sm.metrics) n += metric.dataPoints.length;
  return n;
}

export class CountingMetricExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly tally: ExportTally,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (this.tally.isRefused("metrics")) {
      this.tally.dropped("metrics", "not_accepted", countPoints(metrics));
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    const ex = this.tally.begin("metrics", countPoints(metrics));
    const done = once((r) => {
      this.tally.settle("metrics", ex, r.code === ExportResultCode.SUCCESS, describe(r), r.error);
      resultCallback(r);
    });
    try {
      this.inner.export(metrics, done);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    if (this.inner.selectAggregationTemporality) return this.inner.selectAggregationTemporality(instrumentType);
    return AggregationTemporality.CUMULATIVE;
  }

  selectAggregation(instrumentType: InstrumentType): AggregationOption {
    if (this.inner.selectAggregation) return this.inner.selectAggregation(instrumentType);
    return { type: AggregationType.DEFAULT };
  }
}

/**
 * In front of a BatchSpanProcessor: counts what it will drop for a full queue (it only logs
 * that) and what arrives after shutdown began.
 */
export class CountingSpanProcessor implements SpanProcessor {
  private closed = false;
  constructor(
    private readonly inner: SpanProcessor,
    private readonly tally: ExportTally,
    private readonly maxQueueSize: number,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.closed) this.tally.dropped("traces", "after_shutdown", 1);
    else if (this.tally.pendingCount("traces") >= this.maxQueueSize) this.tally.dropped("traces", "queue_full", 1);
    else this.tally.queued("traces");
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.closed = true;
    return this.inner.shutdown();
  }
}

export class CountingLogProcessor implements LogRecordProcessor {
  private closed = false;
  constructor(
    private readonly inner: LogRecordProcessor,
    private readonly tally: ExportTally,
    private readonly maxQueueSize: number,
  ) {}

  onEmit(logRecord: SdkLogRecord, context?: Context): void {
    if (this.closed) this.tally.dropped("logs", "after_shutdown", 1);
    else if (this.tally.pendingCount("logs") >= this.maxQueueSize) this.tally.dropped("logs", "queue_full", 1);
    else this.tally.queued("logs");
    this.inner.onEmit(logRecord, context);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.closed = true;
    return this.inner.shutdown();
  }
}
