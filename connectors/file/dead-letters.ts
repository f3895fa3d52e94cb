/**
 * Dead letters to a JSONL file (file and stdin sources): one object per record with its
 * original bytes (`value`, or `value_base64` when not UTF-8), the headers a dead-letter topic
 * would carry, and stage, reason, error code, attempts and time. `write` resolves once the line
 * is durable.
 *
 * @see docs/pipeline.md#dead-letters
 */
import { z } from "zod";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { DeadLetter, DeadLetterSink } from "../../src/pipeline/contracts.js";
import { deadLetterJson } from "../../src/pipeline/dead-letter.js";
import { applyPayloadPolicy, deadLetterPayloadSchema, type DeadLetterPayload } from "../dead-letter/payload.js";
import { JsonlAppender } from "./jsonl-writer.js";
import { fsPath } from "../../src/config-paths.js";

export const jsonlDeadLetterConfigSchema = z
  .object({
    type: z.literal("jsonl"),
    path: z.string().min(1).meta(fsPath("output")).describe("File the dead letters are appended to (created with its directory)"),
    fsync: z.boolean().default(true).describe("fsync each batch before acknowledging it"),
    payload: deadLetterPayloadSchema,
  })
  .strict()
  .describe("A JSONL file (the default for file and stdin sources: dead-letters.jsonl): one object per record with its original bytes, headers, stage, reason, error code, attempts and time.");

export type JsonlDeadLetterConfig = z.infer<typeof jsonlDeadLetterConfigSchema>;
/** The parsed config; `payload` may be left out (full). */
type JsonlDeadLetterOptions = Omit<JsonlDeadLetterConfig, "payload"> & { readonly payload?: DeadLetterPayload };

export class JsonlDeadLetters implements DeadLetterSink {
  readonly name: string;
  private readonly appender: JsonlAppender;

  constructor(readonly config: JsonlDeadLetterOptions) {
    this.name = `jsonl:${config.path}`;
    this.appender = new JsonlAppender(config.path, { fsync: config.fsync, flushIntervalMs: 20 });
  }

  async start(): Promise<void> {
    try {
      await this.appender.open();
    } catch (err) {
      throw new SinkError({ what: `opening dead-letter file ${this.config.path}`, why: errorMessage(err), cause: err, sink: this.name, retryable: false });
    }
  }

  write(letter: DeadLetter): Promise<void> {
    return this.appender.append(JSON.stringify(deadLetterJson(applyPayloadPolicy(letter, this.config.payload ?? "full"))));
  }

  close(): Promise<void> {
    return this.appender.close();
  }
}
