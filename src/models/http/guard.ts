/**
 * Production safety for calls to a scoring endpoint, in one reusable place: a concurrency
 * limit, token buckets on requests/s and prompt tokens/s, a timeout per attempt, retries with
 * jittered exponential backoff (429, 5xx, timeouts, connection failures; Retry-After honoured),
 * a circuit breaker, and counters plus an event hook for metrics.
 *
 * The breaker opens after `failureThreshold` consecutive failed attempts that point at the
 * server (5xx, timeouts, connection errors, unreadable bodies). While it is open every call
 * fails at once with CircuitOpenError, which the pipeline treats as "attribution paused, retry
 * later" (the stream keeps flowing). After `coolDownMs` one call goes through as a probe
 * (half-open): success closes the breaker, failure opens it again.
 *
 * @see docs/endpoints.md#safety-knobs
 */
import { CircuitOpenError, ReagentError, ScorerHttpError, ScorerMismatchError, ScorerUnsupportedError, errorMessage } from "../../errors.js";
import { backoffMs, sleep, type RetryPolicy } from "../../retry.js";

/** Why an attempt failed, as counted in `stats.errors` and reported to `onEvent`. */
export const errorKinds = [
  "timeout",
  "rate_limited",
  "server_error",
  "client_error",
  "network",
  "malformed",
  "mismatch",
  "unsupported",
  "circuit_open",
  "aborted",
  "other",
] as const;
export type ErrorKind = (typeof errorKinds)[number];

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerPolicy {
  /** Consecutive server-side failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long the breaker stays open before one probe call is let through. */
  readonly coolDownMs: number;
}

export interface GuardConfig {
  /** The endpoint's base URL with credentials removed (for errors and events). */
  readonly endpoint: string;
  readonly maxConcurrency: number;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly requestsPerSecond?: number | undefined;
  readonly promptTokensPerSecond?: number | undefined;
  /** Bucket size in seconds of rate (default 1): how large a burst may be. */
  readonly burstSeconds?: number | undefined;
  /** Attempts per call, the first included (1 = no retries), and the waits between them. */
  readonly retry: RetryPolicy;
  /** A Retry-After longer than this fails the call (retryable) instead of waiting. */
  readonly maxRetryAfterMs: number;
  readonly breaker: BreakerPolicy;
}

/** What the guard reports to an observer (pipeline metrics, OTel). Never contains prompt text or credentials. */
export type ScorerEvent =
  | {
      readonly type: "request";
      readonly endpoint: string;
      readonly path: string;
      readonly attempt: number;
      readonly ok: boolean;
      readonly errorKind?: ErrorKind;
      readonly status?: number;
      readonly latencyMs: number;
      readonly sequences: number;
      readonly promptTokens: number;
    }
  | { readonly type: "retry"; readonly endpoint: string; readonly path: string; readonly attempt: number; readonly delayMs: number; readonly errorKind: ErrorKind }
  | { readonly type: "throttled"; readonly endpoint: string; readonly limiter: "requests" | "prompt_tokens"; readonly waitedMs: number }
  | { readonly type: "breaker"; readonly endpoint: string; readonly from: BreakerState; readonly to: BreakerState };

