/**
 * Attribution with retry: sampled records wait in a priority queue (sampling/budget.ts) for one
 * of `pipeline.concurrency` slots and for budget, then the attributor runs with a timeout and an
 * abort signal per partition (fired on revocation) and for the whole pipeline (abandon).
 *
 * What a failure leads to is decided by `failureKind` (src/errors.ts), from the error's code:
 * - `retry_later` (circuit breaker open, backoff requested): the job goes back to its place, no
 *   attempt is counted, and the stage pauses for that long (`pauseFor`);
 * - `permanent`: handed to `gaveUp` at once (dead letter);
 * - `transient`: retried after `backoffMs(pipeline.retry, attempt)` until `max_attempts`, then `gaveUp`.
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { AttributionError, ReagentError, errorCode, errorMessage, failureKind, retryLaterMs } from "../errors.js";
import { backoffMs, type RetryPolicy } from "../retry.js";
import type { RecordAttributor } from "./attributor.js";
import type { Job } from "./intake.js";
import type { RateLimitedLog } from "./logger.js";
import type { CommitTracker } from "./offsets.js";
import { AttributionQueue, type QueuedJob } from "./sampling/budget.js";
import type { BudgetConfig } from "./sampling/config.js";
import type { StatsMetrics } from "./stats.js";
import { Abandoned, type TaskGroup } from "./tasks.js";

export interface AttributionStageConfig {
  readonly concurrency: number;
  readonly attribution_timeout_ms: number;
  readonly retry: RetryPolicy;
}

export interface AttributionStageDeps {
  readonly attributor: RecordAttributor;
  readonly config: AttributionStageConfig;
  readonly budget: BudgetConfig | undefined;
  readonly tracker: Pick<CommitTracker, "isCurrent">;
  readonly metrics: StatsMetrics;
  readonly rlog: RateLimitedLog;
  readonly tasks: TaskGroup;
  /** A finished attribution, for delivery. */
  readonly attributed: (job: Job, result: AttributionResult) => void;
  /** An attribution that failed for good (`attempts` made): dead-letter it. */
  readonly gaveUp: (job: Job, err: unknown, startedAt: Date) => void;
  /** A job the budget could not take (queue full or waited too long): skip it. */
  readonly budgetSkipped: (job: Job) => void;
  /** The scorer asked to retry later (`err`, a retry_later failure): the stage pauses for `ms` (the pipeline decides what else pauses). */
  readonly retryLater: (ms: number, err: unknown) => void;
  /** Called whenever an attribution ends (the pipeline checks whether it is idle). */
  readonly settled: () => void;
}

export class AttributionStage {
  private readonly queue: AttributionQueue<Job>;
  private runningCount = 0;
  private pausedUntil = 0;
  private dispatchTimer: NodeJS.Timeout | undefined;
  private dispatchAt = 0;
  /** Per-partition abort, fired on revocation. */
  private readonly partitionAbort = new Map<string, AbortController>();

  constructor(private readonly deps: AttributionStageDeps) {
    this.queue = new AttributionQueue<Job>(deps.budget);
  }

  get running(): number {
    return this.runningCount;
  }

  get queued(): number {
    return this.queue.length;
  }

  get budgetLevels(): { starts: number | null; tokens: number | null; tokens_per_char: number } {
    return this.queue.budgetLevels;
  }

  /** Whether a "retry later" pause is in effect. */
  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  push(job: Job, priority: number, chars: number): void {
    const evicted = this.queue.push(job, priority, chars);
    for (const e of evicted) this.skipForBudget(e);
    this.schedule(0);
  }

  /** Drops queued work of lost partitions and aborts their attributions in flight. */
  revoke(partitions: readonly string[]): void {
    const set = new Set(partitions);
    for (const p of partitions) {
      this.partitionAbort.get(p)?.abort(new Abandoned());
      this.partitionAbort.delete(p);
    }
    this.queue.removeWhere((j) => set.has(j.msg.partition));
  }

  /** Stops attribution until `until` (epoch ms); returns false when an equal or longer pause was on already. */
  pauseUntil(until: number): boolean {
    if (until <= this.pausedUntil) return false;
    this.pausedUntil = until;
    this.schedule(until - Date.now());
    return true;
  }

  /**
   * Shortens the pause to `until` (epoch ms; 0 or a past time ends it now): the pipeline ends a
   * breaker's pause early once the endpoint has answered, keeping any backoff it asked for.
   */
  shortenPause(until: number): void {
    if (until >= this.pausedUntil) return;
    this.pausedUntil = until;
    this.schedule(Math.max(0, until - Date.now()));
  }

  /** Removes and returns every queued job (dead-lettering them while the endpoint is unavailable). */
  takeQueued(): Job[] {
    return this.queue.removeWhere(() => true).map((q) => q.item);
  }

