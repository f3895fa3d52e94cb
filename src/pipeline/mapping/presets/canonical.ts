/** `canonical`: the line already is an LlmLogRecord (schemas/llm-log-record.ts); validated as is. */
import { isRecord } from "../common.js";
import type { MappingPreset } from "./types.js";

export const canonicalPreset: MappingPreset = {
  id: "canonical",
  summary: "The record is already an LlmLogRecord (schemas/llm-log-record.schema.json); validated strictly, unknown keys rejected",
  detect: (doc) => isRecord(doc) && typeof doc.id === "string" && isRecord(doc.completion) && typeof doc.completion.text === "string" && doc.prompt !== undefined,
  map: (doc) => (isRecord(doc) ? ({ ...doc }) : {}),
};
