/**
 * The request guard's rules, as pure logic (operations are in-process functions): retries and
 * backoff, Retry-After, timeouts, aborts, the concurrency limit, token buckets, the circuit
 * breaker, counters and events.
 */
import { describe, expect, it } from "vitest";
import { CircuitOpenError, ScorerHttpError, ScorerMismatchError } from "../../../src/errors.js";
import { RequestGuard, TokenBucket, classifyError, parseRetryAfter, type GuardConfig, type ScorerEvent } from "../../../src/models/http/guard.js";

function guard(over: Partial<GuardConfig> = {}, events?: ScorerEvent[], random = () => 0.5): RequestGuard {
  return new RequestGuard(
    {
      endpoint: "http://server",
      maxConcurrency: 4,
      timeoutMs: 1_000,
      retry: { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 40 }, maxRetryAfterMs: 1_000,
      breaker: { failureThreshold: 3, coolDownMs: 100 },
      ...over,
    },
    { ...(events ? { onEvent: (e: ScorerEvent) => events.push(e) } : {}), random },
  );
}

const req = { path: "/v1/completions", sequences: 2, promptTokens: 10 };
const http = (status: number, extra: { retryAfterMs?: number } = {}): ScorerHttpError =>
  new ScorerHttpError({
    what: "calling",
    why: `HTTP ${status}`,
    status,
    endpoint: "http://server",
    retryable: status === 429 || status >= 500,
    details: { kind: status === 429 ? "rate_limited" : status >= 500 ? "server_error" : "client_error" },
    ...extra,
  });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("parsing and classifying", () => {
  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3_000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("classifies errors by kind", () => {
    expect(classifyError(http(429))).toBe("rate_limited");
    expect(classifyError(http(503))).toBe("server_error");
    expect(classifyError(http(400))).toBe("client_error");
    expect(classifyError(new ScorerMismatchError({ what: "w", why: "y" }))).toBe("mismatch");
    expect(classifyError(new DOMException("x", "AbortError"))).toBe("aborted");
  });
});

describe("retries", () => {
  it("retry retryable failures with growing, jittered backoff, then succeed", async () => {
    const events: ScorerEvent[] = [];
    const g = guard({ retry: { max_attempts: 4, initial_backoff_ms: 10, max_backoff_ms: 1_000 }, maxRetryAfterMs: 1_000, breaker: { failureThreshold: 10, coolDownMs: 100 } }, events, () => 1);
    let n = 0;
    const out = await g.run(req, () => (++n < 4 ? Promise.reject(http(502)) : Promise.resolve("ok")));
    expect(out).toBe("ok");
    expect(n).toBe(4);
    const delays = events.filter((e) => e.type === "retry").map((e) => (e.type === "retry" ? e.delayMs : 0));
    expect(delays).toEqual([10, 20, 40]); // random()=1: the full capped exponential
    expect(g.stats).toMatchObject({ calls: 1, requests: 4, succeeded: 1, failed: 0, retries: 3, sequences: 2, promptTokens: 10 });
    expect(g.stats.errors.server_error).toBe(3);
  });

  it("equal jitter never waits less than half the capped delay", async () => {
    const events: ScorerEvent[] = [];
    const g = guard({}, events, () => 0);
    await g.run(req, (() => {
      let n = 0;
      return () => (++n < 2 ? Promise.reject(http(500)) : Promise.resolve(1));
    })());
    expect(events.find((e) => e.type === "retry")).toMatchObject({ delayMs: 5 });
  });

  it("do not retry non-retryable errors, and give up after maxAttempts", async () => {
    const g = guard();
    let n = 0;
    await expect(g.run(req, () => (n++, Promise.reject(http(400))))).rejects.toBeInstanceOf(ScorerHttpError);
    expect(n).toBe(1);
    n = 0;
    await expect(g.run(req, () => (n++, Promise.reject(http(500))))).rejects.toMatchObject({ status: 500 });
    expect(n).toBe(3);
    expect(g.stats.failed).toBe(2);
  });

  it("wait at least Retry-After, and fail at once when it is longer than allowed", async () => {
    const g = guard();
    let n = 0;
    const t0 = performance.now();
    await g.run(req, () => (++n === 1 ? Promise.reject(http(429, { retryAfterMs: 120 })) : Promise.resolve(1)));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(118);
    n = 0;
    await expect(g.run(req, () => (n++, Promise.reject(http(429, { retryAfterMs: 5_000 }))))).rejects.toMatchObject({ retryAfterMs: 5_000 });
    expect(n).toBe(1);
  });
});

