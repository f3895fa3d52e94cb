/**
 * The contracts between the pipeline and the components plugged into it (docs/architecture.md).
 * The pipeline imports only these interfaces; Kafka, ClickHouse, DuckDB and OpenTelemetry live
 * in connectors/ and implement them.
 */
import type { AttributionResult, RecordContext } from "../../schemas/attribution-result.js";

/**
 * A results store. `write` resolves only once the store has durably accepted the result (the
 * batch holding it was confirmed by the server); the pipeline commits the source offset only
 * after every sink's `write` for that record resolved. Writes are idempotent on
 * `attribution_id`: a redelivered record must not create a second logical row.
 */
export interface Sink {
  readonly name: string;
  /** Connect and apply migrations (unless configured off). */
  start(): Promise<void>;
  write(result: AttributionResult): Promise<void>;
  /** Resolve once everything written so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** An attribution attempt that failed (after retries), for exporters that record failures. */
export interface AttributionFailure {
  readonly context: RecordContext;
  readonly model: string;
  readonly code: string;
  readonly message: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
}

/**
 * Observers of attribution outcomes (OpenTelemetry spans, evaluation events). They must never
 * throw into the pipeline nor make it wait: exporting is best effort, a down collector drops
 * data (counted), never records.
 */
export interface AttributionExporter {
  readonly name: string;
  onAttributed(result: AttributionResult): void;
  onFailed(failure: AttributionFailure): void;
  /** Flush what is buffered (bounded by a deadline) and stop. */
  shutdown(): Promise<void>;
}

/** What the sampler decided for a record, and why (every decision is counted). */
export type SampleDecision = "sampled" | "skipped";

/**
 * Pipeline metrics, called by the pipeline at each event. The default implementation does
 * nothing; connectors/otel provides one backed by the OpenTelemetry metrics API.
 */
export interface PipelineMetrics {
  recordsConsumed(n: number, source: string): void;
  recordParsed(source: string): void;
  recordDecision(decision: SampleDecision, reason: string, model: string): void;
  recordAttributed(model: string, durationMs: number): void;
  recordFailed(stage: string, code: string): void;
  recordDeadLettered(stage: string, reason: string): void;
  modelCalls(n: number, model: string): void;
  tokensScored(n: number, model: string): void;
  endpointRequest(model: string, durationMs: number, outcome: string): void;
  inFlight(delta: number): void;
  commitLag(source: string, partition: string, lag: number): void;
  sinkBatch(sink: string, rows: number, durationMs: number, ok: boolean): void;
}

export const noopMetrics: PipelineMetrics = {
  recordsConsumed: () => undefined,
  recordParsed: () => undefined,
  recordDecision: () => undefined,
  recordAttributed: () => undefined,
  recordFailed: () => undefined,
  recordDeadLettered: () => undefined,
  modelCalls: () => undefined,
  tokensScored: () => undefined,
  endpointRequest: () => undefined,
  inFlight: () => undefined,
  commitLag: () => undefined,
  sinkBatch: () => undefined,
};
