/**
 * The mapper: one logged message (bytes) -> one validated LlmLogRecord, through a preset for
 * what users already log and optional per-field overrides (`mapping.fields`, dotted paths into
 * the logged JSON). Anything that does not map or validate throws RecordValidationError whose
 * issues name the path (input paths for mapping problems, `record.<field>` for schema problems),
 * and the pipeline dead-letters the original bytes.
 *
 * @see docs/pipeline.md#mapping
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { llmLogRecordSchema, type LlmLogRecord } from "../../../schemas/llm-log-record.js";
import { parseConfig } from "../../config-issues.js";
import { RecordValidationError } from "../../errors.js";
import { MappingIssues, isRecord, normaliseHexId, num, primitiveMap, stringList, toIsoTimestamp, type MappingIssue } from "./common.js";
import { getPath, parsePath, type PathSegment } from "./paths.js";
import { canonicalPreset } from "./presets/canonical.js";
import { flatPreset, mapPrompt } from "./presets/flat.js";
import { openaiPreset } from "./presets/openai.js";
import { openinferencePreset } from "./presets/openinference.js";
import { otelGenaiPreset } from "./presets/otel-genai.js";
import type { MappingPreset, RecordDraft } from "./presets/types.js";

export const presetIds = ["auto", "canonical", "flat", "openai", "otel_genai", "openinference", "custom"] as const;
export type PresetId = (typeof presetIds)[number];

/** Presets in the order `auto` tries them. */
export const PRESETS: readonly MappingPreset[] = [canonicalPreset, openaiPreset, otelGenaiPreset, openinferencePreset, flatPreset];

const customPreset: MappingPreset = {
  id: "custom",
  summary: "Nothing is read implicitly: every field comes from mapping.fields (prompt and completion are required)",
  detect: () => false,
  map: () => ({}),
};

export const presetSummaries: Readonly<Record<PresetId, string>> = {
  auto: "Detect per record, in this order: canonical, openai, otel_genai, openinference, flat",
  canonical: canonicalPreset.summary,
  flat: flatPreset.summary,
  openai: openaiPreset.summary,
  otel_genai: otelGenaiPreset.summary,
  openinference: openinferencePreset.summary,
  custom: customPreset.summary,
};

export const mappableFields = [
  "id", "timestamp", "trace_id", "span_id", "response_id", "model", "provider", "prompt", "completion",
  "completion_token_ids", "completion_logprobs", "tenant_id", "user_id", "session_id", "tags", "metadata",
] as const;

const FIELD_KEY = new RegExp(`^(?:${mappableFields.join("|")}|metadata\\.[^.\\s]+|params\\.[^.\\s]+)$`);

export const mappingConfigSchema = z
  .object({
    preset: z
      .enum(presetIds)
      .default("auto")
      .describe(`How logged records become LlmLogRecords. ${presetIds.map((p) => `${p}: ${presetSummaries[p]}`).join(". ")}`),
    fields: z
      .record(
        z.string().regex(FIELD_KEY, `a record field: ${mappableFields.join(", ")}, metadata.<key> or params.<key>`),
        z.string().min(1),
      )
      .default({})
      .describe(
        "Per-field overrides applied after the preset: record field -> dotted path into the logged JSON (request.messages, attributes.gen_ai.request.model, labels[0]); keys may contain dots; OTLP attribute lists are read as maps. Fields: " +
          `${mappableFields.join(", ")}, metadata.<key>, params.<key>`,
      ),
    choice: z.number().int().min(0).default(0).describe("Which response choice to attribute when a call returned several (OpenAI n > 1)"),
    missing_id: z
      .enum(["content_hash", "reject"])
      .default("content_hash")
      .describe("A record without an id: content_hash keys it by sha256 of its bytes (replays give the same id); reject dead-letters it"),
    missing_timestamp: z
      .enum(["source", "null"])
      .default("source")
      .describe("A record without a time: source uses the message's timestamp (Kafka's), null leaves it empty"),
    max_record_bytes: z.number().int().min(64).default(4_194_304).describe("Larger messages are dead-lettered unparsed"),
    max_depth: z
      .number()
      .int()
      .min(8)
      .max(10_000)
      .default(64)
      .describe("JSON nested deeper than this (objects and arrays) is dead-lettered unparsed, with that reason (deep nesting would exhaust the stack)"),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.preset === "custom") {
      for (const f of ["prompt", "completion"] as const) {
        if (cfg.fields[f] === undefined) ctx.addIssue({ code: "custom", path: ["fields", f], message: `preset custom needs fields.${f} (a dotted path to the ${f})` });
      }
    }
  });

