import type { LlmLogRecordInput } from "../../../../schemas/llm-log-record.js";
import type { MappingIssues } from "../common.js";

/** A record under construction: the canonical fields, values not yet validated. */
export type RecordDraft = { -readonly [K in keyof LlmLogRecordInput]?: unknown };

export interface PresetContext {
  /** Which choice of a multi-choice response to attribute (OpenAI `n > 1`). */
  readonly choice: number;
}

export interface MappingPreset {
  readonly id: string;
  readonly summary: string;
  /** Whether `doc` looks like this preset's input (used by `auto`). */
  detect(doc: unknown): boolean;
  map(doc: unknown, ctx: PresetContext, issues: MappingIssues): RecordDraft;
}