export interface GuardHooks {
  /** Called synchronously for every event; exceptions it throws are swallowed (observers never break scoring). */
  readonly onEvent?: ((e: ScorerEvent) => void) | undefined;
  /** Injected for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

/** A snapshot of the counters; `scorer.stats` returns a fresh one each time. */
export interface ScorerStats {
  /** Logical calls (each may take several attempts). */
  readonly calls: number;
  /** HTTP attempts sent. */
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retries: number;
  /** Sequences and prompt tokens in successful calls. */
  readonly sequences: number;
  readonly promptTokens: number;
  /** Per attempt. */
  readonly latencyMs: { readonly count: number; readonly total: number; readonly max: number };
  readonly errors: Readonly<Record<ErrorKind, number>>;
  readonly breaker: { readonly state: BreakerState; readonly opens: number; readonly consecutiveFailures: number };
  readonly inFlight: number;
  readonly queued: number;
  /** Total time calls waited on the rate limiters. */
  readonly throttledMs: number;
}

export interface GuardedRequest {
  /** Route, for events and errors (`/v1/completions`). */
  readonly path: string;
  readonly sequences: number;
  readonly promptTokens: number;
  readonly signal?: AbortSignal | undefined;
}

/** The kind of a thrown error, for counters and for the breaker. */
export function classifyError(err: unknown): ErrorKind {
  if (err instanceof CircuitOpenError) return "circuit_open";
  if (err instanceof ScorerMismatchError) return "mismatch";
  if (err instanceof ScorerUnsupportedError) return "unsupported";
  if (err instanceof ScorerHttpError) {
    const kind = err.details.kind;
    if (typeof kind === "string" && (errorKinds as readonly string[]).includes(kind)) return kind as ErrorKind;
    if (err.status === 429) return "rate_limited";
    if (err.status !== undefined && err.status >= 500) return "server_error";
    if (err.status !== undefined && err.status >= 400) return "client_error";
    return "other";
  }
  if (err instanceof Error && err.name === "AbortError") return "aborted";
  return "other";
}

/** Failures that say the server is unwell (they move the breaker); a 4xx or a mismatch proves it is up. */
function countsForBreaker(kind: ErrorKind): boolean {
  return kind === "timeout" || kind === "server_error" || kind === "network" || kind === "malformed";
}

class TimeoutSignal extends Error {
  constructor() {
    super("attempt timed out");
    this.name = "TimeoutSignal";
  }
}

/** A FIFO counting semaphore whose waiters can be aborted. */
class Semaphore {
  private active = 0;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void; signal: AbortSignal | undefined; onAbort: () => void }[] = [];
  constructor(private readonly limit: number) {}

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const w = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason as Error);
        },
      };
      signal?.addEventListener("abort", w.onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next.signal?.removeEventListener("abort", next.onAbort);
      next.resolve(); // the slot passes straight to the next waiter
    } else {
      this.active--;
    }
  }
}