describe("timeouts and aborts", () => {
  it("time out an attempt (the operation sees its signal abort) and retry it", async () => {
    const g = guard({ timeoutMs: 30 });
    let aborted = 0;
    let n = 0;
    const out = await g.run(req, (signal) => {
      n++;
      if (n > 1) return Promise.resolve("second");
      return new Promise((_, reject) => signal.addEventListener("abort", () => (aborted++, reject(signal.reason as Error))));
    });
    expect(out).toBe("second");
    expect(aborted).toBe(1);
    expect(g.stats.errors.timeout).toBe(1);
  });

  it("a timeout that persists fails with a retryable ScorerHttpError saying so", async () => {
    const g = guard({ timeoutMs: 20, retry: { max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0 });
    const err = await g.run(req, (signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).retryable).toBe(true);
    expect((err as ScorerHttpError).message).toMatch(/within 20 ms/);
  });

  it("a caller's abort ends the call with its reason, no retry, breaker untouched", async () => {
    const g = guard({ breaker: { failureThreshold: 1, coolDownMs: 1_000 } });
    const ctrl = new AbortController();
    let n = 0;
    const p = g.run({ ...req, signal: ctrl.signal }, (signal) => {
      n++;
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
    });
    setTimeout(() => ctrl.abort(new DOMException("user stop", "AbortError")), 10);
    await expect(p).rejects.toThrow(/user stop/);
    expect(n).toBe(1);
    expect(g.breakerState).toBe("closed");
  });
});

describe("limits", () => {
  it("never runs more than maxConcurrency operations at once", async () => {
    const g = guard({ maxConcurrency: 2 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        g.run(req, async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(15);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });

  it("spaces requests with the requests/s bucket after a burst", async () => {
    const events: ScorerEvent[] = [];
    const g = guard({ requestsPerSecond: 20, burstSeconds: 0.1 }, events); // burst of 2, then one per 50 ms
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => g.run(req, () => Promise.resolve(1))));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(g.stats.throttledMs).toBeGreaterThan(0);
    expect(events.some((e) => e.type === "throttled" && e.limiter === "requests")).toBe(true);
  });

  it("lets a request larger than the prompt-token bucket through once the bucket is full", async () => {
    const b = new TokenBucket(1_000, 20);
    expect(await b.take(20)).toBe(0);
    expect(await b.take(100)).toBeGreaterThan(0); // more than the capacity: waits for a full bucket, then goes into debt
    const t0 = performance.now();
    await b.take(1); // pays the debt first: ~80 tokens at 1000/s
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
  });
});

describe("circuit breaker", () => {
  it("opens after N consecutive server failures, rejects fast, half-opens after the cool-down, closes on a good probe", async () => {
    const events: ScorerEvent[] = [];
    const g = guard({ retry: { max_attempts: 1, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0, breaker: { failureThreshold: 2, coolDownMs: 60 } }, events);
    let calls = 0;
    const fail = (): Promise<never> => (calls++, Promise.reject(http(503)));
    await expect(g.run(req, fail)).rejects.toBeInstanceOf(ScorerHttpError);
    await expect(g.run(req, fail)).rejects.toBeInstanceOf(ScorerHttpError);
    expect(g.breakerState).toBe("open");
    const err = await g.run(req, fail).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect((err as CircuitOpenError).retryInMs).toBeGreaterThan(0);
    expect((err as CircuitOpenError).probeInFlight).toBe(false);
    expect(calls).toBe(2);
    await sleep(70);
    // One probe at a time while half-open.
    let release!: () => void;
    const probe = g.run(req, () => new Promise<string>((r) => (release = () => r("probe ok"))));
    await sleep(5);
    const waiting = await g.run(req, () => Promise.resolve("x")).catch((e: unknown) => e);
    expect(waiting).toBeInstanceOf(CircuitOpenError);
    // Not an outage: only waiting for the probe (the pipeline does not dead-letter for it).
    expect((waiting as CircuitOpenError).probeInFlight).toBe(true);
    release();
    expect(await probe).toBe("probe ok");
    expect(g.breakerState).toBe("closed");
    const moves = events.filter((e) => e.type === "breaker").map((e) => (e.type === "breaker" ? e.to : ""));
    expect(moves).toEqual(["open", "half_open", "closed"]);
    expect(g.stats.errors.circuit_open).toBe(2);
  });

  it("a failing probe reopens it; answers that prove the server is up (4xx, 429, mismatch) never open it", async () => {
    const g = guard({ retry: { max_attempts: 1, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0, breaker: { failureThreshold: 1, coolDownMs: 30 } });
    for (const e of [http(400), http(429), new ScorerMismatchError({ what: "w", why: "y" })]) await expect(g.run(req, () => Promise.reject(e))).rejects.toBe(e);
    expect(g.breakerState).toBe("closed");
    await expect(g.run(req, () => Promise.reject(http(500)))).rejects.toBeInstanceOf(ScorerHttpError);
    expect(g.breakerState).toBe("open");
    await sleep(35);
    await expect(g.run(req, () => Promise.reject(http(500)))).rejects.toBeInstanceOf(ScorerHttpError);
    expect(g.breakerState).toBe("open");
    expect(g.stats.breaker.opens).toBe(2);
  });

  it("a retry refused by a breaker that just opened says why, with the server error as cause", async () => {
    const g = guard({ retry: { max_attempts: 3, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0, breaker: { failureThreshold: 1, coolDownMs: 1_000 } });
    const err = await g.run(req, () => Promise.reject(http(500))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect((err as CircuitOpenError).cause).toBeInstanceOf(ScorerHttpError);
    expect((err as CircuitOpenError).message).toMatch(/attribution pauses/);
  });
});

describe("observability", () => {
  it("reports every attempt, and an observer that throws changes nothing", async () => {
    const g = new RequestGuard(
      { endpoint: "http://server", maxConcurrency: 1, timeoutMs: 1_000, retry: { max_attempts: 2, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0, breaker: { failureThreshold: 5, coolDownMs: 10 } },
      {
        onEvent: () => {
          throw new Error("observer bug");
        },
      },
    );
    let n = 0;
    expect(await g.run(req, () => (++n === 1 ? Promise.reject(http(500)) : Promise.resolve(7)))).toBe(7);
    const s = g.stats;
    expect(s.latencyMs.count).toBe(2);
    expect(s.inFlight).toBe(0);
    expect(s.breaker).toEqual({ state: "closed", opens: 0, consecutiveFailures: 0 });
  });
});
