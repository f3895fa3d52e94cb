/**
 * The JSONL sink: one AttributionResult per line, appended in fsync'ed group commits. `write`
 * resolves once the line is durable, so the pipeline may commit the record's offset. With
 * `dedupe` (the default) the attribution ids already in the file are loaded at start and a
 * result whose id is there is not written again, so a redelivered record adds no second line
 * to the same file. Useful as the embedded store for replays, tests and the demo.
 *
 * @see docs/config.md#sink-jsonl
 */
import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { PipelineMetrics, Sink } from "../../src/pipeline/contracts.js";
import { JsonlAppender } from "./jsonl-writer.js";
import { fsPath } from "../../src/config-paths.js";

export const jsonlSinkConfigSchema = z
  .object({
    type: z.literal("jsonl"),
    path: z.string().min(1).meta(fsPath("output")).describe("File the results are appended to (created with its directory); one JSON object per line"),
    fsync: z.boolean().default(true).describe("fsync each batch before acknowledging it (durable across a machine crash)"),
    flush_interval_ms: z.number().int().min(0).default(50).describe("Longest a result waits for its batch to be written"),
    dedupe: z.boolean().default(true).describe("Skip results whose attribution_id is already in the file (ids are read at start)"),
  })
  .strict()
  .describe("AttributionResults as JSON lines, appended in fsync'ed group commits; a write is acknowledged once durable.");

export type JsonlSinkConfig = z.infer<typeof jsonlSinkConfigSchema>;

const ID_RE = /"attribution_id"\s*:\s*"([^"]+)"/;

export class JsonlSink implements Sink {
  readonly name: string;
  private readonly appender: JsonlAppender;
  private readonly seen = new Map<string, Promise<void>>();

  constructor(
    readonly config: JsonlSinkConfig,
    private readonly metrics?: PipelineMetrics,
  ) {
    this.name = `jsonl:${config.path}`;
    this.appender = new JsonlAppender(config.path, { fsync: config.fsync, flushIntervalMs: config.flush_interval_ms });
    this.appender.onBatch = (rows, ms, ok) => this.metrics?.sinkBatch(this.name, rows, ms, ok);
  }

  async start(): Promise<void> {
    try {
      if (this.config.dedupe && existsSync(this.config.path)) {
        const rl = createInterface({ input: createReadStream(this.config.path, "utf8"), crlfDelay: Infinity });
        for await (const line of rl) {
          const m = ID_RE.exec(line);
          if (m?.[1] !== undefined && line.trimEnd().endsWith("}")) this.seen.set(m[1], Promise.resolve());
        }
      }
      await this.appender.open();
    } catch (err) {
      throw new SinkError({ what: `opening ${this.config.path}`, why: errorMessage(err), cause: err, sink: this.name, retryable: false });
    }
  }

  write(result: AttributionResult): Promise<void> {
    const id = result.attribution_id;
    if (this.config.dedupe) {
      const prior = this.seen.get(id);
      if (prior) return prior;
    }
    const p = this.appender.append(JSON.stringify(result)).catch((err: unknown) => {
      this.seen.delete(id);
      throw new SinkError({ what: `appending to ${this.config.path}`, why: errorMessage(err), cause: err, sink: this.name, retryable: true });
    });
    if (this.config.dedupe) this.seen.set(id, p);
    return p;
  }

  flush(): Promise<void> {
    return this.appender.flush();
  }

  close(): Promise<void> {
    return this.appender.close();
  }
}