/**
 * A token bucket: `rate` units per second, holding at most `capacity`. A take larger than the
 * capacity waits for a full bucket and then goes into debt, so oversized requests still pass
 * (at the configured average rate). Takers are served in arrival order.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly rate: number,
    readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Resolves with the milliseconds waited once `amount` is taken. */
  take(amount: number, signal?: AbortSignal): Promise<number> {
    const run = async (): Promise<number> => {
      let waited = 0;
      for (;;) {
        signal?.throwIfAborted();
        const t = this.now();
        this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
        this.last = t;
        const need = Math.min(amount, this.capacity);
        if (this.tokens >= need) {
          this.tokens -= amount;
          return waited;
        }
        const ms = Math.ceil(((need - this.tokens) / this.rate) * 1000);
        await sleep(ms, signal);
        waited += ms;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/** Open/half-open/closed state machine; `admit` throws CircuitOpenError while open. */
class Breaker {
  state: BreakerState = "closed";
  consecutiveFailures = 0;
  opens = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly policy: BreakerPolicy,
    private readonly endpoint: string,
    private readonly now: () => number,
    private readonly emit: (from: BreakerState, to: BreakerState) => void,
  ) {}

  /** Returns true when this attempt is the half-open probe. */
  admit(lastError?: unknown): boolean {
    if (this.state === "closed") return false;
    const elapsed = this.now() - this.openedAt;
    if (this.state === "open" && elapsed >= this.policy.coolDownMs) {
      this.move("half_open");
    }
    if (this.state === "half_open" && !this.probing) {
      this.probing = true;
      return true;
    }
    const retryInMs = this.state === "open" ? Math.max(0, this.policy.coolDownMs - elapsed) : Math.min(1000, this.policy.coolDownMs);
    throw new CircuitOpenError({
      what: `calling ${this.endpoint}`,
      why:
        this.state === "open"
          ? `the circuit breaker is open after ${this.consecutiveFailures} consecutive failures; attribution pauses and retries in ${Math.ceil(retryInMs)} ms`
          : "the circuit breaker is half-open and a probe call is in flight; retry shortly",
      retryInMs,
      probeInFlight: this.state === "half_open",
      details: { endpoint: this.endpoint, state: this.state },
      ...(lastError === undefined ? {} : { cause: lastError }),
    });
  }

  success(probe: boolean): void {
    this.consecutiveFailures = 0;
    if (probe) this.probing = false;
    if (this.state !== "closed") this.move("closed");
  }

  failure(probe: boolean, counts: boolean): void {
    if (probe) this.probing = false;
    if (!counts) {
      // The server answered (4xx, mismatch, 429): it is up.
      if (probe) this.success(false);
      return;
    }
    this.consecutiveFailures++;
    if (this.state === "half_open" || (this.state === "closed" && this.consecutiveFailures >= this.policy.failureThreshold)) {
      this.openedAt = this.now();
      this.opens++;
      this.move("open");
    }
  }

  /** A probe whose call ended without an attempt result (aborted by the caller). */
  cancelProbe(probe: boolean): void {
    if (probe) this.probing = false;
  }

  private move(to: BreakerState): void {
    const from = this.state;
    this.state = to;
    if (from !== to) this.emit(from, to);
  }
}

/** Retry-After header value (seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export class RequestGuard {
  private readonly semaphore: Semaphore;
  private readonly requestBucket: TokenBucket | undefined;
  private readonly tokenBucket: TokenBucket | undefined;
  private readonly breaker: Breaker;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly counters = {
    calls: 0,
    requests: 0,
    succeeded: 0,
    failed: 0,
    retries: 0,
    sequences: 0,
    promptTokens: 0,
    latencyCount: 0,
    latencyTotal: 0,
    latencyMax: 0,
    throttledMs: 0,
  };
  private readonly errors = Object.fromEntries(errorKinds.map((k) => [k, 0])) as Record<ErrorKind, number>;

  constructor(
    readonly config: GuardConfig,
    private readonly hooks: GuardHooks = {},
  ) {
    this.now = hooks.now ?? (() => performance.now());
    this.random = hooks.random ?? Math.random;
    this.semaphore = new Semaphore(Math.max(1, config.maxConcurrency));
    const burst = config.burstSeconds ?? 1;
    if (config.requestsPerSecond !== undefined) {
      this.requestBucket = new TokenBucket(config.requestsPerSecond, Math.max(1, config.requestsPerSecond * burst), this.now);
    }
    if (config.promptTokensPerSecond !== undefined) {
      this.tokenBucket = new TokenBucket(config.promptTokensPerSecond, Math.max(1, config.promptTokensPerSecond * burst), this.now);
    }
    this.breaker = new Breaker(config.breaker, config.endpoint, this.now, (from, to) => this.emit({ type: "breaker", endpoint: config.endpoint, from, to }));
  }

  get breakerState(): BreakerState {
    return this.breaker.state;
  }

  get stats(): ScorerStats {
    const c = this.counters;
    return {
      calls: c.calls,
      requests: c.requests,
      succeeded: c.succeeded,
      failed: c.failed,
      retries: c.retries,
      sequences: c.sequences,
      promptTokens: c.promptTokens,
      latencyMs: { count: c.latencyCount, total: c.latencyTotal, max: c.latencyMax },
      errors: { ...this.errors },
      breaker: { state: this.breaker.state, opens: this.breaker.opens, consecutiveFailures: this.breaker.consecutiveFailures },
      inFlight: this.semaphore.inFlight,
      queued: this.semaphore.queued,
      throttledMs: c.throttledMs,
    };
  }

  /**
   * Run `op` under every limit. `op` gets a signal that fires on the caller's abort or on this
   * attempt's timeout; it must throw typed errors (ScorerHttpError with `retryable`, …).
   */
  async run<T>(req: GuardedRequest, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.counters.calls++;
    const max = Math.max(1, this.config.retry.max_attempts);
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      let probe = false;
      try {
        probe = this.breaker.admit(attempt > 1 ? lastError : undefined);
      } catch (err) {
        this.errors.circuit_open++;
        this.counters.failed++;
        throw err;
      }
      let result: { ok: true; value: T } | { ok: false; error: unknown; kind: ErrorKind; retryAfterMs: number | undefined };
      try {
        result = { ok: true, value: await this.attempt(req, attempt, op) };
      } catch (err) {
        const kind = classifyError(err);
        if (kind === "aborted" || req.signal?.aborted) {
          this.breaker.cancelProbe(probe);
          this.counters.failed++;
          throw err;
        }
        result = { ok: false, error: err, kind, retryAfterMs: err instanceof ScorerHttpError ? err.retryAfterMs : undefined };
      }
      if (result.ok) {
        this.breaker.success(probe);
        this.counters.succeeded++;
        this.counters.sequences += req.sequences;
        this.counters.promptTokens += req.promptTokens;
        return result.value;
      }
      const { error, kind } = result;
      this.breaker.failure(probe, countsForBreaker(kind));
      lastError = error;
      const retryable = error instanceof ScorerHttpError && error.retryable;
      if (!retryable || attempt >= max || probe) {
        this.counters.failed++;
        throw error;
      }
      const backoff = backoffMs(this.config.retry, attempt, this.random);
      const retryAfter = result.retryAfterMs;
      if (retryAfter !== undefined && retryAfter > this.config.maxRetryAfterMs) {
        this.counters.failed++;
        throw error;
      }
      // Retry-After is a floor; a little jitter on top keeps many workers from returning at once.
      const delay = retryAfter === undefined ? backoff : retryAfter + Math.round(this.random() * Math.min(100, this.config.retry.initial_backoff_ms));
      this.counters.retries++;
      this.emit({ type: "retry", endpoint: this.config.endpoint, path: req.path, attempt, delayMs: delay, errorKind: kind });
      try {
        await sleep(delay, req.signal);
      } catch (err) {
        this.counters.failed++;
        throw err;
      }
    }
  }

  private async attempt<T>(req: GuardedRequest, attempt: number, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await this.semaphore.acquire(req.signal);
    try {
      if (this.requestBucket) this.throttled("requests", await this.requestBucket.take(1, req.signal));
      if (this.tokenBucket && req.promptTokens > 0) this.throttled("prompt_tokens", await this.tokenBucket.take(req.promptTokens, req.signal));
      const ctrl = new AbortController();
      const onAbort = (): void => ctrl.abort(req.signal?.reason);
      req.signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => ctrl.abort(new TimeoutSignal()), this.config.timeoutMs);
      const t0 = this.now();
      this.counters.requests++;
      try {
        const value = await op(ctrl.signal);
        this.recordAttempt(req, attempt, t0, undefined);
        return value;
      } catch (err) {
        const wrapped = ctrl.signal.reason instanceof TimeoutSignal && !req.signal?.aborted ? this.timeoutError(req, err) : err;
        this.recordAttempt(req, attempt, t0, wrapped);
        throw wrapped;
      } finally {
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
      }
    } finally {
      this.semaphore.release();
    }
  }

  private timeoutError(req: GuardedRequest, cause: unknown): ScorerHttpError {
    return new ScorerHttpError({
      what: `calling POST ${req.path} on ${this.config.endpoint}`,
      why: `no complete answer within ${this.config.timeoutMs} ms (timeout_ms); the server is slow or overloaded`,
      endpoint: this.config.endpoint,
      retryable: true,
      details: { kind: "timeout" },
      cause: cause instanceof ReagentError ? cause : errorMessage(cause),
    });
  }

  private recordAttempt(req: GuardedRequest, attempt: number, t0: number, err: unknown): void {
    const latency = this.now() - t0;
    this.counters.latencyCount++;
    this.counters.latencyTotal += latency;
    this.counters.latencyMax = Math.max(this.counters.latencyMax, latency);
    const base = { type: "request" as const, endpoint: this.config.endpoint, path: req.path, attempt, latencyMs: latency, sequences: req.sequences, promptTokens: req.promptTokens };
    if (err === undefined) {
      this.emit({ ...base, ok: true });
      return;
    }
    const kind = classifyError(err);
    this.errors[kind]++;
    const status = err instanceof ScorerHttpError ? err.status : undefined;
    this.emit({ ...base, ok: false, errorKind: kind, ...(status === undefined ? {} : { status }) });
  }

  private throttled(limiter: "requests" | "prompt_tokens", waitedMs: number): void {
    if (waitedMs <= 0) return;
    this.counters.throttledMs += waitedMs;
    this.emit({ type: "throttled", endpoint: this.config.endpoint, limiter, waitedMs });
  }

  private emit(e: ScorerEvent): void {
    try {
      this.hooks.onEvent?.(e);
    } catch {
      // observers never break scoring
    }
  }
}
