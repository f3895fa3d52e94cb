/**
 * The stdin source: JSONL on standard input (`cat logs.jsonl | reagent-stream run …`), one
 * partition named `stdin` whose offsets are line numbers. With `checkpoint`, a rerun on the
 * same input skips the lines already committed.
 *
 * @see docs/config.md#source-stdin
 */
import type { Readable } from "node:stream";
import { z } from "zod";
import { LineSource } from "../file/line-source.js";
import type { ProgressStream, RecordCounts } from "../file/progress.js";
import { progressIntervalSchema, progressModeSchema } from "../file/source.js";

export const stdinSourceConfigSchema = z
  .object({
    type: z.literal("stdin"),
    checkpoint: z
      .string()
      .min(1)
      .optional()
      .describe("File that stores the committed line; rerunning on the same input skips the lines before it. Unset: nothing is skipped"),
    progress: progressModeSchema,
    progress_interval_ms: progressIntervalSchema,
  })
  .strict()
  .describe("JSONL on standard input (cat logs.jsonl | reagent-stream run …); an optional checkpoint skips already committed lines on a rerun.");

export type StdinSourceConfig = z.infer<typeof stdinSourceConfigSchema>;

export function createStdinSource(cfg: StdinSourceConfig, opts: { input?: Readable; progressStream?: ProgressStream; records?: (() => RecordCounts | undefined) | undefined } = {}): LineSource {
  const input = opts.input ?? process.stdin;
  return new LineSource("stdin", [{ partition: "stdin", seekable: false, open: () => input }], {
    ...(cfg.checkpoint === undefined ? {} : { checkpoint: cfg.checkpoint }),
    progress: cfg.progress,
    progressIntervalMs: cfg.progress_interval_ms,
    records: opts.records,
    ...(opts.progressStream ? { progressStream: opts.progressStream } : {}),
  });
}
