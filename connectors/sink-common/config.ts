/**
 * Settings every results store shares: what text to keep, the matrix cap, batching, retries and
 * whether `start()` applies migrations. The ClickHouse and DuckDB config schemas extend these.
 */
import { z } from "zod";
import { parseConfig } from "../../src/config-issues.js";
import { retrySchema } from "../../src/retry.js";
import { storeTextModes } from "./rows.js";
import { TABLE_PREFIX_PATTERN } from "./tables.js";

export const batchConfigSchema = z
  .object({
    max_rows: z.number().int().min(1).max(100_000).default(1000).describe("Cut a batch when this many results wait"),
    max_wait_ms: z.number().int().min(0).max(600_000).default(1000).describe("Cut a batch this long after its first result arrived"),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(8)
      .default(2)
      .describe("Batches written at once: 2 encodes and sends the next batch while the store works on the previous one"),
  })
  .strict();

export const commonSinkFields = {
  table_prefix: z
    .string()
    .regex(TABLE_PREFIX_PATTERN, "letters, digits and _ only, not starting with a digit")
    .default("")
    .describe("Prepended to every table name (attributions, attribution_spans, …)"),
  store_text: z
    .enum(storeTextModes)
    .default("redacted")
    .describe("full: prompt and completion text as logged; redacted: e-mails, numbers and secrets masked (docs/sinks.md); none: no text, ids or token texts"),
  max_matrix_cells: z
    .number()
    .int()
    .min(0)
    .default(4096)
    .describe("Keep per-target importance rows while their cells add up to at most this; 0 keeps no matrix"),
  batch: batchConfigSchema.default({ max_rows: 1000, max_wait_ms: 1000, concurrency: 2 }),
  retry: retrySchema({ max_attempts: 6, initial_backoff_ms: 200, max_backoff_ms: 10_000 }, "Batches the store fails with a retryable error (down, overloaded)"),
  migrate: z.boolean().default(true).describe("Apply pending migrations in start()"),
};

/** Parses a store's settings; a bad value is a ConfigError naming `<root>.<field>`. */
export function parseSinkConfig<S extends z.ZodType>(schema: S, input: unknown, root: string): z.output<S> {
  return parseConfig(schema, input, { what: `reading the ${root} settings`, path: root });
}
