/**
 * The pipeline: source -> parse/map -> sample -> attribute -> sinks and exporters, with
 * at-least-once delivery. This file composes the four parts and owns the lifecycle (start,
 * drain, stop); each part is testable alone:
 *
 * - intake.ts (intake and ordering): offset tickets, parsing, sampling, per-partition flow control;
 * - attribution-stage.ts (attribution with retry): the priority queue, concurrency, timeouts,
 *   retries by failure kind;
 * - delivery.ts (delivery with retry): sinks, exporters, dead letters;
 * - committer.ts (commit): periodic and final commits of what the tracker releases.
 *
 * A ticket completes when its record was skipped, durably accepted by every sink, or durably
 * dead-lettered; nothing else completes it. Work that is abandoned (shutdown deadline, revoked
 * partition) stays uncommitted and is redelivered.
 *
 * @see docs/pipeline.md
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { parseConfig } from "../config-issues.js";
import { AttributionError, CircuitOpenError, EndpointUnavailableError, errorCode, errorMessage } from "../errors.js";
import { AttributionStage } from "./attribution-stage.js";
import { recordContext, type RecordAttributor } from "./attributor.js";
import { Committer } from "./committer.js";
import type { AttributionExporter, DeadLetterSink, PipelineMetrics, Sink, Source, SourceHandler } from "./contracts.js";
import { noopMetrics } from "./contracts.js";
import { pipelineConfigSchema, type PipelineConfig, type PipelineConfigInput } from "./config.js";
import { Delivery } from "./delivery.js";
import { Intake, type Job } from "./intake.js";
import { RateLimitedLog, silentLogger, type PipelineLogger } from "./logger.js";
import type { RecordMapper } from "./mapping/mapper.js";
import { CommitTracker, type PartitionSnapshot } from "./offsets.js";
import type { RecordSampler } from "./sampling/sampler.js";
import { StatsMetrics, type StatsSnapshot } from "./stats.js";
import { TaskGroup } from "./tasks.js";

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

export interface RunSummary {
  /** Why the run ended. */
  readonly reason: "end_of_input" | "stopped" | "source_failed";
  /** Records unfinished at the drain deadline or a second signal (they stay uncommitted). */
  readonly abandoned: number;
  /** Whether the source delivers abandoned records again on a restart (false for stdin). */
  readonly redelivers: boolean;
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

/** Dead-letter writes are retried until durable (the offset is held); these are the waits. */
const DEAD_LETTER_RETRY = { max_attempts: 1, initial_backoff_ms: 500, max_backoff_ms: 30_000 };
/** Longest one component's close may take at shutdown (after an abandon: ABANDONED_CLOSE_MS). */
const CLOSE_MS = 10_000;
const ABANDONED_CLOSE_MS = 1000;

export class Pipeline {
  readonly config: PipelineConfig;
  private readonly tracker: CommitTracker;
  private readonly metrics: StatsMetrics;
  private readonly log: PipelineLogger;
  private readonly rlog: RateLimitedLog;
  private readonly tasks: TaskGroup;
  private readonly intake: Intake;
  private readonly attribution: AttributionStage | undefined;
  private readonly delivery: Delivery;
  private readonly committer: Committer;

  private stopping = false;
  /** End of a pause of the source (breaker open with `endpoint_unavailable.action: pause`). */
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  /** End of the current "endpoint unavailable" spell (its circuit breaker open). */
  private endpointDownUntil = 0;
  /** End of the longest wait the circuit breaker asked for (open, or half-open with its probe in flight). */
  private breakerWaitUntil = 0;
  /** End of the longest backoff the scorer asked for (rate limits): a success does not lift it. */
  private backoffUntil = 0;
  private idleWaiters: (() => void)[] = [];
  private stopRequested: (() => void) | undefined;
  private abandonedResolve: (() => void) | undefined;
  private readonly abandonedSignal = new Promise<false>((resolve) => (this.abandonedResolve = () => resolve(false)));
  private endedResolve: (() => void) | undefined;
  private failure: unknown;
  private failedResolve: (() => void) | undefined;
  private started = false;

