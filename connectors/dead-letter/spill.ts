/**
 * The spill file: where a dead letter goes whole when the dead-letter topic cannot take it (larger
 * than the topic's message limit, refused by the broker for good, or the topic unreachable past
 * the dead-letter route's retries). It is one JSONL line per letter, the same object the JSONL
 * dead-letter file holds, fsync'ed before the letter counts as durable; the topic then gets a small
 * pointer record naming the file and the line's id, so every dead letter is still announced where
 * operators look.
 *
 * @see docs/pipeline.md#dead-letters
 */
import { createHash } from "node:crypto";
import { SinkError, errorMessage } from "../../src/errors.js";
import type { DeadLetter } from "../../src/pipeline/contracts.js";
import { deadLetterJson } from "../../src/pipeline/dead-letter.js";
import { JsonlAppender } from "../file/jsonl-writer.js";

/** What the topic's pointer record says about a spilled letter. */
export interface SpillPointer {
  readonly spilled_to: string;
  /** sha256 of the letter's original value: find the line with `spill_id`. */
  readonly spill_id: string;
  readonly value_bytes: number;
  /** Why it did not go to the topic. */
  readonly reason: string;
}

export class DeadLetterSpill {
  private readonly appender: JsonlAppender;
  private opened = false;

  constructor(readonly path: string) {
    this.appender = new JsonlAppender(path, { fsync: true, flushIntervalMs: 10 });
  }

  /** Appends the whole letter; resolves once it is durable. */
  async write(letter: DeadLetter, reason: string): Promise<SpillPointer> {
    const pointer: SpillPointer = {
      spilled_to: this.path,
      spill_id: createHash("sha256").update(letter.message.value).digest("hex"),
      value_bytes: letter.message.value.length,
      reason,
    };
    try {
      if (!this.opened) {
        await this.appender.open();
        this.opened = true;
      }
      await this.appender.append(JSON.stringify({ ...deadLetterJson(letter), spill_id: pointer.spill_id, spill_reason: reason }));
    } catch (err) {
      throw new SinkError({ what: `spilling a dead letter to ${this.path}`, why: errorMessage(err), cause: err, sink: `spill:${this.path}`, retryable: true });
    }
    return pointer;
  }

  close(): Promise<void> {
    return this.opened ? this.appender.close() : Promise.resolve();
  }
}
