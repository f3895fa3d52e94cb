/**
 * The `pipeline:` section: concurrency, in-flight bounds, commits, retries and shutdown.
 *
 * @see docs/pipeline.md
 */
import { z } from "zod";
import { retrySchema } from "../retry.js";

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
      .describe(
        "On SIGTERM/SIGINT: finish work in flight for at most this long (the drain ends as soon as nothing is in flight; a second signal ends it at once), then abandon the rest uncommitted (Kafka and files deliver it again)",
      ),
    attribution_timeout_ms: z.number().int().min(1).default(600_000).describe("One attribution attempt longer than this fails (and is retried)"),
    attribution: z
      .enum(["on", "off"])
      .default("on")
      .describe("off: parse, sample and commit without attributing (throughput checks, sampling dry runs); sampled records are counted, not attributed"),
    endpoint_unavailable: z
      .object({
        action: z
          .enum(["buffer", "dead_letter", "pause"])
          .default("buffer")
          .describe(
            "While the scorer's circuit breaker is open (or it asked to back off), attribution pauses and the stream keeps flowing. buffer: sampled records wait in memory (up to max_buffered, then they are dead-lettered) and commits stop at the oldest waiting one; dead_letter: sampled records are dead-lettered at once with code endpoint_unavailable, so commits keep moving; pause: the source pauses too",
          ),
        max_buffered: z.number().int().min(0).default(500).describe("buffer: sampled records held while the endpoint is unavailable; more are dead-lettered (code endpoint_unavailable)"),
      })
      .strict()
      .prefault({})
      .describe("What happens to sampled records while the scoring endpoint is unavailable"),
    retries: retrySchema(
      { max_attempts: 3, initial_backoff_ms: 1000, max_backoff_ms: 60_000 },
      "Attributions that fail: attempts per record before it is dead-lettered (failures that retrying cannot fix dead-letter at once)",
    ),
    sink_retries: retrySchema(
      { max_attempts: 5, initial_backoff_ms: 1000, max_backoff_ms: 60_000 },
      "Sink writes of one result that the store refuses (not retryable); a store that is down (retryable) is retried until shutdown, holding the offset",
    ),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