  constructor(private readonly deps: PipelineDeps) {
    this.config = parseConfig(pipelineConfigSchema, deps.config ?? {}, { what: "reading the pipeline settings", path: "pipeline" });
    if (deps.attributor === null && this.config.attribution === "on") {
      throw new AttributionError({ what: "creating the pipeline", why: "no attributor was given; configure a scorer or set pipeline.attribution: off" });
    }
    const cfg = this.config;
    this.tracker = new CommitTracker(cfg.max_in_flight_per_partition);
    this.metrics = new StatsMetrics(deps.metrics ?? noopMetrics);
    this.log = deps.logger ?? silentLogger;
    this.rlog = new RateLimitedLog(this.log);
    this.tasks = new TaskGroup(this.log, () => this.notifyIdle());
    const exporters = deps.exporters ?? [];
    this.intake = new Intake({
      tracker: this.tracker,
      mapper: deps.mapper,
      sampler: deps.sampler,
      metrics: this.metrics,
      source: deps.source,
      maxInFlightPerPartition: cfg.max_in_flight_per_partition,
      accepting: () => !this.stopping && Date.now() >= this.pausedUntil,
      attributes: deps.attributor !== null && cfg.attribution === "on",
      invalid: (msg, ticket, stage, err) => this.delivery.deadLetter(msg, ticket, stage, err, 1, null),
      sampled: (job, priority, chars) => this.sampled(job, priority, chars),
      completed: () => this.notifyIdle(),
    });
    this.delivery = new Delivery({
      sinks: deps.sinks,
      exporters,
      deadLetters: deps.deadLetters,
      sinkRetry: cfg.sink_retries,
      deadLetterRetry: DEAD_LETTER_RETRY,
      tracker: this.tracker,
      metrics: this.metrics,
      rlog: this.rlog,
      tasks: this.tasks,
      complete: (t) => this.intake.complete(t),
      onResult: deps.onResult,
    });
    if (deps.attributor !== null) {
      const attributor = deps.attributor;
      this.attribution = new AttributionStage({
        attributor,
        config: { concurrency: cfg.concurrency, attribution_timeout_ms: cfg.attribution_timeout_ms, retry: cfg.retries },
        budget: deps.sampler.config.budget,
        tracker: this.tracker,
        metrics: this.metrics,
        rlog: this.rlog,
        tasks: this.tasks,
        attributed: (job, result) => {
          this.endpointAnswered();
          this.delivery.deliver(job, result);
        },
        gaveUp: (job, err, startedAt) => this.gaveUp(attributor, job, err, startedAt),
        budgetSkipped: (job) => this.intake.complete(job.ticket),
        retryLater: (ms, err) => this.pauseFor(ms, err),
        settled: () => this.notifyIdle(),
      });
    }
    this.committer = new Committer(deps.source, this.tracker, this.rlog, cfg.commit_interval_ms);
  }

