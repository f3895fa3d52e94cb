/**
 * Intake and ordering: the first part of the pipeline, run synchronously in the source's
 * `offer` so the consumer loop never waits on attribution.
 *
 * Each offered message gets an offset ticket from the commit tracker (offsets.ts), is parsed and
 * mapped (invalid: dead letter; blank: skipped with reason `blank`), and sampled (skipped: its ticket is done at once; sampled: handed
 * to attribution as a `Job`). Flow control lives here too: a partition with
 * `max_in_flight_per_partition` unfinished tickets is refused (the source pauses it) and resumed
 * once half of them are done. `complete` is the only way a ticket becomes done.
 */
import type { LlmLogRecord } from "../../schemas/llm-log-record.js";
import { RecordValidationError, errorCode } from "../errors.js";
import type { DeadLetterStage, Source, SourceMessage } from "./contracts.js";
import type { RecordMapper } from "./mapping/mapper.js";
import type { CommitTracker, OffsetTicket } from "./offsets.js";
import type { RecordSampler } from "./sampling/sampler.js";
import { promptChars } from "./sampling/sampler.js";
import type { StatsMetrics } from "./stats.js";

/** A sampled record on its way through attribution and delivery. */
export interface Job {
  readonly msg: SourceMessage;
  readonly ticket: OffsetTicket;
  readonly record: LlmLogRecord;
  /** The sampler's reason (metrics label). */
  readonly reason: string;
  /** Attribution attempts made so far. */
  attempts: number;
  /** Whether the "sampled" decision was counted (once, when it first starts). */
  decided: boolean;
}

/** Only spaces, tabs, CR and LF (or nothing). */
export function isBlank(b: Buffer): boolean {
  for (const c of b) if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  return true;
}

export interface IntakeDeps {
  readonly tracker: CommitTracker;
  readonly mapper: RecordMapper;
  readonly sampler: RecordSampler;
  readonly metrics: StatsMetrics;
  readonly source: Pick<Source, "name" | "resume">;
  readonly maxInFlightPerPartition: number;
  /** False while the pipeline takes no messages (stopping, or paused as a whole). */
  readonly accepting: () => boolean;
  /** Whether sampled records are attributed (`pipeline.attribution: on` with an attributor). */
  readonly attributes: boolean;
  /** A message that did not parse or validate: dead-letter it (its ticket completes when that is durable). */
  readonly invalid: (msg: SourceMessage, ticket: OffsetTicket, stage: DeadLetterStage, err: unknown) => void;
  /** A sampled record, with its priority and size, for the attribution queue. */
  readonly sampled: (job: Job, priority: number, chars: number) => void;
  /** Called after a ticket completed (the pipeline checks whether it is idle). */
  readonly completed: () => void;
}

export class Intake {
  /** Partitions refused for being full; resumed at the low-water mark. */
  private readonly blocked = new Set<string>();
  private readonly lowWater: number;
  private dups = 0;

  constructor(private readonly deps: IntakeDeps) {
    this.lowWater = Math.floor(deps.maxInFlightPerPartition / 2);
  }

  get duplicatesIgnored(): number {
    return this.dups;
  }

  /** The source's `offer`: false means "no capacity now, offer it again after resume()". */
  offer(msg: SourceMessage): boolean {
    const d = this.deps;
    if (!d.accepting()) return false;
    const t = d.tracker.track(msg.partition, msg.offset);
    if (t === "duplicate") {
      this.dups++;
      return true;
    }
    if (t === "full") {
      this.blocked.add(msg.partition);
      return false;
    }
    d.metrics.recordsConsumed(1, d.source.name);
    if (isBlank(msg.value)) {
      // An empty line or message (a tombstone) is no record: counted as skipped, never dead-lettered.
      d.metrics.recordDecision("skipped", "blank", "unknown");
      this.complete(t);
      return true;
    }
    let record: LlmLogRecord;
    try {
      record = d.mapper.map(msg).record;
    } catch (err) {
      const stage: DeadLetterStage = err instanceof RecordValidationError ? err.stage : "validate";
      d.metrics.recordFailed(stage, errorCode(err));
      d.invalid(msg, t, stage, err);
      return true;
    }
    d.metrics.recordParsed(d.source.name);
    const verdict = d.sampler.decide(record);
    const model = record.model ?? "unknown";
    if (!verdict.sampled) {
      d.metrics.recordDecision("skipped", verdict.reason, model);
      this.complete(t);
      return true;
    }
    if (!d.attributes) {
      d.metrics.recordDecision("sampled", verdict.reason, model);
      this.complete(t);
      return true;
    }
    d.sampled({ msg, ticket: t, record, reason: verdict.reason, attempts: 0, decided: false }, verdict.priority, promptChars(record) + record.completion.text.length);
    return true;
  }

  /** Marks a ticket done (a no-op for a revoked partition's ticket) and resumes its partition if it drained. */
  complete(ticket: OffsetTicket): void {
    const d = this.deps;
    if (!d.tracker.complete(ticket)) return;
    const p = ticket.partition;
    if (this.blocked.has(p) && d.tracker.inFlight(p) <= this.lowWater && d.accepting()) {
      this.blocked.delete(p);
      d.source.resume([p]);
    }
    d.completed();
  }

  /** Forgets partitions this worker lost; returns how many of their records were unfinished. */
  revoke(partition: string): number {
    this.blocked.delete(partition);
    return this.deps.tracker.revoke(partition);
  }

  /** Partitions that may be resumed after a pause of the whole pipeline (not the full ones). */
  resumable(): string[] {
    return this.deps.tracker.partitions().filter((p) => !this.blocked.has(p));
  }
}
