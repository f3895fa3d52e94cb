/**
 * The one retry vocabulary of the project: every `retry:` config block has the same shape
 * (`max_attempts`, `initial_backoff_ms`, `max_backoff_ms`), every retrier waits `backoffMs`, and
 * whether to retry at all is decided by `failureKind` (src/errors.ts) from the error's code, never
 * from its text. Users are the pipeline's attribution and delivery stages, the sinks' batch writer,
 * the HTTP scorer's request guard, the dead-letter routes and the Kafka client.
 */
import { z } from "zod";

export interface RetryPolicy {
  /** Attempts, the first included (1 = no retries). */
  readonly max_attempts: number;
  /** Wait after the first failure; doubles per attempt. */
  readonly initial_backoff_ms: number;
  /** Cap on one wait. */
  readonly max_backoff_ms: number;
}

/**
 * The `retry:` block, with the defaults of the place that uses it. Every place shares field
 * names, units, bounds and the backoff formula; only defaults and the meaning of "one attempt"
 * (an attribution, a batch, an HTTP call) differ, and each says which in `what`.
 */
export function retrySchema(defaults: RetryPolicy, what: string) {
  return z
    .object({
      max_attempts: z.number().int().min(1).max(1000).default(defaults.max_attempts).describe(`${what}: attempts, the first included`),
      initial_backoff_ms: z.number().int().min(0).default(defaults.initial_backoff_ms).describe("Wait after the first failure; doubles per attempt, with jitter"),
      max_backoff_ms: z.number().int().min(0).default(defaults.max_backoff_ms).describe("Cap on one wait"),
    })
    .strict()
    .prefault({})
    .describe(what);
}

/**
 * The wait after the `attempt`-th failure (1-based): exponential, capped, with equal jitter (half
 * fixed, half random), so that many workers failing together do not come back together.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.max_backoff_ms, policy.initial_backoff_ms * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** A sleep that an AbortSignal cuts short (rejects with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
