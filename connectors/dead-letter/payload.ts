/**
 * `dead_letter.payload`: how much of a dead-lettered record's bytes the dead-letter route keeps.
 * - `full` (default): the original bytes, so the record can be replayed as it was;
 * - `redacted`: every string value of the JSON with the store's redaction rules applied (e-mails,
 *   credentials, long numbers masked, lengths kept: connectors/sink-common/redact.ts); bytes that do
 *   not parse as JSON are masked as text;
 * - `none`: no payload at all, only the reagent.dlq.* facts (reason, stage, code, position, record id).
 * The letter says which with the header `reagent.dlq.payload`.
 */
import { z } from "zod";
import type { DeadLetter } from "../../src/pipeline/contracts.js";
import { jsonDepthOver } from "../../src/pipeline/mapping/mapper.js";
import { redactText } from "../sink-common/redact.js";

export const deadLetterPayloads = ["full", "redacted", "none"] as const;
export type DeadLetterPayload = (typeof deadLetterPayloads)[number];

export const deadLetterPayloadSchema = z
  .enum(deadLetterPayloads)
  .default("full")
  .describe(
    "full: the original bytes (replayable as they were); redacted: string values masked by the store redaction rules (e-mails, credentials, numbers of 4+ digits; docs/sinks.md); none: no payload, only the reagent.dlq.* facts",
  );

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function redactStrings(v: unknown): unknown {
  if (typeof v === "string") return redactText(v);
  if (Array.isArray(v)) return v.map(redactStrings);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactStrings(x)]));
  return v;
}

/** The record's bytes under a payload policy. */
export function redactPayload(value: Buffer): Buffer {
  let text: string;
  try {
    text = strictUtf8.decode(value);
  } catch {
    return Buffer.alloc(0); // not text: nothing can be masked reliably
  }
  if (!jsonDepthOver(value, 256)) {
    try {
      return Buffer.from(JSON.stringify(redactStrings(JSON.parse(text))));
    } catch {
      // not JSON: mask it as text
    }
  }
  return Buffer.from(redactText(text));
}

/** The letter as the route stores it. */
export function applyPayloadPolicy(letter: DeadLetter, policy: DeadLetterPayload): DeadLetter {
  if (policy === "full") return letter;
  const value = policy === "none" ? Buffer.alloc(0) : redactPayload(letter.message.value);
  return { ...letter, message: { ...letter.message, value }, payload: policy };
}
