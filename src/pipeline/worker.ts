/**
 * The pipeline: source -> parse/map -> sample -> attribute -> sinks and exporters, with
 * at-least-once delivery.
 *
 * - Every offered message gets an offset ticket (offsets.ts). It completes when the record was
 *   skipped by the sampler, durably accepted by every sink, or durably dead-lettered; only then
 *   can the commit move past it. Nothing else completes a ticket: work that is abandoned
 *   (shutdown deadline, revoked partition) stays uncommitted and is redelivered.
 * - Parsing and sampling run synchronously in `offer`, so the source's consumer loop never
 *   waits on attribution; attribution runs from a priority queue (sampling/budget.ts) with
 *   `pipeline.concurrency` slots. A partition with `max_in_flight_per_partition` unfinished
 *   records is paused until half of them are done.
 * - A scorer that says "retry later" (CircuitOpenError, BackoffError) pauses attribution and the
 *   source for that long; the record is not failed. Other failures are retried with backoff and
 *   dead-lettered after `retries.max_attempts` (at once when retrying cannot help).
 * - stop() drains: no new messages, work in flight finishes until `drain_timeout_ms`, then the
 *   rest is abandoned; committable offsets are committed last.
 *
 * @see docs/pipeline.md
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { LlmLogRecord } from "../../schemas/llm-log-record.js";
import {
  AttributionError,
  BackoffError,
  CircuitOpenError,
  ReagentError,
  RecordValidationError,
  ScorerHttpError,
  ScorerMismatchError,
  ScorerUnsupportedError,
  SinkError,
  errorMessage,
} from "../errors.js";
import type { AttributionExporter, DeadLetterSink, DeadLetterStage, PipelineMetrics, Sink, Source, SourceHandler, SourceMessage } from "./contracts.js";
import { noopMetrics } from "./contracts.js";
import { recordContext, type RecordAttributor } from "./attributor.js";
import { backoffMs, pipelineConfigSchema, type PipelineConfig, type PipelineConfigInput } from "./config.js";
import { buildDeadLetter, errorCode } from "./dead-letter.js";
import { RateLimitedLog, silentLogger, type PipelineLogger } from "./logger.js";
import type { RecordMapper } from "./mapping/mapper.js";
import { CommitTracker, type OffsetTicket, type PartitionSnapshot } from "./offsets.js";
import { AttributionQueue, type QueuedJob } from "./sampling/budget.js";
import type { RecordSampler} from "./sampling/sampler.js";
import { promptChars } from "./sampling/sampler.js";
import { StatsMetrics, type StatsSnapshot } from "./stats.js";

export interface PipelineDeps {
  readonly source: Source;
  readonly mapper: RecordMapper;
  readonly sampler: RecordSampler;
  /** Null only with `pipeline.attribution: off`. */
  readonly attributor: RecordAttributor | null;
  readonly sinks: readonly Sink[];
  readonly exporters?: readonly AttributionExporter[];
  readonly deadLetters: DeadLetterSink;
  readonly metrics?: PipelineMetrics;
  readonly logger?: PipelineLogger;
  readonly config?: PipelineConfigInput;
  /** Called with every result once all sinks accepted it (tests, the demo summary). */
  readonly onResult?: (result: AttributionResult) => void;
}

interface Job {
  readonly msg: SourceMessage;
  readonly ticket: OffsetTicket;
  readonly record: LlmLogRecord;
  readonly reason: string;
  attempts: number;
  decided: boolean;
}

export interface RunSummary {
  /** Why the run ended. */
  readonly reason: "end_of_input" | "stopped" | "source_failed";
  /** True when the drain deadline passed with work unfinished (it stays uncommitted). */
  readonly abandoned: number;
  readonly durationMs: number;
  readonly stats: PipelineStats;
}

export interface PipelineStats extends StatsSnapshot {
  readonly queued: number;
  readonly running: number;
  readonly duplicatesIgnored: number;
  readonly commits: number;
  readonly partitions: readonly PartitionSnapshot[];
  readonly budget: { readonly starts: number | null; readonly tokens: number | null; readonly tokens_per_char: number };
}

