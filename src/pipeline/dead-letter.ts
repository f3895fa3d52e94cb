/**
 * Dead letters: how a given-up record is described wherever it goes. A Kafka dead-letter topic
 * gets the original key and value bytes with the original headers plus these; the JSONL
 * dead-letter file gets one object per record with the same facts.
 *
 * @see docs/pipeline.md#dead-letters
 */
import { RecordValidationError, errorCode, errorMessage } from "../errors.js";
import type { DeadLetter, DeadLetterStage, SourceMessage } from "./contracts.js";

/** Header names added to a dead-lettered message (all values are strings). */
export const DLQ_HEADERS = {
  reason: "reagent.dlq.reason",
  stage: "reagent.dlq.stage",
  code: "reagent.dlq.error_code",
  attempts: "reagent.dlq.attempts",
  time: "reagent.dlq.time",
  partition: "reagent.dlq.source_partition",
  offset: "reagent.dlq.source_offset",
  recordId: "reagent.dlq.record_id",
  issues: "reagent.dlq.issues",
  /** `redacted` or `none` when the route's payload policy changed the value (absent: the original bytes). */
  payload: "reagent.dlq.payload",
  /** On a pointer record: the spill file holding the whole dead letter (too large for the topic). */
  spilledTo: "reagent.dlq.spilled_to",
} as const;

const MAX_REASON = 2000;

export function buildDeadLetter(
  message: SourceMessage,
  stage: DeadLetterStage,
  err: unknown,
  attempts: number,
  recordId: string | null,
  now: Date = new Date(),
): DeadLetter {
  const issues = err instanceof RecordValidationError ? err.issues.slice(0, 50) : [];
  return { message, stage, reason: errorMessage(err).slice(0, MAX_REASON), code: errorCode(err), attempts, time: now, recordId, issues };
}

/** The headers a dead letter carries, original headers first (ours win on a name clash). */
export function deadLetterHeaders(l: DeadLetter): Record<string, string> {
  return {
    ...l.message.headers,
    [DLQ_HEADERS.reason]: l.reason,
    [DLQ_HEADERS.stage]: l.stage,
    [DLQ_HEADERS.code]: l.code,
    [DLQ_HEADERS.attempts]: String(l.attempts),
    [DLQ_HEADERS.time]: l.time.toISOString(),
    [DLQ_HEADERS.partition]: l.message.partition,
    [DLQ_HEADERS.offset]: l.message.offset.toString(),
    ...(l.recordId === null ? {} : { [DLQ_HEADERS.recordId]: l.recordId }),
    ...(l.issues.length === 0 ? {} : { [DLQ_HEADERS.issues]: JSON.stringify(l.issues).slice(0, 8000) }),
    ...(l.payload === undefined ? {} : { [DLQ_HEADERS.payload]: l.payload }),
  };
}

/** A dead letter as one JSON object (the JSONL dead-letter file's line). */
export function deadLetterJson(l: DeadLetter): Record<string, unknown> {
  const text = decodeUtf8(l.message.value);
  return {
    time: l.time.toISOString(),
    stage: l.stage,
    reason: l.reason,
    error_code: l.code,
    attempts: l.attempts,
    record_id: l.recordId,
    issues: l.issues,
    source: { partition: l.message.partition, offset: l.message.offset.toString(), timestamp: l.message.timestamp },
    headers: deadLetterHeaders(l),
    key: l.message.key === null ? null : l.message.key.toString("base64"),
    ...(text === undefined ? { value_base64: l.message.value.toString("base64") } : { value: text }),
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeUtf8(b: Buffer): string | undefined {
  try {
    return strictUtf8.decode(b);
  } catch {
    return undefined;
  }
}
