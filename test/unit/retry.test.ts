import { describe, expect, it } from "vitest";
import {
  AttributionError,
  BackoffError,
  CircuitOpenError,
  ConfigError,
  InputRejectedError,
  RecordValidationError,
  ScorerHttpError,
  ScoringError,
  SinkError,
  failureKind,
  retryLaterMs,
} from "../../src/errors.js";
import { backoffMs, retrySchema, sleep } from "../../src/retry.js";

describe("retry: one shape, one backoff", () => {
  const policy = { max_attempts: 5, initial_backoff_ms: 100, max_backoff_ms: 1000 };

  it("doubles per attempt, caps, and keeps half of each wait fixed (equal jitter)", () => {
    expect(backoffMs(policy, 1, () => 1)).toBe(100);
    expect(backoffMs(policy, 1, () => 0)).toBe(50);
    expect(backoffMs(policy, 2, () => 1)).toBe(200);
    expect(backoffMs(policy, 4, () => 1)).toBe(800);
    expect(backoffMs(policy, 5, () => 1)).toBe(1000);
    expect(backoffMs(policy, 500, () => 0.5)).toBe(750);
    expect(backoffMs({ ...policy, initial_backoff_ms: 0 }, 3)).toBe(0);
  });

  it("parses the same fields everywhere, with the defaults of the place that uses it", () => {
    const a = retrySchema({ max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 20 }, "test");
    expect(a.parse(undefined)).toEqual({ max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 20 });
    expect(a.parse({ max_attempts: 7 })).toEqual({ max_attempts: 7, initial_backoff_ms: 10, max_backoff_ms: 20 });
    expect(a.safeParse({ base_delay_ms: 5 }).success).toBe(false);
    expect(a.safeParse({ max_attempts: 0 }).success).toBe(false);
  });

  it("sleep ends early with the signal's reason", async () => {
    const c = new AbortController();
    const p = sleep(60_000, c.signal);
    c.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});

describe("failureKind: error codes drive retries", () => {
  const http = (retryable: boolean): ScorerHttpError => new ScorerHttpError({ what: "calling", why: "x", endpoint: "http://e", retryable });

  it("classifies by code and typed flags", () => {
    expect(failureKind(new RecordValidationError({ what: "parsing", why: "x" }))).toBe("permanent");
    expect(failureKind(new InputRejectedError({ what: "preparing", why: "x" }))).toBe("permanent");
    expect(failureKind(new ConfigError({ what: "x", why: "y", path: "a" }))).toBe("permanent");
    expect(failureKind(http(false))).toBe("permanent");
    expect(failureKind(http(true))).toBe("transient");
    expect(failureKind(new SinkError({ what: "x", why: "y", sink: "s", retryable: true }))).toBe("transient");
    expect(failureKind(new SinkError({ what: "x", why: "y", sink: "s", retryable: false }))).toBe("permanent");
    expect(failureKind(new ScoringError({ what: "x", why: "y" }))).toBe("transient");
    expect(failureKind(new CircuitOpenError({ what: "x", why: "y", retryInMs: 5 }))).toBe("retry_later");
    expect(failureKind(new BackoffError({ what: "x", why: "y", waitMs: 7 }))).toBe("retry_later");
    expect(failureKind(new Error("boom"))).toBe("unexpected");
    expect(failureKind("nope")).toBe("unexpected");
  });

  it("never reads the message: the same words under another code classify by the code", () => {
    expect(failureKind(new AttributionError({ what: "preparing the input", why: "too long" }))).toBe("transient");
    expect(failureKind(new InputRejectedError({ what: "scoring", why: "timeout" }))).toBe("permanent");
  });

  it("retryLaterMs reads the typed wait", () => {
    expect(retryLaterMs(new CircuitOpenError({ what: "x", why: "y", retryInMs: 0 }))).toBe(1);
    expect(retryLaterMs(new BackoffError({ what: "x", why: "y", waitMs: 250 }))).toBe(250);
    expect(retryLaterMs(new Error("x"))).toBeUndefined();
  });
});