/** Errors for which another attempt cannot succeed: dead-letter at once. */
function isPermanent(err: unknown): boolean {
  if (err instanceof RecordValidationError || err instanceof ScorerUnsupportedError || err instanceof ScorerMismatchError) return true;
  if (err instanceof ScorerHttpError) return !err.retryable;
  // The engine's input checks (empty, too long, out-of-vocabulary ids) are deterministic.
  return err instanceof AttributionError && err.what.startsWith("preparing");
}

/** How long to wait when the scorer says "retry later"; undefined for ordinary failures. */
function retryLaterMs(err: unknown): number | undefined {
  if (err instanceof CircuitOpenError) return Math.max(1, err.retryInMs);
  if (err instanceof BackoffError) return Math.max(1, err.waitMs);
  return undefined;
}

class Abandoned extends Error {
  constructor() {
    super("abandoned");
  }
}

export class Pipeline {
  readonly config: PipelineConfig;
  private readonly tracker: CommitTracker;
  private readonly queue: AttributionQueue<Job>;
  private readonly metrics: StatsMetrics;
  private readonly log: PipelineLogger;
  private readonly rlog: RateLimitedLog;
  private readonly exporters: readonly AttributionExporter[];
  private readonly sourceName: string;
  private readonly lowWater: number;

  private running = 0;
  private stopping = false;
  private readonly hardAbort = new AbortController();
  /** Per-partition abort, fired on revocation. */
  private readonly partitionAbort = new Map<string, AbortController>();
  private readonly blocked = new Set<string>();
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  private dispatchTimer: NodeJS.Timeout | undefined;
  private dispatchAt = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private readonly tasks = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private duplicates = 0;
  private commits = 0;
  private stopRequested: (() => void) | undefined;
  private endedResolve: (() => void) | undefined;
  private failure: unknown;
  private failedResolve: (() => void) | undefined;
  private started = false;

  constructor(private readonly deps: PipelineDeps) {
    this.config = pipelineConfigSchema.parse(deps.config ?? {});
    if (deps.attributor === null && this.config.attribution === "on") {
      throw new AttributionError({ what: "creating the pipeline", why: "no attributor was given; configure a scorer or set pipeline.attribution: off" });
    }
    this.tracker = new CommitTracker(this.config.max_in_flight_per_partition);
    this.queue = new AttributionQueue<Job>(deps.sampler.config.budget);
    this.metrics = new StatsMetrics(deps.metrics ?? noopMetrics);
    this.log = deps.logger ?? silentLogger;
    this.rlog = new RateLimitedLog(this.log);
    this.exporters = deps.exporters ?? [];
    this.sourceName = deps.source.name;
    this.lowWater = Math.floor(this.config.max_in_flight_per_partition / 2);
  }

  /** Counters and state, for logs and summaries. */
  stats(): PipelineStats {
    return {
      ...this.metrics.snapshot(),
      queued: this.queue.length,
      running: this.running,
      duplicatesIgnored: this.duplicates,
      commits: this.commits,
      partitions: this.tracker.snapshot(),
      budget: this.queue.budgetLevels,
    };
  }

  /** Asks the run to drain and stop (SIGTERM/SIGINT). A second call abandons work in flight now. */
  stop(): void {
    if (this.stopping) {
      this.abandon();
      return;
    }
    this.stopping = true;
    this.stopRequested?.();
  }

