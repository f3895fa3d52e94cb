/**
 * The attribution queue: sampled records wait here for a worker slot and for budget. Higher
 * priority first, oldest first within a priority. With a budget configured, the queue is
 * bounded (max_queue) and records wait at most max_wait_ms; those pushed out are skipped with
 * reason "budget" (their offsets complete at once, like any skipped record).
 *
 * Budgets are token buckets: attributions per minute (one token per start) and endpoint tokens
 * per second (a start takes an estimate; the finished attribution's measured
 * cost.tokens_processed corrects the bucket, so the average holds even when estimates are off).
 *
 * @see docs/pipeline.md#budgets
 */
import type { BudgetConfig } from "./config.js";

/** A token bucket whose level may go negative after a correction (debt is paid back by refill). */
export class TokenBucket {
  private level: number;
  private last: number;
  constructor(
    readonly perSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    this.level = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.level = Math.min(this.capacity, this.level + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
    }
  }

  /** ms until `n` can be taken (0: now). A cost above the capacity is admitted once the bucket is full. */
  waitMs(n: number, now: number): number {
    this.refill(now);
    const need = Math.min(n, this.capacity);
    if (this.level >= need) return 0;
    return Math.ceil(((need - this.level) / this.perSecond) * 1000);
  }

  take(n: number, now: number): void {
    this.refill(now);
    this.level -= n;
  }

  /** Charge (or refund, when negative) a correction. */
  adjust(delta: number): void {
    this.level = Math.min(this.capacity, this.level - delta);
  }

  get available(): number {
    return this.level;
  }
}

export interface QueuedJob<T> {
  readonly item: T;
  readonly priority: number;
  readonly enqueuedAt: number;
  /** Estimated scorer tokens (prompt + completion characters, before scaling). */
  readonly chars: number;
  seq: number;
}

export type NextJob<T> = { readonly job: QueuedJob<T>; readonly estimateTokens: number } | { readonly waitMs: number } | undefined;

export class AttributionQueue<T> {
  private readonly byPriority = new Map<number, QueuedJob<T>[]>();
  private priorities: number[] = [];
  private size = 0;
  private seq = 0;
  private readonly starts: TokenBucket | undefined;
  private readonly tokens: TokenBucket | undefined;
  /** Learned scorer tokens per input character (EWMA), for the endpoint-token estimate. */
  private tokensPerChar = 0.25;
  private observed = 0;

  constructor(
    private readonly budget: BudgetConfig | undefined,
    private readonly now: () => number = Date.now,
  ) {
    const t = now();
    if (budget?.attributions_per_minute !== undefined) {
      const ps = budget.attributions_per_minute / 60;
      this.starts = new TokenBucket(ps, Math.max(1, ps * budget.burst_seconds), t);
    }
    if (budget?.endpoint_tokens_per_second !== undefined) {
      const ps = budget.endpoint_tokens_per_second;
      this.tokens = new TokenBucket(ps, Math.max(1, ps * budget.burst_seconds), t);
    }
  }

  get length(): number {
    return this.size;
  }

  get bounded(): boolean {
    return this.budget !== undefined;
  }

  private bucket(priority: number): QueuedJob<T>[] {
    let b = this.byPriority.get(priority);
    if (!b) {
      b = [];
      this.byPriority.set(priority, b);
      this.priorities = [...this.byPriority.keys()].sort((a, b2) => b2 - a);
    }
    return b;
  }

  /** Adds a job; returns the jobs pushed out by max_queue (lowest priority, oldest first). */
  push(item: T, priority: number, chars: number): QueuedJob<T>[] {
    const job: QueuedJob<T> = { item, priority, chars, enqueuedAt: this.now(), seq: this.seq++ };
    this.insert(job);
    const evicted: QueuedJob<T>[] = [];
    if (this.budget !== undefined) {
      while (this.size > this.budget.max_queue) {
        const low = [...this.priorities].reverse().find((x) => (this.byPriority.get(x)?.length ?? 0) > 0);
        const b = low === undefined ? undefined : this.byPriority.get(low);
        const out = b?.shift();
        if (!out) break;
        this.size--;
        evicted.push(out);
      }
    }
    return evicted;
  }

