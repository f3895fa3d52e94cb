/**
 * The batching, retrying writer both sinks put in front of their store.
 *
 * Items are buffered and cut into a batch when `maxRows` are waiting or `maxWaitMs` after the
 * first one arrived, whichever comes first. Batches start in order, at most `concurrency` at a
 * time (default 1: one after another; 2 lets the next batch be encoded and sent while the store
 * works on the previous one). A failed batch is retried with the shared backoff (src/retry.ts); the store callback gets the
 * *same* batch object again (same items, same order, a stable id), so that it can make the retry
 * idempotent (dedup tokens, skipping tables already written).
 *
 * The promise `write` returns settles only with its batch: it resolves once `writeBatch`
 * resolved, i.e. once the store confirmed the batch, and rejects with a `SinkError` when the
 * batch failed for good (a non-retryable error, or retries exhausted). Nothing is ever resolved
 * early, and nothing is dropped silently.
 */
import { SinkError, describeCause, errorMessage } from "../../src/errors.js";
import type { PipelineMetrics } from "../../src/pipeline/contracts.js";
import { backoffMs, type RetryPolicy } from "../../src/retry.js";

export interface Batch<T> {
  /** Stable across retries; unique within one writer. */
  readonly seq: number;
  readonly items: readonly T[];
  /** 1 on the first try. */
  attempt: number;
  /** Free for the store callback: e.g. the tables already written, skipped on retry. */
  readonly done: Set<string>;
}

export interface ErrorClass {
  readonly retryable: boolean;
}

export interface BatchWriterOptions<T> {
  /** Sink name, for errors and metrics. */
  readonly sink: string;
  readonly maxRows: number;
  readonly maxWaitMs: number;
  /** Batches written at the same time (default 1). */
  readonly concurrency?: number;
  readonly retry: RetryPolicy;
  /** Items with the same key that wait in one buffer are written once (the last one). */
  readonly keyOf: (item: T) => string;
  /** Write the batch; resolve only once the store confirmed it; throw otherwise. */
  readonly writeBatch: (batch: Batch<T>) => Promise<void>;
  readonly classify: (err: unknown) => ErrorClass;
  /** What a failed batch was doing, for the error: "inserting into attributions". */
  readonly what?: string;
  readonly metrics?: PipelineMetrics;
  readonly onRetry?: (info: { seq: number; attempt: number; waitMs: number; error: unknown }) => void;
  /** Injected in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Entry<T> {
  item: T;
  waiters: Waiter[];
}

interface Pending<T> {
  batch: Batch<T>;
  entries: Entry<T>[];
  /** Settles when the batch is written or failed for good. */
  done: Promise<void>;
  start: () => void;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class BatchWriter<T> {
  private buffer = new Map<string, Entry<T>>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private running = 0;
  private readonly queue: Pending<T>[] = [];
  private readonly inFlight = new Set<Pending<T>>();
  private closed = false;

  constructor(private readonly opts: BatchWriterOptions<T>) {
    if (!(opts.maxRows >= 1)) throw new RangeError("maxRows must be at least 1");
  }

  /** Items buffered and not yet cut into a batch. */
  get buffered(): number {
    return this.buffer.size;
  }

  /** Items in batches being written or waiting to be. */
  get pending(): number {
    let n = 0;
    for (const p of this.inFlight) n += p.batch.items.length;
    return n;
  }

  write(item: T): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new SinkError({ sink: this.opts.sink, retryable: false, what: `writing to ${this.opts.sink}`, why: "the sink is closed" }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const key = this.opts.keyOf(item);
      const existing = this.buffer.get(key);
      if (existing !== undefined) {
        existing.item = item;
        existing.waiters.push({ resolve, reject });
      } else {
        this.buffer.set(key, { item, waiters: [{ resolve, reject }] });
      }
      if (this.buffer.size >= this.opts.maxRows) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.opts.maxWaitMs);
    });
  }

  /** Cuts what is buffered and resolves once every batch so far is written; rejects if any failed. */
  async flush(): Promise<void> {
    this.cut();
    const waiting = [...this.inFlight].map((p) => p.done);
    const results = await Promise.allSettled(waiting);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /** Flushes, then refuses further writes. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private cut(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.size === 0) return;
    const entries = [...this.buffer.values()];
    this.buffer = new Map();
    this.seq += 1;
    const batch: Batch<T> = { seq: this.seq, items: entries.map((e) => e.item), attempt: 0, done: new Set() };
    let start: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (start = resolve));
    const pending: Pending<T> = { batch, entries, done: Promise.resolve(), start };
    // Each batch settles its own waiters; `done` is for flush().
    pending.done = started.then(() => this.runBatch(pending));
    this.inFlight.add(pending);
    void pending.done.then(
      () => this.finished(pending),
      () => this.finished(pending),
    );
    this.queue.push(pending);
    this.pump();
  }

  private finished(p: Pending<T>): void {
    this.inFlight.delete(p);
    this.running -= 1;
    this.pump();
  }

  /** Starts queued batches, in order, while fewer than `concurrency` run. */
  private pump(): void {
    const limit = Math.max(1, this.opts.concurrency ?? 1);
    while (this.running < limit && this.queue.length > 0) {
      this.running += 1;
      (this.queue.shift() as Pending<T>).start();
    }
  }

  private async runBatch(p: Pending<T>): Promise<void> {
    const { batch } = p;
    const sleep = this.opts.sleep ?? defaultSleep;
    const began = Date.now();
    for (;;) {
      batch.attempt += 1;
      try {
        await this.opts.writeBatch(batch);
        this.opts.metrics?.sinkBatch(this.opts.sink, batch.items.length, Date.now() - began, true);
        for (const e of p.entries) for (const w of e.waiters) w.resolve();
        return;
      } catch (err) {
        const { retryable } = this.opts.classify(err);
        if (retryable && batch.attempt < this.opts.retry.max_attempts) {
          const waitMs = backoffMs(this.opts.retry, batch.attempt, this.opts.random);
          this.opts.onRetry?.({ seq: batch.seq, attempt: batch.attempt, waitMs, error: err });
          await sleep(waitMs);
          continue;
        }
        this.opts.metrics?.sinkBatch(this.opts.sink, batch.items.length, Date.now() - began, false);
        const error = new SinkError({
          sink: this.opts.sink,
          retryable,
          what: this.opts.what ?? `writing a batch to ${this.opts.sink}`,
          why: retryable
            ? `gave up after ${batch.attempt} attempts: ${errorMessage(err)}`
            : `the store refused the batch (not retryable): ${errorMessage(err)}`,
          cause: err,
          details: { batch: batch.seq, rows: batch.items.length, attempts: batch.attempt, cause: describeCause(err) },
        });
        for (const e of p.entries) for (const w of e.waiters) w.reject(error);
        throw error;
      }
    }
  }
}