  /** Runs until the source ends (finite sources) or stop() is called; then drains and closes everything. */
  async run(): Promise<RunSummary> {
    if (this.started) throw new Error("Pipeline.run() may be called once");
    this.started = true;
    const t0 = Date.now();
    const stopped = new Promise<"stopped">((resolve) => {
      this.stopRequested = () => resolve("stopped");
      if (this.stopping) resolve("stopped");
    });
    const ended = new Promise<"end_of_input">((resolve) => (this.endedResolve = () => resolve("end_of_input")));
    const failed = new Promise<"source_failed">((resolve) => (this.failedResolve = () => resolve("source_failed")));

    await this.deps.deadLetters.start();
    for (const s of this.deps.sinks) await s.start();
    await this.deps.source.start(this.handler());
    this.scheduleCommits();
    this.log.info({ source: this.sourceName, sinks: this.deps.sinks.map((s) => s.name), concurrency: this.config.concurrency }, "pipeline running");

    const reason = await Promise.race([stopped, ended, failed]);
    this.stopping = true;
    this.deps.source.pause(this.tracker.partitions());
    // Input that ended is drained completely unless a stop comes; a stop drains until the deadline.
    let abandoned = 0;
    if (reason === "end_of_input") {
      const drained = await Promise.race([this.waitIdle(), stopped.then(() => false)]);
      if (!drained) abandoned = await this.drainUntil(Date.now() + this.config.drain_timeout_ms);
    } else if (reason === "stopped") {
      abandoned = await this.drainUntil(Date.now() + this.config.drain_timeout_ms);
    } else {
      this.abandon();
      abandoned = this.tracker.totalInFlight;
    }
    await this.shutdown();
    const summary: RunSummary = { reason, abandoned, durationMs: Date.now() - t0, stats: this.stats() };
    this.log.info({ reason, abandoned, consumed: summary.stats.consumed, attributed: summary.stats.attributed, dead_lettered: summary.stats.deadLettered }, "pipeline stopped");
    if (reason === "source_failed") throw this.failure;
    return summary;
  }

  // ------------------------------------------------------------------------------------------
  // Source side

  private handler(): SourceHandler {
    return {
      offer: (msg) => this.offer(msg),
      skipped: (partition, offset) => this.tracker.skip(partition, offset),
      assigned: (partitions) => {
        for (const p of partitions) this.tracker.assign(p);
      },
      revoked: (partitions) => this.revoke(partitions),
      ended: () => this.endedResolve?.(),
      failed: (err) => {
        this.failure = err;
        this.log.error({ err: errorMessage(err) }, "source failed");
        this.failedResolve?.();
      },
    };
  }

  private offer(msg: SourceMessage): boolean {
    if (this.stopping || Date.now() < this.pausedUntil) return false;
    const t = this.tracker.track(msg.partition, msg.offset);
    if (t === "duplicate") {
      this.duplicates++;
      return true;
    }
    if (t === "full") {
      this.blocked.add(msg.partition);
      return false;
    }
    this.metrics.recordsConsumed(1, this.sourceName);
    let record: LlmLogRecord;
    try {
      record = this.deps.mapper.map(msg).record;
    } catch (err) {
      const stage: DeadLetterStage = err instanceof RecordValidationError && err.what.startsWith("parsing") ? "parse" : "validate";
      this.metrics.recordFailed(stage, errorCode(err));
      this.deadLetter(msg, t, stage, err, 1, null);
      return true;
    }
    this.metrics.recordParsed(this.sourceName);
    const verdict = this.deps.sampler.decide(record);
    const model = record.model ?? "unknown";
    if (!verdict.sampled) {
      this.metrics.recordDecision("skipped", verdict.reason, model);
      this.complete(t);
      return true;
    }
    if (this.deps.attributor === null || this.config.attribution === "off") {
      this.metrics.recordDecision("sampled", verdict.reason, model);
      this.complete(t);
      return true;
    }
    const job: Job = { msg, ticket: t, record, reason: verdict.reason, attempts: 0, decided: false };
    const evicted = this.queue.push(job, verdict.priority, promptChars(record) + record.completion.text.length);
    for (const e of evicted) this.skipForBudget(e);
    this.scheduleDispatch(0);
    return true;
  }

  private revoke(partitions: readonly string[]): void {
    const set = new Set(partitions);
    for (const p of partitions) {
      const unfinished = this.tracker.revoke(p);
      this.partitionAbort.get(p)?.abort(new Abandoned());
      this.partitionAbort.delete(p);
      this.blocked.delete(p);
      if (unfinished > 0) this.log.info({ partition: p, unfinished }, "partition revoked; its unfinished records stay uncommitted");
    }
    this.queue.removeWhere((j) => set.has(j.msg.partition));
    this.notifyIdle();
  }

