/**
 * Delivery with retry: a result goes to every sink, then (best effort) to the exporters; a record
 * the pipeline gives up on goes to the dead-letter route. A record's ticket completes only once
 * every sink confirmed its result, or its dead letter is durable.
 *
 * Sink writes are retried by `failureKind` (src/errors.ts):
 * - `transient` (the store is down): with backoff until it works or the work is abandoned, holding
 *   the offset (the store's outage must not turn into dead letters);
 * - `permanent` or `unexpected`: up to `pipeline.sink_retries.max_attempts` attempts, then the record is
 *   dead-lettered with stage `sink`. More than one attempt, because a sink that rejects a batch
 *   rejects every result in it: a result whose batch-mate was the bad one succeeds alone.
 * Dead-letter writes are retried with backoff until durable or abandoned.
 * Exporters never throw into the pipeline: what they throw is logged (rate-limited) and ignored.
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { errorCode, errorMessage, failureKind } from "../errors.js";
import { backoffMs, type RetryPolicy } from "../retry.js";
import type { AttributionExporter, DeadLetterSink, DeadLetterStage, Sink, SourceMessage } from "./contracts.js";
import { buildDeadLetter } from "./dead-letter.js";
import type { Job } from "./intake.js";
import type { RateLimitedLog } from "./logger.js";
import type { CommitTracker, OffsetTicket } from "./offsets.js";
import type { StatsMetrics } from "./stats.js";
import { Abandoned, type TaskGroup } from "./tasks.js";

export interface DeliveryDeps {
  readonly sinks: readonly Sink[];
  readonly exporters: readonly AttributionExporter[];
  readonly deadLetters: DeadLetterSink;
  readonly sinkRetry: RetryPolicy;
  /** Dead-letter writes: attempts are unbounded (the offset is held), the waits follow this policy. */
  readonly deadLetterRetry: RetryPolicy;
  readonly tracker: Pick<CommitTracker, "isCurrent">;
  readonly metrics: StatsMetrics;
  readonly rlog: RateLimitedLog;
  readonly tasks: TaskGroup;
  /** Marks a ticket done. */
  readonly complete: (ticket: OffsetTicket) => void;
  /** Told every result once all sinks accepted it. */
  readonly onResult?: ((result: AttributionResult) => void) | undefined;
}

export class Delivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** Writes a result to every sink, tells the exporters, completes the ticket (or dead-letters the record). */
  deliver(job: Job, result: AttributionResult): void {
    this.deps.tasks.track(this.run(job, result));
  }

  /** Calls every exporter; a throwing exporter is logged and ignored. */
  notifyExporters(call: (e: AttributionExporter) => void): void {
    for (const e of this.deps.exporters) {
      try {
        call(e);
      } catch (err) {
        this.deps.rlog.warn(`exporter:${e.name}`, { exporter: e.name, err: errorMessage(err) }, "exporter threw; ignored");
      }
    }
  }

  /** Sends a record to the dead-letter route; its ticket completes once that is durable. */
  deadLetter(msg: SourceMessage, ticket: OffsetTicket, stage: DeadLetterStage, err: unknown, attempts: number, recordId: string | null): void {
    const d = this.deps;
    const letter = buildDeadLetter(msg, stage, err, attempts, recordId);
    d.tasks.track(
      (async () => {
        for (let tries = 1; ; tries++) {
          if (d.tasks.abandoned || !d.tracker.isCurrent(ticket)) return;
          try {
            await d.deadLetters.write(letter);
            d.metrics.recordDeadLettered(stage, letter.code);
            d.complete(ticket);
            return;
          } catch (e) {
            // Never complete (commit) a record whose dead letter is not durable.
            const wait = backoffMs(d.deadLetterRetry, tries);
            d.rlog.warn("dead-letter", { dead_letter: d.deadLetters.name, err: errorMessage(e), retry_in_ms: wait }, "dead-letter write failed; retrying (the offset is held)");
            await d.tasks.sleep(wait);
          }
        }
      })(),
    );
  }

  private async run(job: Job, result: AttributionResult): Promise<void> {
    const d = this.deps;
    try {
      await Promise.all(d.sinks.map((s) => this.writeSink(s, result, job)));
    } catch (err) {
      if (err instanceof Abandoned || !d.tracker.isCurrent(job.ticket)) return;
      d.metrics.recordFailed("sink", errorCode(err));
      this.deadLetter(job.msg, job.ticket, "sink", err, job.attempts, job.record.id);
      return;
    }
    this.notifyExporters((e) => e.onAttributed(result));
    d.onResult?.(result);
    d.complete(job.ticket);
  }

  private async writeSink(sink: Sink, result: AttributionResult, job: Job): Promise<void> {
    const d = this.deps;
    for (let attempt = 1; ; attempt++) {
      if (d.tasks.abandoned) throw new Abandoned();
      try {
        await sink.write(result);
        return;
      } catch (err) {
        if (d.tasks.abandoned) throw new Abandoned();
        const transient = failureKind(err) === "transient";
        if (!transient && attempt >= d.sinkRetry.max_attempts) throw err;
        if (!d.tracker.isCurrent(job.ticket)) throw new Abandoned();
        const wait = backoffMs(d.sinkRetry, attempt);
        d.rlog.warn(`sink:${sink.name}`, { sink: sink.name, attempt, retryable: transient, err: errorMessage(err), retry_in_ms: wait }, "sink write failed; retrying (the offset is held)");
        await d.tasks.sleep(wait);
      }
    }
  }
}
