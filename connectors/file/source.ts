/**
 * The JSONL file source, for replays and backfills: each file is one partition, read in order,
 * with line numbers as offsets. With `checkpoint`, commits store the position and a restart
 * resumes at the first uncommitted line; without it every run reads from the start (results
 * are keyed by attribution id, so sinks deduplicate).
 *
 * @see docs/config.md#source-file
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../../src/errors.js";
import { LineSource, type LineInput } from "./line-source.js";
import type { ProgressStream, RecordCounts } from "./progress.js";
import { fsPath } from "../../src/config-paths.js";

export const progressModeSchema = z
  .enum(["auto", "on", "off"])
  .default("auto")
  .describe("Progress on stderr (records attributed, ETA): auto draws a bar on a terminal and prints a summary line every progress_interval_ms otherwise");
export const progressIntervalSchema = z.number().int().min(100).default(10_000).describe("Between progress summary lines when stderr is not a terminal");

export const fileSourceConfigSchema = z
  .object({
    type: z.literal("file"),
    path: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .meta(fsPath("input-file"))
      .describe("A JSONL file (one logged record per line), or a list read one after another; each file is one partition"),
    checkpoint: z
      .string()
      .min(1)
      .meta(fsPath("output"))
      .optional()
      .describe("File that stores the committed position; a restart resumes after the last committed line. Unset: every run reads from the start"),
    progress: progressModeSchema,
    progress_interval_ms: progressIntervalSchema,
  })
  .strict()
  .describe("JSONL files for replays and backfills: one record per line, line numbers as offsets, an optional checkpoint file to resume from.");

export type FileSourceConfig = z.infer<typeof fileSourceConfigSchema>;

export function createFileSource(cfg: FileSourceConfig, opts: { progressStream?: ProgressStream; records?: (() => RecordCounts | undefined) | undefined } = {}): LineSource {
  const paths = typeof cfg.path === "string" ? [cfg.path] : cfg.path;
  const inputs: LineInput[] = paths.map((path, i) => {
    if (!existsSync(path)) {
      throw new ConfigError({ what: "opening the file source", why: `${path} does not exist`, path: typeof cfg.path === "string" ? "source.path" : `source.path[${i}]`, expected: "an existing JSONL file" });
    }
    return {
      partition: path,
      seekable: true,
      size: statSync(path).size,
      open: (startByte: number) => createReadStream(path, { start: startByte, highWaterMark: 1 << 20 }),
    };
  });
  return new LineSource("file", inputs, {
    ...(cfg.checkpoint === undefined ? {} : { checkpoint: cfg.checkpoint }),
    progress: cfg.progress,
    progressIntervalMs: cfg.progress_interval_ms,
    records: opts.records,
    ...(opts.progressStream ? { progressStream: opts.progressStream } : {}),
  });
}
