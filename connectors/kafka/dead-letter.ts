/**
 * Dead letters to a Kafka topic: the original key and value bytes with the original headers
 * plus `reagent.dlq.*` headers (reason, stage, error code, attempts, time, source partition and
 * offset, record id, issues). `write` resolves once the broker acknowledged it (acks -1 by
 * default), so the pipeline may commit the source offset.
 *
 * A dead letter the topic cannot take never blocks its partition: one larger than
 * `max_message_bytes` (Kafka's topic default is 1 MB, while records up to
 * `mapping.max_record_bytes`, 4 MiB, are accepted), one the broker refuses for good (too large,
 * invalid, not authorised), or one still failing after `retry.max_attempts` is written whole to
 * the spill file (spill.ts), and the topic gets a small pointer record instead (header
 * `reagent.dlq.spilled_to`, value `{spilled_to, spill_id, value_bytes, reason}`). Each spill is
 * logged and counted (`records.failed{stage="dead_letter", code="dead_letter_spilled"}`). A batch
 * that fails is retried letter by letter, so healthy letters never wait on a bad one.
 *
 * @see docs/pipeline.md#dead-letters
 */
import type { Kafka, Message, Producer } from "kafkajs";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { DeadLetter, DeadLetterSink, PipelineMetrics } from "../../src/pipeline/contracts.js";
import { DLQ_HEADERS, deadLetterHeaders } from "../../src/pipeline/dead-letter.js";
import type { PipelineLogger } from "../../src/pipeline/logger.js";
import { backoffMs, sleep } from "../../src/retry.js";
import { applyPayloadPolicy, type DeadLetterPayload } from "../dead-letter/payload.js";
import { DeadLetterSpill, type SpillPointer } from "../dead-letter/spill.js";
import { createKafka } from "./client.js";
import type { KafkaConnection, KafkaDeadLetterConfig } from "./config.js";

interface Pending {
  readonly letter: DeadLetter;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Broker answers that no retry can change (kafkajs error `type`s). */
const REFUSED_FOR_GOOD: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "TOPIC_AUTHORIZATION_FAILED",
  "INVALID_TOPIC_EXCEPTION",
  "POLICY_VIOLATION",
]);

/** The kafkajs error `type` anywhere in a (wrapped) error, e.g. MESSAGE_TOO_LARGE. */
export function kafkaErrorType(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== "object" || err === null) return undefined;
  const e = err as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (typeof e.type === "string") return e.type;
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])]) {
    const t = kafkaErrorType(inner, depth + 1);
    if (t !== undefined) return t;
  }
  return undefined;
}

function refusedForGood(err: unknown): boolean {
  return err !== undefined && REFUSED_FOR_GOOD.has(kafkaErrorType(err) ?? "");
}

/** Bytes a record takes on the wire, near enough to compare with the topic's limit. */
export function recordBytes(m: Message): number {
  let n = 70; // record and batch overhead
  if (m.key) n += Buffer.byteLength(m.key);
  if (m.value) n += Buffer.byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + (v === undefined ? 0 : Buffer.byteLength(v as string | Buffer)) + 4;
  return n;
}

/** Longest close() waits for dead letters in flight. */
const CLOSE_WAIT_MS = 5000;

export interface KafkaDeadLettersOptions {
  readonly logger?: PipelineLogger;
  readonly metrics?: PipelineMetrics;
  readonly kafka?: Kafka;
}

export class KafkaDeadLetters implements DeadLetterSink {
  readonly name: string;
  private producer: Producer | undefined;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();
  private readonly spill: DeadLetterSpill;
  private readonly closing = new AbortController();

  constructor(
    readonly config: Omit<KafkaDeadLetterConfig, "payload"> & { readonly payload?: DeadLetterPayload },
    private readonly connection: KafkaConnection,
    private readonly opts: KafkaDeadLettersOptions = {},
  ) {
    this.name = `kafka:${config.topic}`;
    this.spill = new DeadLetterSpill(config.spill_path);
  }

  async start(): Promise<void> {
    const kafka = this.opts.kafka ?? createKafka(this.connection, "dead_letter", this.opts.logger);
    const p = kafka.producer({ allowAutoTopicCreation: false });
    try {
      await p.connect();
    } catch (err) {
      throw new SinkError({ what: `connecting the dead-letter producer for ${this.config.topic}`, why: errorMessage(err), cause: err, sink: this.name, retryable: true });
    }
    this.producer = p;
  }

