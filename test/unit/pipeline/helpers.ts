/** Test helpers for the pipeline: record factories, an in-memory source, sinks and dead letters. */
import { llmLogRecordSchema, type LlmLogRecord, type LlmLogRecordInput } from "../../../schemas/llm-log-record.js";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import type { DeadLetter, DeadLetterSink, Sink, Source, SourceHandler, SourceMessage } from "../../../src/pipeline/contracts.js";

export function record(over: Partial<LlmLogRecordInput> = {}): LlmLogRecord {
  return llmLogRecordSchema.parse({ id: "r-1", prompt: "Hello there", completion: { text: " world" }, ...over });
}

/** An in-memory partitioned source that honours pause/resume and records commits. */
export class MemorySource implements Source {
  readonly name = "memory";
  handler: SourceHandler | undefined;
  readonly commits: Map<string, bigint>[] = [];
  readonly committed = new Map<string, bigint>();
  private readonly paused = new Set<string>();
  private readonly cursor = new Map<string, number>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Messages offered per partition every 5 ms tick (records that keep arriving, like a live topic); unlimited by default. */
  perTick = Number.POSITIVE_INFINITY;
  /** When false, the source never reports its end (like Kafka). */
  constructor(
    readonly partitions: Map<string, SourceMessage[]>,
    private readonly finite = true,
  ) {}

  static of(values: readonly (string | Buffer)[], partitions = 1): MemorySource {
    const parts = new Map<string, SourceMessage[]>();
    values.forEach((v, i) => {
      const p = `p${i % partitions}`;
      const list = parts.get(p) ?? [];
      list.push({ partition: p, offset: BigInt(list.length), key: null, value: Buffer.isBuffer(v) ? v : Buffer.from(v), headers: { origin: "test" }, timestamp: "2024-01-01T00:00:00.000Z" });
      parts.set(p, list);
    });
    return new MemorySource(parts);
  }

  start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    handler.assigned([...this.partitions.keys()]);
    this.pump();
    return Promise.resolve();
  }

  private pump(): void {
    if (this.stopped) return;
    const h = this.handler as SourceHandler;
    let left = false;
    for (const [p, msgs] of this.partitions) {
      let i = this.cursor.get(p) ?? 0;
      const stop = Math.min(msgs.length, i + this.perTick);
      while (i < stop && !this.paused.has(p)) {
        if (!h.offer(msgs[i]!)) {
          this.paused.add(p);
          break;
        }
        i++;
      }
      this.cursor.set(p, i);
      if (i < msgs.length) left = true;
    }
    if (!left && this.finite) {
      h.ended();
      return;
    }
    this.timer = setTimeout(() => this.pump(), 5);
  }

  commit(offsets: ReadonlyMap<string, bigint>): Promise<void> {
    this.commits.push(new Map(offsets));
    for (const [p, o] of offsets) this.committed.set(p, o);
    return Promise.resolve();
  }
  pause(partitions: readonly string[]): void {
    for (const p of partitions) this.paused.add(p);
  }
  resume(partitions: readonly string[]): void {
    for (const p of partitions) this.paused.delete(p);
  }
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    return Promise.resolve();
  }
}

export class MemorySink implements Sink {
  readonly name = "memory";
  readonly results: AttributionResult[] = [];
  failNext = 0;
  failWith: (() => Error) | undefined;
  /** Fails writes of matching results while it returns an error. */
  failIf: ((r: AttributionResult) => Error | undefined) | undefined;
  delayMs = 0;
  start(): Promise<void> {
    return Promise.resolve();
  }
  async write(r: AttributionResult): Promise<void> {
    if (this.delayMs > 0) await new Promise((res) => setTimeout(res, this.delayMs));
    if (this.failNext > 0) {
      this.failNext--;
      throw this.failWith ? this.failWith() : new Error("sink down");
    }
    const err = this.failIf?.(r);
    if (err) throw err;
    this.results.push(r);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class MemoryDeadLetters implements DeadLetterSink {
  readonly name = "memory-dlq";
  readonly letters: DeadLetter[] = [];
  failNext = 0;
  start(): Promise<void> {
    return Promise.resolve();
  }
  write(l: DeadLetter): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error("dlq down"));
    }
    this.letters.push(l);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
