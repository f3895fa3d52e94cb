/**
 * Settings of the DuckDB sink (`type: duckdb`): the embedded default store, one local file.
 */
import { z } from "zod";
import { commonSinkFields } from "../sink-common/config.js";

export const DEFAULT_DUCKDB_PATH = "./reagent-stream.duckdb";

export const duckdbSinkConfigSchema = z
  .object({
    type: z.literal("duckdb"),
    path: z
      .string()
      .min(1)
      .default(DEFAULT_DUCKDB_PATH)
      .describe("Database file (created if missing); ':memory:' for a throw-away store. One process at a time may open a file for writing"),
    read_only: z.boolean().default(false).describe("Open the file read-only (queries only; fails while a writer holds it)"),
    threads: z.number().int().min(1).max(64).optional().describe("DuckDB worker threads (default: DuckDB's choice)"),
    memory_limit: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i).optional().describe("e.g. 512MB"),
    ...commonSinkFields,
  })
  .strict();

export type DuckDbSinkConfig = z.infer<typeof duckdbSinkConfigSchema>;
export type DuckDbSinkConfigInput = z.input<typeof duckdbSinkConfigSchema>;
