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
  /** The scoring endpoint's circuit breaker is now in `state` (closed, open, half_open). */
  endpointBreaker(model: string, state: string): void;
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
  endpointBreaker: () => undefined,
  inFlight: () => undefined,
  commitLag: () => undefined,
  sinkBatch: () => undefined,
};

// ---------------------------------------------------------------------------------------------
// Sources and dead letters (added with the streaming pipeline, docs/pipeline.md).

/** One message from a source, with its position in an ordered partition. */
export interface SourceMessage {
  /** The ordered stream it belongs to: `topic/3` for Kafka, the path for a file, `stdin`. */
  readonly partition: string;
  /** Position within the partition; commits name the next offset to read (`offset + 1`). */
  readonly offset: bigint;
  readonly key: Buffer | null;
  /** The original bytes, dead-lettered as they came. */
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** ISO-8601 time the source gives the message (Kafka's timestamp), if any. */
  readonly timestamp: string | null;
}

/** What a source hands its messages to (the pipeline). */
export interface SourceHandler {
  /**
   * The next message of a partition, in offset order. `false` means "no capacity now": the
   * source pauses that partition and offers this same message again after `resume()`.
   * Messages already seen (redelivery after a rebalance) are accepted and ignored.
   */
  offer(msg: SourceMessage): boolean;
  /** Offsets up to and including `offset` were skipped by the source (transaction markers, compaction gaps). */
  skipped(partition: string, offset: bigint): void;
  /** This worker now owns these partitions (a new generation for those it did not own). */
  assigned(partitions: readonly string[]): void;
  /** This worker lost these partitions: stop their work, never commit them again. */
  revoked(partitions: readonly string[]): void;
  /** A finite source offered its last message. */
  ended(): void;
  /** The source failed for good (after its own retries); the pipeline stops. */
  failed(err: unknown): void;
}

/**
 * A source of logged records with commit semantics. The pipeline decides what to commit
 * (src/pipeline/offsets.ts); the source only stores it (Kafka: `commitOffsets`; files: a
 * checkpoint file).
 */
export interface Source {
  readonly name: string;
  /** Connect and begin offering messages. */
  start(handler: SourceHandler): Promise<void>;
  /** Store next-offset-to-read per partition; partitions this worker no longer owns are ignored. */
  commit(offsets: ReadonlyMap<string, bigint>): Promise<void>;
  pause(partitions: readonly string[]): void;
  resume(partitions: readonly string[]): void;
  /** Stop fetching and disconnect (after the pipeline's final commit). */
  stop(): Promise<void>;
  /**
   * Whether records left uncommitted are delivered again by a restarted worker (Kafka, files).
   * False for stdin: its unfinished records only come back if the same input is piped in again.
   * Default true.
   */
  readonly redelivers?: boolean;
}

export const deadLetterStages = ["parse", "validate", "attribute", "sink"] as const;
export type DeadLetterStage = (typeof deadLetterStages)[number];

/** A record the pipeline gave up on, with its original bytes and why. */
export interface DeadLetter {
  readonly message: SourceMessage;
  readonly stage: DeadLetterStage;
  /** Human-readable reason ("what: why"). */
  readonly reason: string;
  /** Stable error code (src/errors.ts ErrorCode). */
  readonly code: string;
  readonly attempts: number;
  readonly time: Date;
  readonly recordId: string | null;
  /** Validation issues with their paths, when the stage is parse or validate. */
  readonly issues: readonly { readonly path: string; readonly message: string }[];
  /** Set by a dead-letter route whose payload policy changed `message.value` (redacted or none). */
  readonly payload?: "redacted" | "none";
}

/** Where dead letters go (a Kafka topic, a JSONL file). */
export interface DeadLetterSink {
  readonly name: string;
  start(): Promise<void>;
  /** Resolves once the dead letter is durable: the record's offset is committed only then. */
  write(letter: DeadLetter): Promise<void>;
  close(): Promise<void>;
}