export type MappingConfig = z.infer<typeof mappingConfigSchema>;
export type MappingConfigInput = z.input<typeof mappingConfigSchema>;

/** What the mapper needs from a source message. */
export interface RawRecord {
  readonly value: Buffer;
  /** ISO time the source gives the message (Kafka's timestamp), used when the record has none. */
  readonly timestamp?: string | null;
}

export interface MappedRecord {
  readonly record: LlmLogRecord;
  /** The preset that mapped it (for `auto`, the one detected). */
  readonly preset: string;
}

function contentHashId(value: Buffer): string {
  return `sha256:${createHash("sha256").update(value).digest("hex").slice(0, 32)}`;
}

/** Whether JSON text nests objects/arrays deeper than `max` (a byte scan that skips strings; no parse). */
export function jsonDepthOver(b: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function zodPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".");
}

export class RecordMapper {
  readonly config: MappingConfig;
  private readonly fieldPaths: [string, PathSegment[]][];
  private readonly fixed: MappingPreset | undefined;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(config: MappingConfigInput = {}) {
    this.config = parseConfig(mappingConfigSchema, config, { what: "reading the mapping settings", path: "mapping" });
    this.fieldPaths = Object.entries(this.config.fields).map(([k, p]) => [k, parsePath(p)]);
    const p = this.config.preset;
    this.fixed = p === "auto" ? undefined : p === "custom" ? customPreset : PRESETS.find((x) => x.id === p);
  }

  /** Maps and validates one message; throws RecordValidationError. */
  map(raw: RawRecord): MappedRecord {
    if (raw.value.length > this.config.max_record_bytes) {
      throw this.fail("reading the record", `it is ${raw.value.length} bytes; mapping.max_record_bytes is ${this.config.max_record_bytes}`, [
        { path: "", message: "record too large" },
      ]);
    }
    const depth = jsonDepthOver(raw.value, this.config.max_depth);
    if (depth) {
      const why = `it is nested deeper than ${this.config.max_depth} levels (mapping.max_depth)`;
      throw this.fail("parsing the record", why, [{ path: "", message: why }], "parse");
    }
    let doc: unknown;
    try {
      doc = JSON.parse(this.decoder.decode(raw.value)) as unknown;
    } catch (err) {
      const why = err instanceof TypeError ? "it is not valid UTF-8" : `it is not JSON (${err instanceof Error ? err.message : String(err)})`;
      throw this.fail("parsing the record", why, [{ path: "", message: why }], "parse");
    }
    const preset = this.fixed ?? PRESETS.find((p) => p.detect(doc));
    if (preset === undefined) {
      throw this.fail("mapping the record (preset auto)", "its shape matches no preset; set mapping.preset (and mapping.fields) for this format", [
        { path: "", message: "expected an LlmLogRecord, {request, response}, an OTel GenAI or OpenInference span, or {prompt, completion}" },
      ]);
    }
    const issues = new MappingIssues();
    const draft = preset.map(doc, { choice: this.config.choice }, issues);
    this.applyFields(doc, draft, issues);
    this.normalise(draft, raw, issues, preset.id === "canonical");
    if (!issues.empty) throw this.fail(`mapping the record (preset ${preset.id})`, summarise(issues.list), issues.list);
    const res = llmLogRecordSchema.safeParse(draft);
    if (!res.success) {
      const prefix = preset.id === "canonical" ? "" : "record.";
      const list = res.error.issues.map((i) => ({ path: `${prefix}${zodPath(i.path)}`, message: i.message }));
      throw this.fail(`validating the record (preset ${preset.id})`, summarise(list), list);
    }
    return { record: res.data, preset: preset.id };
  }

