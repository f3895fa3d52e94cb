/**
 * The Kafka source: a kafkajs consumer group member with manual offsets.
 *
 * - `eachBatch` with `eachBatchAutoResolve: false` and `autoCommit: false`: a batch handler
 *   offers each message to the pipeline (parse and sample are synchronous) and resolves only the
 *   offsets it offered, which moves kafkajs's fetch position and nothing else. It calls
 *   `heartbeat()` every few hundred messages and at the end, so no batch holds up the group.
 * - Attribution runs outside the handler, so a long attribution never delays a heartbeat; the
 *   consumer keeps fetching (and heartbeating) for other partitions, and a partition with too
 *   much unfinished work is paused (`pause()`), then resumed by the pipeline.
 * - Commits are explicit (`consumer.commitOffsets`) with the offsets the pipeline's commit
 *   tracker releases, and only for partitions this member owns in the current generation.
 * - Rebalances: on each GROUP_JOIN the new assignment is compared with the old one; partitions
 *   no longer owned are reported revoked (their unfinished work is never committed), new ones
 *   assigned. kafkajs refetches owned partitions from the committed offset after a rejoin; the
 *   tracker ignores those redeliveries.
 *
 * @see docs/pipeline.md#kafka
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { SourceError, errorMessage } from "../../src/errors.js";
import type { Source, SourceHandler, SourceMessage } from "../../src/pipeline/contracts.js";
import type { PipelineLogger } from "../../src/pipeline/logger.js";
import { createKafka } from "./client.js";
import type { KafkaSourceConfig } from "./config.js";

const HEARTBEAT_EVERY = 500;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export function parsePartitionKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf("/");
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

function headerValue(v: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map((x) => x.toString()).join(",");
  return v.toString();
}

function toSourceMessage(topic: string, partition: number, m: KafkaMessage): SourceMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const s = headerValue(v);
    if (s !== undefined) headers[k] = s;
  }
  const ts = Number(m.timestamp);
  return {
    partition: partitionKey(topic, partition),
    offset: BigInt(m.offset),
    key: m.key ?? null,
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number.isFinite(ts) && ts > 0 ? new Date(ts).toISOString() : null,
  };
}

/** Longest stop() waits to leave the group when no join is in progress (a healthy leave takes well under a second). */
const LEAVE_TIMEOUT_MS = 5000;

export interface KafkaSourceOptions {
  readonly logger?: PipelineLogger;
  /** A client to use instead of one built from the config (tests). */
  readonly kafka?: Kafka;
}

export class KafkaSource implements Source {
  readonly name = "kafka";
  private consumer: Consumer | undefined;
  private handler: SourceHandler | undefined;
  private owned = new Set<string>();
  private readonly paused = new Set<string>();
  private running = false;
  /** A group join is in progress (from start, or a rebalance, until the next GROUP_JOIN). */
  private joining = false;

  constructor(
    readonly config: KafkaSourceConfig,
    private readonly opts: KafkaSourceOptions = {},
  ) {}

