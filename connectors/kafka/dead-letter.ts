/**
 * Dead letters to a Kafka topic: the original key and value bytes with the original headers
 * plus `reagent.dlq.*` headers (reason, stage, error code, attempts, time, source partition and
 * offset, record id, issues). `write` resolves once the broker acknowledged it (acks -1 by
 * default), so the pipeline may commit the source offset.
 *
 * @see docs/pipeline.md#dead-letters
 */
import type { Kafka, Producer } from "kafkajs";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { DeadLetter, DeadLetterSink } from "../../src/pipeline/contracts.js";
import { deadLetterHeaders } from "../../src/pipeline/dead-letter.js";
import type { PipelineLogger } from "../../src/pipeline/logger.js";
import { createKafka } from "./client.js";
import type { KafkaConnection, KafkaDeadLetterConfig } from "./config.js";

interface Pending {
  readonly letter: DeadLetter;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class KafkaDeadLetters implements DeadLetterSink {
  readonly name: string;
  private producer: Producer | undefined;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();

  constructor(
    readonly config: KafkaDeadLetterConfig,
    private readonly connection: KafkaConnection,
    private readonly opts: { logger?: PipelineLogger; kafka?: Kafka } = {},
  ) {
    this.name = `kafka:${config.topic}`;
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

  write(letter: DeadLetter): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ letter, resolve, reject });
      if (this.pending.length >= 500) this.flushSoon(0);
      else this.flushSoon(this.config.linger_ms);
    });
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
      const p = this.send(batch);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }, ms);
  }

  private async send(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    const producer = this.producer;
    try {
      if (!producer) throw new Error("the dead-letter producer is not connected");
      await producer.send({
        topic: this.config.topic,
        acks: this.config.acks,
        messages: batch.map(({ letter }) => ({ key: letter.message.key, value: letter.message.value, headers: deadLetterHeaders(letter) })),
      });
      for (const b of batch) b.resolve();
    } catch (err) {
      const e = new SinkError({ what: `producing ${batch.length} dead letters to ${this.config.topic}`, why: errorMessage(err), cause: err, sink: this.name, retryable: true });
      for (const b of batch) b.reject(e);
    }
  }

  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.send(this.pending.splice(0));
    }
    await Promise.allSettled([...this.inflight]);
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect();
  }
}