  private complete(ticket: OffsetTicket): void {
    if (!this.tracker.complete(ticket)) return;
    const p = ticket.partition;
    if (this.blocked.has(p) && this.tracker.inFlight(p) <= this.lowWater && !this.stopping) {
      this.blocked.delete(p);
      if (Date.now() >= this.pausedUntil) this.deps.source.resume([p]);
    }
    if (this.tracker.totalInFlight === 0) this.notifyIdle();
  }

  // ------------------------------------------------------------------------------------------
  // Attribution

  private skipForBudget(q: QueuedJob<Job>): void {
    const job = q.item;
    this.metrics.recordDecision("skipped", "budget", job.record.model ?? "unknown");
    this.complete(job.ticket);
  }

  private scheduleDispatch(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.dispatchTimer !== undefined) {
      if (this.dispatchAt <= at) return;
      clearTimeout(this.dispatchTimer);
    }
    this.dispatchAt = at;
    this.dispatchTimer = setTimeout(() => {
      this.dispatchTimer = undefined;
      this.dispatch();
    }, delayMs);
  }

  private dispatch(): void {
    if (this.hardAbort.signal.aborted) return;
    for (const e of this.queue.expire()) this.skipForBudget(e);
    while (this.running < this.config.concurrency) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        this.scheduleDispatch(this.pausedUntil - now);
        return;
      }
      const next = this.queue.next();
      if (next === undefined) return;
      if ("waitMs" in next) {
        this.scheduleDispatch(next.waitMs);
        return;
      }
      const job = next.job.item;
      if (!this.tracker.isCurrent(job.ticket)) continue;
      if (!job.decided) {
        job.decided = true;
        this.metrics.recordDecision("sampled", job.reason, job.record.model ?? "unknown");
      }
      this.running++;
      this.metrics.inFlight(1);
      this.track(this.attributeJob(next.job, next.estimateTokens));
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

  private async attributeJob(q: QueuedJob<Job>, estimate: number): Promise<void> {
    const job = q.item;
    const attributor = this.deps.attributor as RecordAttributor;
    job.attempts++;
    const started = new Date();
    const t0 = performance.now();
    const signal = AbortSignal.any([this.hardAbort.signal, this.partitionSignal(job.msg.partition), AbortSignal.timeout(this.config.attribution_timeout_ms)]);
    let result: AttributionResult;
    try {
      result = await attributor.attribute(job.record, signal);
    } catch (err) {
      this.running--;
      this.metrics.inFlight(-1);
      this.onAttributionError(q, estimate, err, started, signal);
      this.scheduleDispatch(0);
      return;
    }
    this.running--;
    this.metrics.inFlight(-1);
    this.queue.settle(q.chars, estimate, result.cost.tokens_processed);
    this.metrics.recordAttributed(attributor.model, performance.now() - t0);
    this.metrics.modelCalls(result.cost.model_calls, attributor.model);
    this.metrics.tokensScored(result.cost.tokens_processed, attributor.model);
    this.scheduleDispatch(0);
    if (!this.tracker.isCurrent(job.ticket)) return;
    try {
      await this.writeSinks(result, job);
    } catch (err) {
      if (err instanceof Abandoned || !this.tracker.isCurrent(job.ticket)) return;
      this.metrics.recordFailed("sink", errorCode(err));
      this.deadLetter(job.msg, job.ticket, "sink", err, job.attempts, job.record.id);
      return;
    }
    for (const e of this.exporters) {
      try {
        e.onAttributed(result);
      } catch (err) {
        this.rlog.warn(`exporter:${e.name}`, { exporter: e.name, err: errorMessage(err) }, "exporter threw; ignored");
      }
    }
    this.deps.onResult?.(result);
    this.complete(job.ticket);
  }

  private onAttributionError(q: QueuedJob<Job>, estimate: number, err: unknown, started: Date, signal: AbortSignal): void {
    const job = q.item;
    if (this.hardAbort.signal.aborted || !this.tracker.isCurrent(job.ticket)) return;
    const later = retryLaterMs(err);
    if (later !== undefined) {
      // Not the record's fault: put it back where it was and pause for that long.
      job.attempts--;
      this.queue.refund(estimate);
      this.queue.putBack(q);
      this.pauseFor(later, errorCode(err));
      return;
    }
    this.queue.settle(q.chars, estimate, undefined);
    const timedOut = signal.aborted && !this.hardAbort.signal.aborted;
    const error = timedOut && !(err instanceof ReagentError) ? new AttributionError({ what: "attributing record", why: `no result within pipeline.attribution_timeout_ms (${this.config.attribution_timeout_ms} ms)`, cause: err }) : err;
    const code = errorCode(error);
    this.metrics.recordFailed("attribute", code);
    if (isPermanent(error) || job.attempts >= this.config.retries.max_attempts) {
      for (const e of this.exporters) {
        try {
          e.onFailed({ context: recordContext(job.record), model: this.deps.attributor?.model ?? "unknown", code, message: errorMessage(error), startedAt: started, endedAt: new Date() });
        } catch {
          // best effort
        }
      }
      this.deadLetter(job.msg, job.ticket, "attribute", error, job.attempts, job.record.id);
      return;
    }
    const wait = backoffMs(this.config.retries, job.attempts);
    this.rlog.warn("attribute-retry", { record_id: job.record.id, attempt: job.attempts, code, err: errorMessage(error), retry_in_ms: wait }, "attribution failed; retrying");
    this.track(
      (async () => {
        try {
          await this.sleep(wait);
        } catch {
          return;
        }
        if (!this.tracker.isCurrent(job.ticket)) return;
        this.queue.putBack(q);
        this.scheduleDispatch(0);
      })(),
    );
  }

  /** Pauses attribution and the source (scorer circuit open, backoff requested). */
  private pauseFor(ms: number, code: string): void {
    const until = Date.now() + ms;
    if (until <= this.pausedUntil) return;
    const wasPaused = Date.now() < this.pausedUntil;
    this.pausedUntil = until;
    if (!wasPaused) {
      this.log.warn({ code, pause_ms: ms }, "scorer asked to retry later; pausing attribution and the source");
      this.deps.source.pause(this.tracker.partitions());
    }
    if (this.pauseTimer !== undefined) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      if (this.stopping) return;
      this.deps.source.resume(this.tracker.partitions().filter((p) => !this.blocked.has(p)));
      this.scheduleDispatch(0);
    }, ms);
  }

  private async writeSinks(result: AttributionResult, job: Job): Promise<void> {
    await Promise.all(this.deps.sinks.map((s) => this.writeSink(s, result, job)));
  }

  private async writeSink(sink: Sink, result: AttributionResult, job: Job): Promise<void> {
    let attempts = 0;
    for (;;) {
      if (this.hardAbort.signal.aborted) throw new Abandoned();
      attempts++;
      try {
        await sink.write(result);
        return;
      } catch (err) {
        if (this.hardAbort.signal.aborted) throw new Abandoned();
        const retryable = err instanceof SinkError && err.retryable;
        if (!retryable && attempts >= this.config.sink_retries.max_attempts) throw err;
        if (!this.tracker.isCurrent(job.ticket)) throw new Abandoned();
        const wait = backoffMs(this.config.sink_retries, Math.min(attempts, 16));
        this.rlog.warn(`sink:${sink.name}`, { sink: sink.name, attempt: attempts, retryable, err: errorMessage(err), retry_in_ms: wait }, "sink write failed; retrying (the offset is held)");
        await this.sleep(wait);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Dead letters

  private deadLetter(msg: SourceMessage, ticket: OffsetTicket, stage: DeadLetterStage, err: unknown, attempts: number, recordId: string | null): void {
    const letter = buildDeadLetter(msg, stage, err, attempts, recordId);
    this.track(
      (async () => {
        let tries = 0;
        for (;;) {
          if (this.hardAbort.signal.aborted || !this.tracker.isCurrent(ticket)) return;
          tries++;
          try {
            await this.deps.deadLetters.write(letter);
            this.metrics.recordDeadLettered(stage, letter.code);
            this.complete(ticket);
            return;
          } catch (e) {
            // Never complete (commit) a record whose dead letter is not durable.
            const wait = Math.min(30_000, 250 * 2 ** Math.min(tries, 7));
            this.rlog.warn("dead-letter", { dead_letter: this.deps.deadLetters.name, err: errorMessage(e), retry_in_ms: wait }, "dead-letter write failed; retrying (the offset is held)");
            try {
              await this.sleep(wait);
            } catch {
              return;
            }
          }
        }
      })(),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Commits, drain, shutdown

  private scheduleCommits(): void {
    this.commitTimer = setInterval(() => {
      void this.commitNow();
    }, this.config.commit_interval_ms);
  }

  /** Commits what is committable; never rejects (a failed commit is retried on the next tick). */
  commitNow(): Promise<void> {
    if (this.committing) return this.committing;
    const pending = this.tracker.pending();
    if (pending.size === 0) return Promise.resolve();
    this.committing = (async () => {
      try {
        await this.deps.source.commit(pending);
        for (const [p, o] of pending) this.tracker.markCommitted(p, o);
        this.commits++;
      } catch (err) {
        this.rlog.warn("commit", { err: errorMessage(err) }, "commit failed; retrying on the next interval");
      } finally {
        this.committing = undefined;
      }
    })();
    return this.committing;
  }

  private track(p: Promise<void>): void {
    const wrapped = p.catch((err: unknown) => {
      this.log.error({ err: errorMessage(err) }, "unexpected error in pipeline task");
    });
    this.tasks.add(wrapped);
    void wrapped.finally(() => {
      this.tasks.delete(wrapped);
      this.notifyIdle();
    });
  }

  private isIdle(): boolean {
    return this.tracker.totalInFlight === 0 && this.running === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private waitIdle(): Promise<true> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => this.idleWaiters.push(() => resolve(true)));
  }

  /** Waits for in-flight work until `deadline`; then abandons the rest. Returns how many records were abandoned. */
  private async drainUntil(deadline: number): Promise<number> {
    const ms = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const drained = await Promise.race([this.waitIdle(), timeout]);
    if (timer) clearTimeout(timer);
    if (drained) return 0;
    const left = this.tracker.totalInFlight;
    this.log.warn({ unfinished: left, drain_timeout_ms: this.config.drain_timeout_ms }, "drain deadline passed; abandoning unfinished records (they stay uncommitted and will be redelivered)");
    this.abandon();
    return left;
  }

  private abandon(): void {
    if (!this.hardAbort.signal.aborted) this.hardAbort.abort(new Abandoned());
    this.stopping = true;
    this.stopRequested?.();
    this.notifyIdle();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.hardAbort.signal.aborted) {
        reject(new Abandoned());
        return;
      }
      const t = setTimeout(() => {
        this.hardAbort.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new Abandoned());
      };
      this.hardAbort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private async shutdown(): Promise<void> {
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (this.dispatchTimer) clearTimeout(this.dispatchTimer);
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    // Tasks left after an abandon end quickly (their sleeps reject); give them a moment.
    await Promise.race([Promise.allSettled([...this.tasks]), new Promise((r) => setTimeout(r, 2000).unref?.())]);
    await this.commitNow();
    await this.commitNow();
    const closeAll = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ what, err: errorMessage(err) }, "error while closing");
      }
    };
    await closeAll("source", () => this.deps.source.stop());
    for (const s of this.deps.sinks) await closeAll(`sink ${s.name}`, () => s.close());
    for (const e of this.exporters) await closeAll(`exporter ${e.name}`, () => e.shutdown());
    await closeAll("dead letters", () => this.deps.deadLetters.close());
  }
}