  private fail(what: string, why: string, issues: readonly MappingIssue[], stage: "parse" | "validate" = "validate"): RecordValidationError {
    return new RecordValidationError({ what, why, issues, stage });
  }

  private applyFields(doc: unknown, draft: RecordDraft, issues: MappingIssues): void {
    for (const [field, segs] of this.fieldPaths) {
      const path = this.config.fields[field] ?? "";
      const v = getPath(doc, segs);
      if (v === undefined) {
        if (field === "prompt" || field === "completion") issues.add(path, `missing: mapping.fields.${field} points here`);
        continue;
      }
      switch (field) {
        case "prompt":
          draft.prompt = mapPrompt(v, path, issues);
          break;
        case "completion": {
          const prev = isRecord(draft.completion) ? draft.completion : {};
          draft.completion = typeof v === "string" ? { ...prev, text: v } : isRecord(v) ? v : { ...prev, text: v };
          break;
        }
        case "completion_token_ids":
        case "completion_logprobs": {
          const prev = isRecord(draft.completion) ? draft.completion : {};
          draft.completion = { ...prev, [field === "completion_logprobs" ? "logprobs" : "token_ids"]: v };
          break;
        }
        case "tags":
          draft.tags = stringList(v) ?? v;
          break;
        case "metadata":
          draft.metadata = { ...(isRecord(draft.metadata) ? draft.metadata : {}), ...primitiveMap(v) };
          break;
        default:
          if (field.startsWith("metadata.")) {
            const m = isRecord(draft.metadata) ? draft.metadata : {};
            m[field.slice("metadata.".length)] = primitiveMap({ v }).v ?? null;
            draft.metadata = m;
          } else if (field.startsWith("params.")) {
            const p = isRecord(draft.params) ? draft.params : {};
            p[field.slice("params.".length)] = v;
            draft.params = p;
          } else {
            (draft as Record<string, unknown>)[field] = v;
          }
      }
    }
  }

  private normalise(draft: RecordDraft, raw: RawRecord, issues: MappingIssues, strict: boolean): void {
    if (typeof draft.id === "number") draft.id = String(draft.id);
    if (draft.id === undefined || draft.id === null || draft.id === "") {
      if (this.config.missing_id === "reject") issues.add("id", "missing: the record has no id (mapping.missing_id: reject)");
      else draft.id = contentHashId(raw.value);
    }
    if (draft.timestamp === undefined || draft.timestamp === null) {
      draft.timestamp = this.config.missing_timestamp === "source" ? (raw.timestamp ?? null) : null;
    } else if (!strict || typeof draft.timestamp !== "string") {
      draft.timestamp = toIsoTimestamp(draft.timestamp, "timestamp", issues);
    }
    if (!strict) {
      draft.trace_id = normaliseHexId(draft.trace_id, 16);
      draft.span_id = normaliseHexId(draft.span_id, 8);
      for (const k of ["tenant_id", "user_id", "session_id", "model", "provider", "response_id"] as const) {
        const v = draft[k];
        if (typeof v === "number") draft[k] = String(v);
        if (v === "") draft[k] = undefined;
      }
      if (isRecord(draft.completion) && Array.isArray(draft.completion.logprobs)) {
        draft.completion.logprobs = (draft.completion.logprobs as unknown[]).map((x): unknown => num(x) ?? x);
      }
    }
  }
}

function summarise(list: readonly MappingIssue[]): string {
  const first = list[0];
  if (!first) return "invalid record";
  const head = `${first.path === "" ? "(record)" : first.path}: ${first.message}`;
  return list.length > 1 ? `${head} (and ${list.length - 1} more)` : head;
}