  close(): void {
    if (this.dispatchTimer) clearTimeout(this.dispatchTimer);
    this.dispatchTimer = undefined;
  }

  private skipForBudget(q: QueuedJob<Job>): void {
    this.deps.metrics.recordDecision("skipped", "budget", q.item.record.model ?? "unknown");
    this.deps.budgetSkipped(q.item);
  }

  private schedule(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.dispatchTimer !== undefined) {
      if (this.dispatchAt <= at) return;
      clearTimeout(this.dispatchTimer);
    }
    this.dispatchAt = at;
    this.dispatchTimer = setTimeout(() => {
      this.dispatchTimer = undefined;
      this.dispatch();
    }, Math.max(0, delayMs));
  }

  private dispatch(): void {
    const d = this.deps;
    if (d.tasks.abandoned) return;
    for (const e of this.queue.expire()) this.skipForBudget(e);
    while (this.runningCount < d.config.concurrency) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        this.schedule(this.pausedUntil - now);
        return;
      }
      const next = this.queue.next();
      if (next === undefined) return;
      if ("waitMs" in next) {
        this.schedule(next.waitMs);
        return;
      }
      const job = next.job.item;
      if (!d.tracker.isCurrent(job.ticket)) continue;
      if (!job.decided) {
        job.decided = true;
        d.metrics.recordDecision("sampled", job.reason, job.record.model ?? "unknown");
      }
      this.runningCount++;
      d.metrics.inFlight(1);
      d.tasks.track(this.attempt(next.job, next.estimateTokens));
    }
  }

  private partitionSignal(partition: string): AbortSignal {
    let c = this.partitionAbort.get(partition);
    if (!c) {
      c = new AbortController();
      this.partitionAbort.set(partition, c);
    }
    return c.signal;
  }

  private async attempt(q: QueuedJob<Job>, estimate: number): Promise<void> {
    const d = this.deps;
    const job = q.item;
    job.attempts++;
    const started = new Date();
    const t0 = performance.now();
    const signal = AbortSignal.any([d.tasks.signal, this.partitionSignal(job.msg.partition), AbortSignal.timeout(d.config.attribution_timeout_ms)]);
    let result: AttributionResult | undefined;
    let error: unknown;
    try {
      result = await d.attributor.attribute(job.record, signal);
    } catch (err) {
      error = err;
    }
    this.runningCount--;
    d.metrics.inFlight(-1);
    try {
      if (result === undefined) {
        this.failed(q, estimate, error, started, signal);
        return;
      }
      this.queue.settle(q.chars, estimate, result.cost.tokens_processed);
      d.metrics.recordAttributed(d.attributor.model, performance.now() - t0);
      d.metrics.modelCalls(result.cost.model_calls, d.attributor.model);
      d.metrics.tokensScored(result.cost.tokens_processed, d.attributor.model);
      if (d.tracker.isCurrent(job.ticket)) d.attributed(job, result);
    } finally {
      this.schedule(0);
      d.settled();
    }
  }

  private failed(q: QueuedJob<Job>, estimate: number, err: unknown, started: Date, signal: AbortSignal): void {
    const d = this.deps;
    const job = q.item;
    if (d.tasks.abandoned || !d.tracker.isCurrent(job.ticket)) return;
    const later = failureKind(err) === "retry_later" ? retryLaterMs(err) : undefined;
    if (later !== undefined) {
      // Not the record's fault: it goes back to its place and no attempt is counted.
      job.attempts--;
      this.queue.refund(estimate);
      this.queue.putBack(q);
      d.retryLater(later, err);
      return;
    }
    this.queue.settle(q.chars, estimate, undefined);
    const timedOut = signal.aborted && !d.tasks.abandoned;
    const error =
      timedOut && !(err instanceof ReagentError)
        ? new AttributionError({ what: "attributing record", why: `no result within pipeline.attribution_timeout_ms (${d.config.attribution_timeout_ms} ms)`, cause: err })
        : err;
    const code = errorCode(error);
    d.metrics.recordFailed("attribute", code);
    if (failureKind(error) === "permanent" || job.attempts >= d.config.retry.max_attempts) {
      d.gaveUp(job, error, started);
      return;
    }
    const wait = backoffMs(d.config.retry, job.attempts);
    d.rlog.warn("attribute-retry", { record_id: job.record.id, attempt: job.attempts, code, err: errorMessage(error), retry_in_ms: wait }, "attribution failed; retrying");
    d.tasks.track(
      (async () => {
        await d.tasks.sleep(wait);
        if (!d.tracker.isCurrent(job.ticket)) return;
        this.queue.putBack(q);
        this.schedule(0);
      })(),
    );
  }
}
