/**
 * The `pipeline:` section: concurrency, in-flight bounds, commits, retries and shutdown.
 *
 * @see docs/pipeline.md
 */
import { z } from "zod";

export const retryConfigSchema = z
  .object({
    max_attempts: z.number().int().min(1).default(3).describe("Attempts before the record is dead-lettered (errors that cannot succeed on retry dead-letter at once)"),
    initial_backoff_ms: z.number().int().min(0).default(1000).describe("Wait before the second attempt; doubles each time"),
    max_backoff_ms: z.number().int().min(0).default(60_000),
  })
  .strict();

export type RetryConfig = z.infer<typeof retryConfigSchema>;

export const pipelineConfigSchema = z
  .object({
    concurrency: z.number().int().min(1).max(1024).default(1).describe("Attributions running at once in this worker (1 suits a local CPU model; raise it for endpoints)"),
    max_in_flight_per_partition: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe("Records taken from one partition and not yet done; at the limit the partition is paused until it drains to half"),
    commit_interval_ms: z.number().int().min(10).default(1000).describe("How often committable offsets are committed (and always on shutdown)"),
    drain_timeout_ms: z
      .number()
      .int()
      .min(0)
      .default(25_000)
      .describe("On SIGTERM/SIGINT: finish work in flight for at most this long, then abandon the rest uncommitted (it is redelivered)"),
    attribution_timeout_ms: z.number().int().min(1).default(600_000).describe("One attribution attempt longer than this fails (and is retried)"),
    attribution: z
      .enum(["on", "off"])
      .default("on")
      .describe("off: parse, sample and commit without attributing (throughput checks, sampling dry runs); sampled records are counted, not attributed"),
    retries: retryConfigSchema.prefault({}).describe("Attribution attempts that fail"),
    sink_retries: retryConfigSchema
      .prefault({ max_attempts: 5 })
      .describe("Sink writes that fail with a non-retryable error; retryable sink errors (a store that is down) are retried until shutdown, holding the offset"),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;

/** Exponential backoff for attempt `n` (1-based: the wait after the n-th failure), with ±20 % jitter. */
export function backoffMs(cfg: RetryConfig, n: number, random: () => number = Math.random): number {
  const base = Math.min(cfg.max_backoff_ms, cfg.initial_backoff_ms * 2 ** Math.max(0, n - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