  write(original: DeadLetter): Promise<void> {
    const letter = applyPayloadPolicy(original, this.config.payload ?? "full");
    const bytes = recordBytes(this.message(letter));
    if (bytes > this.config.max_message_bytes) {
      return this.track(this.spillAndPoint(letter, `the dead letter is ${bytes} bytes; dead_letter.max_message_bytes is ${this.config.max_message_bytes}`));
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ letter, resolve, reject });
      if (this.pending.length >= 500) this.flushSoon(0);
      else this.flushSoon(this.config.linger_ms);
    });
  }

  private message(letter: DeadLetter): Message {
    return { key: letter.message.key, value: letter.message.value, headers: deadLetterHeaders(letter) };
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.catch(() => undefined);
    this.inflight.add(t);
    void t.finally(() => this.inflight.delete(t));
    return p;
  }

  private flushSoon(ms: number): void {
    if (ms === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const batch = this.pending;
      this.pending = [];
      void this.track(this.send(batch));
    }, ms);
  }

  private async produce(messages: Message[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error("the dead-letter producer is not connected");
    await producer.send({ topic: this.config.topic, acks: this.config.acks, messages });
  }

  private async send(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.produce(batch.map((b) => this.message(b.letter)));
      for (const b of batch) b.resolve();
      return;
    } catch (err) {
      // One letter the broker refuses fails its whole batch: the others go again one by one.
      await Promise.all(batch.map((b) => this.sendAlone(b, batch.length === 1 ? err : undefined)));
    }
  }

  /** One letter, retried on transient errors; spilled when refused for good or out of attempts. */
  private async sendAlone(b: Pending, firstError: unknown): Promise<void> {
    const retry = this.config.retry;
    const msg = this.message(b.letter);
    let error = firstError;
    let attempt = firstError === undefined ? 0 : 1;
    while (!refusedForGood(error) && attempt < retry.max_attempts) {
      if (attempt > 0) {
        try {
          await sleep(backoffMs(retry, attempt), this.closing.signal);
        } catch {
          // Closing: the letter is not durable, so its record stays uncommitted (redelivered).
          b.reject(new SinkError({ what: `producing a dead letter to ${this.config.topic}`, why: errorMessage(error), cause: error, sink: this.name, retryable: true }));
          return;
        }
      }
      attempt++;
      try {
        await this.produce([msg]);
        b.resolve();
        return;
      } catch (err) {
        error = err;
      }
    }
    const why = refusedForGood(error) ? `the broker refused it (${kafkaErrorType(error)})` : `producing failed ${attempt} times: ${errorMessage(error)}`;
    try {
      await this.spillAndPoint(b.letter, why);
      b.resolve();
    } catch (err) {
      b.reject(err instanceof Error ? err : new Error(errorMessage(err)));
    }
  }

  /** Writes the whole letter to the spill file, then a small pointer record to the topic (best effort). */
  private async spillAndPoint(letter: DeadLetter, reason: string): Promise<void> {
    const pointer = await this.spill.write(letter, reason);
    this.opts.metrics?.recordFailed("dead_letter", "dead_letter_spilled");
    this.opts.logger?.warn(
      { dead_letter: this.name, spilled_to: pointer.spilled_to, spill_id: pointer.spill_id, value_bytes: pointer.value_bytes, source_partition: letter.message.partition, source_offset: letter.message.offset.toString(), reason },
      "dead letter spilled to file; a pointer record goes to the topic",
    );
    await this.point(letter, pointer);
  }

  private async point(letter: DeadLetter, pointer: SpillPointer): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(deadLetterHeaders(letter))) if (k.startsWith("reagent.dlq.")) headers[k] = v;
    headers[DLQ_HEADERS.spilledTo] = pointer.spilled_to;
    const msg: Message = { key: letter.message.key, value: JSON.stringify(pointer), headers };
    for (let attempt = 1; attempt <= this.config.retry.max_attempts && !this.closing.signal.aborted; attempt++) {
      try {
        await this.produce([msg]);
        return;
      } catch (err) {
        if (refusedForGood(err)) break;
        await sleep(backoffMs(this.config.retry, attempt), this.closing.signal).catch(() => undefined);
      }
    }
    // The letter itself is durable in the spill file; only its announcement on the topic is missing.
    this.opts.logger?.warn({ dead_letter: this.name, spilled_to: pointer.spilled_to, spill_id: pointer.spill_id }, "could not produce the spill pointer record; the dead letter is in the spill file");
  }

  /** Sends what waits, then stops retrying; bounded, so a broker that is gone cannot hold a shutdown. */
  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.track(this.send(this.pending.splice(0)));
    }
    this.closing.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    await this.spill.close();
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect();
  }
}