  /** Counters and state, for logs and summaries. */
  stats(): PipelineStats {
    return {
      ...this.metrics.snapshot(),
      queued: this.attribution?.queued ?? 0,
      running: this.attribution?.running ?? 0,
      duplicatesIgnored: this.intake.duplicatesIgnored,
      commits: this.committer.commits,
      partitions: this.tracker.snapshot(),
      budget: this.attribution?.budgetLevels ?? { starts: null, tokens: null, tokens_per_char: 0 },
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

  /** Commits what is committable now (never rejects). */
  commitNow(): Promise<void> {
    return this.committer.commitNow();
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
    this.committer.start();
    this.log.info({ source: this.deps.source.name, sinks: this.deps.sinks.map((s) => s.name), concurrency: this.config.concurrency }, "pipeline running");

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
    const summary: RunSummary = { reason, abandoned, redelivers: this.deps.source.redelivers !== false, durationMs: Date.now() - t0, stats: this.stats() };
    this.log.info({ reason, abandoned, consumed: summary.stats.consumed, attributed: summary.stats.attributed, dead_lettered: summary.stats.deadLettered }, "pipeline stopped");
    if (reason === "source_failed") throw this.failure;
    return summary;
  }

  private handler(): SourceHandler {
    return {
      offer: (msg) => this.intake.offer(msg),
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

  private revoke(partitions: readonly string[]): void {
    this.attribution?.revoke(partitions);
    for (const p of partitions) {
      const unfinished = this.intake.revoke(p);
      if (unfinished > 0) this.log.info({ partition: p, unfinished }, "partition revoked; its unfinished records stay uncommitted");
    }
    this.notifyIdle();
  }

  /** An attribution that failed for good: exporters are told, the record is dead-lettered. */
  private gaveUp(attributor: RecordAttributor, job: Job, err: unknown, startedAt: Date): void {
    const failure = { context: recordContext(job.record), model: attributor.model, code: errorCode(err), message: errorMessage(err), startedAt, endedAt: new Date() };
    this.delivery.notifyExporters((e) => e.onFailed(failure));
    this.delivery.deadLetter(job.msg, job.ticket, "attribute", err, job.attempts, job.record.id);
  }

  /** A sampled record from intake: queued for attribution, or dead-lettered while the endpoint is unavailable. */
  private sampled(job: Job, priority: number, chars: number): void {
    const stage = this.attribution as AttributionStage;
    const { action, max_buffered } = this.config.endpoint_unavailable;
    if (Date.now() < this.endpointDownUntil && (action === "dead_letter" || (action === "buffer" && stage.queued >= max_buffered))) {
      this.unavailable(job);
      return;
    }
    stage.push(job, priority, chars);
  }

  private unavailable(job: Job): void {
    if (!job.decided) {
      job.decided = true;
      this.metrics.recordDecision("sampled", job.reason, job.record.model ?? "unknown");
    }
    const why =
      this.config.endpoint_unavailable.action === "dead_letter"
        ? "the scoring endpoint is unavailable (circuit breaker open) and pipeline.endpoint_unavailable.action is dead_letter; replay the record once it is back"
        : `the scoring endpoint is unavailable and ${this.config.endpoint_unavailable.max_buffered} sampled records already wait (pipeline.endpoint_unavailable.max_buffered); replay the record once it is back`;
    const err = new EndpointUnavailableError({ what: "attributing record", why });
    this.metrics.recordFailed("attribute", err.code);
    this.delivery.deadLetter(job.msg, job.ticket, "attribute", err, job.attempts, job.record.id);
  }

  /**
   * The scorer said "retry later": attribution pauses for that long. A requested backoff (rate
   * limit) only delays, and so does a half-open breaker whose probe is in flight (the endpoint may
   * be back: treating that wait as an outage dead-lettered records just after it recovered); an
   * open circuit breaker makes the endpoint unavailable, handled by `endpoint_unavailable.action`
   * (the source keeps flowing unless that is `pause`).
   */
  private pauseFor(ms: number, err: unknown): void {
    const stage = this.attribution as AttributionStage;
    const wasPaused = stage.paused;
    const until = Date.now() + ms;
    stage.pauseUntil(until);
    const code = errorCode(err);
    if (!(err instanceof CircuitOpenError)) {
      this.backoffUntil = Math.max(this.backoffUntil, until);
      return;
    }
    this.breakerWaitUntil = Math.max(this.breakerWaitUntil, until);
    if (err.probeInFlight) return;
    this.endpointDownUntil = Math.max(this.endpointDownUntil, until);
    const action = this.config.endpoint_unavailable.action;
    if (action === "dead_letter") for (const job of stage.takeQueued()) this.unavailable(job);
    if (!wasPaused) {
      const what = action === "pause" ? "the source is paused too" : action === "buffer" ? "sampled records wait (bounded), the stream keeps flowing" : "sampled records are dead-lettered, the stream keeps flowing";
      this.log.warn({ code, pause_ms: ms, action }, `scoring endpoint unavailable; attribution paused (${what})`);
    }
    if (action !== "pause" || until <= this.pausedUntil) return;
    if (Date.now() >= this.pausedUntil) this.deps.source.pause(this.tracker.partitions());
    this.pausedUntil = until;
    if (this.pauseTimer !== undefined) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      if (this.stopping) return;
      this.deps.source.resume(this.intake.resumable());
    }, ms);
  }

  /**
   * An attribution succeeded, so the endpoint answers: an "unavailable" spell ends now rather than
   * when the breaker's cool-down would have (records sampled meanwhile are attributed, not
   * dead-lettered), and so do the pauses it caused; a backoff the scorer asked for still holds.
   * A success that raced a breaker opening only costs one more circuit_open, which starts the
   * spell again.
   */
  private endpointAnswered(): void {
    const now = Date.now();
    if (this.breakerWaitUntil <= now) return;
    const wasDown = this.endpointDownUntil > now;
    this.breakerWaitUntil = 0;
    this.endpointDownUntil = 0;
    (this.attribution as AttributionStage).shortenPause(this.backoffUntil);
    if (this.pausedUntil > now && !this.stopping) {
      this.pausedUntil = 0;
      if (this.pauseTimer !== undefined) clearTimeout(this.pauseTimer);
      this.pauseTimer = undefined;
      this.deps.source.resume(this.intake.resumable());
    }
    if (wasDown) this.log.info({ action: this.config.endpoint_unavailable.action }, "scoring endpoint answered again; attribution resumed");
  }

  // ------------------------------------------------------------------------------------------
  // Drain and shutdown

  private isIdle(): boolean {
    return this.tracker.totalInFlight === 0 && (this.attribution?.running ?? 0) === 0;
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

  /**
   * Waits for in-flight work until `deadline`, returning as soon as nothing is in flight; then
   * abandons the rest. A second signal (abandon) ends the wait at once. Returns how many records
   * were abandoned.
   */
  private async drainUntil(deadline: number): Promise<number> {
    const ms = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const drained = await Promise.race([this.waitIdle(), timeout, this.abandonedSignal]);
    if (timer) clearTimeout(timer);
    if (drained) return 0;
    const left = this.tracker.totalInFlight;
    const fate = this.deps.source.redelivers === false ? "they stay uncommitted; stdin cannot deliver them again: rerun with the same input" : "they stay uncommitted and will be redelivered";
    const why = this.tasks.abandoned ? "second signal" : "drain deadline passed";
    this.log.warn({ unfinished: left, drain_timeout_ms: this.config.drain_timeout_ms }, `${why}; abandoning unfinished records (${fate})`);
    this.abandon();
    return left;
  }

  private abandon(): void {
    this.tasks.abandon();
    this.stopping = true;
    this.stopRequested?.();
    this.abandonedResolve?.();
    this.notifyIdle();
  }

  private async shutdown(): Promise<void> {
    this.committer.stop();
    this.attribution?.close();
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    // Tasks left after an abandon end quickly (their sleeps reject); give them a moment.
    await this.tasks.settled(this.tasks.abandoned ? 500 : 2000);
    await this.committer.commitNow();
    await this.committer.commitNow();
    // Closing is bounded: what a component still holds was never acknowledged, so never committed.
    const closeAll = async (what: string, fn: () => Promise<void>): Promise<void> => {
      const ms = this.tasks.abandoned ? ABANDONED_CLOSE_MS : CLOSE_MS;
      let timer: NodeJS.Timeout | undefined;
      try {
        const late = await Promise.race([fn().then(() => false), new Promise<true>((r) => (timer = setTimeout(() => r(true), ms)))]);
        if (late) this.log.warn({ what, timeout_ms: ms }, "closing took too long; left behind");
      } catch (err) {
        this.log.warn({ what, err: errorMessage(err) }, "error while closing");
      } finally {
        clearTimeout(timer);
      }
    };
    await closeAll("source", () => this.deps.source.stop());
    for (const s of this.deps.sinks) await closeAll(`sink ${s.name}`, () => s.close());
    for (const e of this.deps.exporters ?? []) await closeAll(`exporter ${e.name}`, () => e.shutdown());
    await closeAll("dead letters", () => this.deps.deadLetters.close());
  }
}