  private insert(job: QueuedJob<T>): void {
    const b = this.bucket(job.priority);
    // Keep each bucket in seq order (a job put back keeps its place).
    if (b.length === 0 || (b[b.length - 1] as QueuedJob<T>).seq < job.seq) b.push(job);
    else {
      const i = b.findIndex((x) => x.seq > job.seq);
      b.splice(i < 0 ? b.length : i, 0, job);
    }
    this.size++;
  }

  /** Puts a started job back (retry later): it keeps its priority and place. */
  putBack(job: QueuedJob<T>): void {
    this.insert(job);
  }

  /** Jobs that waited longer than max_wait_ms (only with a budget). */
  expire(): QueuedJob<T>[] {
    const maxWait = this.budget?.max_wait_ms ?? 0;
    if (maxWait <= 0) return [];
    const limit = this.now() - maxWait;
    const out: QueuedJob<T>[] = [];
    for (const p of this.priorities) {
      const b = this.byPriority.get(p) ?? [];
      let keep = 0;
      for (const j of b) {
        if (j.enqueuedAt <= limit) out.push(j);
        else b[keep++] = j;
      }
      b.length = keep;
    }
    this.size -= out.length;
    return out;
  }

  estimateTokens(chars: number): number {
    return Math.max(1, Math.round(chars * this.tokensPerChar));
  }

  /** The next job if the budget allows one now; else how long until it will; undefined when empty. */
  next(): NextJob<T> {
    const p = this.priorities.find((x) => (this.byPriority.get(x)?.length ?? 0) > 0);
    if (p === undefined) return undefined;
    const b = this.byPriority.get(p) as QueuedJob<T>[];
    const job = b[0] as QueuedJob<T>;
    const now = this.now();
    const est = this.estimateTokens(job.chars);
    const wait = Math.max(this.starts?.waitMs(1, now) ?? 0, this.tokens?.waitMs(est, now) ?? 0);
    if (wait > 0) return { waitMs: wait };
    b.shift();
    this.size--;
    this.starts?.take(1, now);
    this.tokens?.take(est, now);
    return { job, estimateTokens: est };
  }

  /** Corrects the token budget with what an attribution really cost, and learns the ratio. */
  settle(chars: number, estimateTokens: number, actualTokens: number | undefined): void {
    if (actualTokens === undefined) {
      this.tokens?.adjust(-estimateTokens);
      return;
    }
    this.tokens?.adjust(actualTokens - estimateTokens);
    if (chars > 0) {
      const ratio = actualTokens / chars;
      this.observed++;
      const a = this.observed < 10 ? 1 / this.observed : 0.1;
      this.tokensPerChar = this.tokensPerChar * (1 - a) + ratio * a;
    }
  }

  /** Refund of a start that did not happen (retry later). */
  refund(estimateTokens: number): void {
    this.starts?.adjust(-1);
    this.tokens?.adjust(-estimateTokens);
  }

  /** Removes and returns every job (shutdown, revocation filtering). */
  removeWhere(pred: (item: T) => boolean): QueuedJob<T>[] {
    const out: QueuedJob<T>[] = [];
    for (const p of this.priorities) {
      const b = this.byPriority.get(p) ?? [];
      let keep = 0;
      for (const j of b) {
        if (pred(j.item)) out.push(j);
        else b[keep++] = j;
      }
      b.length = keep;
    }
    this.size -= out.length;
    return out;
  }

  get budgetLevels(): { starts: number | null; tokens: number | null; tokens_per_char: number } {
    return { starts: this.starts?.available ?? null, tokens: this.tokens?.available ?? null, tokens_per_char: this.tokensPerChar };
  }
}