  async start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    const kafka = this.opts.kafka ?? createKafka(this.config, "source", this.opts.logger);
    const c = kafka.consumer({
      groupId: this.config.group_id,
      sessionTimeout: this.config.session_timeout_ms,
      rebalanceTimeout: this.config.rebalance_timeout_ms,
      heartbeatInterval: this.config.heartbeat_interval_ms,
      minBytes: this.config.min_bytes,
      maxBytes: this.config.max_bytes,
      maxBytesPerPartition: this.config.max_bytes_per_partition,
      maxWaitTimeInMs: this.config.max_wait_ms,
      allowAutoTopicCreation: false,
      // Once stop() was called a crash must not restart the consumer: kafkajs would otherwise keep
      // reconnecting after our disconnect (a broker that was down at shutdown kept workers alive).
      retry: { retries: this.config.retries, restartOnFailure: () => Promise.resolve(this.running) },
    });
    this.consumer = c;
    this.joining = true;
    c.on(c.events.REBALANCING, () => (this.joining = true));
    c.on(c.events.GROUP_JOIN, (e) => {
      this.joining = false;
      this.onJoin(e.payload.memberAssignment);
    });
    c.on(c.events.CRASH, (e) => {
      const err = e.payload.error;
      if (e.payload.restart) {
        this.opts.logger?.warn({ err: errorMessage(err) }, "Kafka consumer crashed; kafkajs restarts it (uncommitted records are redelivered)");
        return;
      }
      if (this.running) handler.failed(new SourceError({ what: "consuming from Kafka", why: errorMessage(err), cause: err, source: this.name }));
    });
    try {
      await c.connect();
      await c.subscribe({ topics: this.config.topics, fromBeginning: this.config.from_beginning });
      this.running = true;
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.config.partitions_consumed_concurrently,
        eachBatch: (payload) => this.eachBatch(payload),
      });
    } catch (err) {
      this.running = false;
      await c.disconnect().catch(() => undefined);
      throw new SourceError({ what: `subscribing to ${this.config.topics.join(", ")} as group ${this.config.group_id}`, why: errorMessage(err), cause: err, source: this.name });
    }
  }

  private onJoin(assignment: Record<string, number[]>): void {
    const next = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) next.add(partitionKey(topic, p));
    const revoked = [...this.owned].filter((p) => !next.has(p));
    const added = [...next].filter((p) => !this.owned.has(p));
    this.owned = next;
    const h = this.handler;
    if (revoked.length > 0) h?.revoked(revoked);
    if (added.length > 0) h?.assigned(added);
    for (const p of [...this.paused]) {
      if (!next.has(p)) this.paused.delete(p);
    }
    // kafkajs keeps pause state across a rejoin only for some paths; apply ours again.
    if (this.paused.size > 0) this.applyPause([...this.paused], true);
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const h = this.handler as SourceHandler;
    const key = partitionKey(batch.topic, batch.partition);
    let offeredAll = true;
    let n = 0;
    for (const m of batch.messages) {
      if (!payload.isRunning() || payload.isStale()) {
        offeredAll = false;
        break;
      }
      if (!h.offer(toSourceMessage(batch.topic, batch.partition, m))) {
        // No room: pause this partition; unresolved messages are fetched again on resume.
        this.paused.add(key);
        payload.pause();
        offeredAll = false;
        break;
      }
      payload.resolveOffset(m.offset);
      if (++n % HEARTBEAT_EVERY === 0) await payload.heartbeat();
    }
    const lastMsg = batch.messages[batch.messages.length - 1];
    if (offeredAll && lastMsg !== undefined && BigInt(batch.lastOffset()) > BigInt(lastMsg.offset)) {
      // Control records (transaction markers) after the last message: nothing to process there.
      h.skipped(key, BigInt(batch.lastOffset()));
    }
    await payload.heartbeat();
  }

  async commit(offsets: ReadonlyMap<string, bigint>): Promise<void> {
    const c = this.consumer;
    if (!c || !this.running) return;
    const list = [...offsets]
      .filter(([p]) => this.owned.has(p))
      .map(([p, o]) => {
        const { topic, partition } = parsePartitionKey(p);
        return { topic, partition, offset: o.toString() };
      });
    if (list.length === 0) return;
    await c.commitOffsets(list);
  }

  private applyPause(partitions: readonly string[], pause: boolean): void {
    const c = this.consumer;
    if (!c) return;
    const byTopic = new Map<string, number[]>();
    for (const p of partitions) {
      const { topic, partition } = parsePartitionKey(p);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    const list = [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps }));
    try {
      if (pause) c.pause(list);
      else c.resume(list);
    } catch (err) {
      // Before the first join kafkajs has no group to pause; the pipeline asks again later.
      this.opts.logger?.debug({ err: errorMessage(err) }, "kafka pause/resume ignored");
    }
  }

  pause(partitions: readonly string[]): void {
    const mine = partitions.filter((p) => this.owned.has(p));
    for (const p of mine) this.paused.add(p);
    if (mine.length > 0) this.applyPause(mine, true);
  }

  resume(partitions: readonly string[]): void {
    const mine = partitions.filter((p) => this.paused.has(p));
    for (const p of mine) this.paused.delete(p);
    if (mine.length > 0) this.applyPause(mine, false);
  }

  /**
   * Leaves the group and disconnects, bounded so that a broker that is gone cannot hold a
   * shutdown. While a join is in progress (kafkajs' leave waits for it: up to a member's
   * heartbeat, or a dead member's session timeout) the bound is stop_timeout_ms; otherwise
   * LEAVE_TIMEOUT_MS, which a healthy leave never needs. Commits are done before this is called,
   * so giving up only costs the group a session timeout before it reassigns this member's
   * partitions (a leave cut short while the process goes on, as in tests, can still finish later).
   */
  async stop(): Promise<void> {
    const limit = this.joining ? this.config.stop_timeout_ms : LEAVE_TIMEOUT_MS;
    const c = this.consumer;
    this.running = false;
    if (!c) return;
    this.consumer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const gave = await Promise.race([
      c.disconnect().then(
        () => false,
        (err: unknown) => {
          this.opts.logger?.warn({ err: errorMessage(err) }, "Kafka consumer disconnect failed");
          return false;
        },
      ),
      new Promise<true>((r) => (timer = setTimeout(() => r(true), limit))),
    ]);
    clearTimeout(timer);
    if (gave) this.opts.logger?.warn({ timeout_ms: limit }, "Kafka consumer did not leave the group in time (a rebalance in progress, or the broker is gone); exiting anyway, the group will time the member out");
  }
}
