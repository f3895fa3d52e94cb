/**
 * The attribution result contract: what the engine returns and what sinks, exporters and the
 * CLI consume. JSON Schema is generated from this file (schemas/attribution-result.schema.json,
 * `npm run config:docs`).
 *
 * Conventions: snake_case keys (they become SQL columns and span attributes); character offsets
 * are UTF-16 code-unit offsets into `prompt.text` / `completion.text` (JavaScript string
 * indices); importance vectors are non-negative and sum to 1 over their context.
 */
import { z } from "zod";
import { chatRoles } from "./llm-log-record.js";

export const RESULT_SCHEMA_VERSION = 1;

/** What one attribution feature can be: a token (as published) or a unit replaced as a whole. */
export const unitLevels = ["token", "sentence", "paragraph", "message", "segment"] as const;
export type UnitLevel = (typeof unitLevels)[number];

export const resultTokenSchema = z
  .object({
    id: z.number().int().describe("Token id in the scorer's vocabulary"),
    text: z.string().describe("The token's text as decoded in context"),
    start: z.number().int().min(0).describe("Character offset of the token in its text (UTF-16 units)"),
    end: z.number().int().min(0),
    special: z.boolean().describe("BOS/EOS/added special token"),
    protected: z.boolean().describe("Never replaced: special or chat-template token"),
    segment: z.string().nullable().describe("Configured segment, role, or 'prompt'"),
    message_index: z.number().int().nullable(),
  })
  .strict();

export const messageRangeSchema = z
  .object({ index: z.number().int(), role: z.enum(chatRoles), start: z.number().int(), end: z.number().int() })
  .strict();

export const targetResultSchema = z
  .object({
    index: z.number().int().min(0).describe("Index of the target in the completion"),
    token_id: z.number().int(),
    p_original: z.number().min(0).max(1).describe("p(target | unperturbed context)"),
    converged: z.boolean().describe("At least one probe stopped; false means the importance is the mean over all probes"),
    probes_converged: z.number().int().min(0),
    probes_total: z.number().int().min(0),
    steps: z.number().int().min(0),
    importance: z.array(z.number()).describe("Per context position (prompt tokens, then earlier completion tokens); sums to 1"),
  })
  .strict();

export const spanSchema = z
  .object({
    rank: z.number().int().min(1),
    text: z.string(),
    start: z.number().int().min(0).describe("Character range in prompt.text"),
    end: z.number().int().min(0),
    token_start: z.number().int().min(0).describe("Token range in prompt.tokens, end exclusive"),
    token_end: z.number().int().min(0),
    score: z.number().min(0).describe("Summed sequence importance of the span's tokens"),
    segment: z.string().nullable(),
    role: z.enum(chatRoles).nullable(),
    message_index: z.number().int().nullable(),
  })
  .strict();

export const segmentShareSchema = z
  .object({
    name: z.string(),
    kind: z.enum(["rule", "role", "message", "prompt", "template"]).describe("rule: configured segment; role: all messages of a role; message: one message"),
    message_index: z.number().int().nullable(),
    share: z.number().min(0).max(1).describe("Sum of sequence importance over the segment's tokens"),
    tokens: z.number().int().min(0),
  })
  .strict();

export const unitScoreSchema = z
  .object({
    index: z.number().int().min(0),
    start: z.number().int().min(0).describe("Character range in prompt.text, from the unit's first to its last replaceable token"),
    end: z.number().int().min(0),
    token_start: z.number().int().min(0).describe("Token range in prompt.tokens, end exclusive"),
    token_end: z.number().int().min(0),
    tokens: z.number().int().min(0).describe("Replaceable tokens in the unit (the ones replaced together)"),
    score: z.number().min(0).max(1).describe("The unit's share of sequence importance (sum over its tokens)"),
    refined: z.boolean().describe("Segment-first: the unit's tokens were attributed one by one in the second pass"),
  })
  .strict();

export const wordScoreSchema = z
  .object({ start: z.number().int(), end: z.number().int(), text: z.string(), score: z.number().min(0) })
  .strict();

export const recordContextSchema = z
  .object({
    record_id: z.string().nullable(),
    trace_id: z.string().nullable(),
    span_id: z.string().nullable(),
    response_id: z.string().nullable(),
    tenant_id: z.string().nullable(),
    user_id: z.string().nullable(),
    session_id: z.string().nullable(),
    provider: z.string().nullable(),
    logged_model: z.string().nullable().describe("The model name in the logged record"),
    record_timestamp: z.string().nullable().describe("ISO-8601 time of the logged call"),
  })
  .strict();

export type RecordContext = z.infer<typeof recordContextSchema>;

export const emptyRecordContext: RecordContext = {
  record_id: null,
  trace_id: null,
  span_id: null,
  response_id: null,
  tenant_id: null,
  user_id: null,
  session_id: null,
  provider: null,
  logged_model: null,
  record_timestamp: null,
};

export const attributionResultSchema = z
  .object({
    schema_version: z.literal(RESULT_SCHEMA_VERSION),
    attribution_id: z.string().describe("Deterministic: hash of record id (or input) and config hash; redelivery gives the same id"),
    context: recordContextSchema,
    created_at: z.string().describe("ISO-8601 time the attribution finished"),
    engine_version: z.string(),
    model: z.object({ scorer_id: z.string(), kind: z.string(), name: z.string() }).strict(),
    method: z.string().describe("Attribution method id (engine.method: reagent, loo, random, …)"),
    mode: z.string().nullable().describe("ReAGent mode (engine.method.mode); null for baselines"),
    sampler: z.string().describe("Replacement sampler id (engine.sampler)"),
    sampler_description: z.string(),
    // The engine owns its settings' schema (src/attribution/config.ts); the contract carries
    // them as the resolved object, so the result format does not change with every new knob.
    config: z.record(z.string(), z.unknown()).describe("The resolved engine settings the result was computed with (docs/config.md#engine)"),
    config_hash: z.string(),
    prompt: z
      .object({
        text: z.string(),
        tokens: z.array(resultTokenSchema),
        messages: z.array(messageRangeSchema),
      })
      .strict(),
    completion: z.object({ text: z.string(), tokens: z.array(resultTokenSchema) }).strict(),
    targets: z.array(targetResultSchema),
    sequence: z
      .object({
        importance: z.array(z.number()).describe("One value per prompt token; sums to 1 over the prompt"),
        aggregation: z.literal("rollout_mean").describe("See docs/attribution.md: credit given to earlier completion tokens flows back to the prompt through their own rows, then targets are averaged"),
      })
      .strict(),
    words: z.array(wordScoreSchema),
    segments: z.array(segmentShareSchema),
    unit_level: z
      .enum(unitLevels)
      .default("token")
      .describe("What one feature was: token (as published) or a unit replaced as a whole (segment-first attribution, docs/attribution.md)"),
    units: z.array(unitScoreSchema).default([]).describe("Unit level only: every unit with its share, in prompt order"),
    spans: z.array(spanSchema),
    convergence: z
      .object({
        converged: z.boolean().describe("Every target had at least one converged probe"),
        targets_converged: z.number().int().min(0),
        targets_total: z.number().int().min(0),
        probes_converged: z.number().int().min(0),
        probes_total: z.number().int().min(0),
        steps_total: z.number().int().min(0),
        steps_max: z.number().int().min(0),
      })
      .strict(),
    cost: z
      .object({ model_calls: z.number().int().min(0), sequences_evaluated: z.number().int().min(0), tokens_processed: z.number().int().min(0) })
      .strict(),
    timings: z.object({ started_at: z.string(), duration_ms: z.number().min(0) }).strict(),
    faithfulness: z
      .record(z.string(), z.number())
      .nullable()
      .describe("Optional metric name -> value (e.g. deletion comprehensiveness), when computed"),
    warnings: z.array(z.string()),
  })
  .strict();

export type AttributionResult = z.infer<typeof attributionResultSchema>;
export type ResultToken = z.infer<typeof resultTokenSchema>;
export type ResultSpan = z.infer<typeof spanSchema>;
export type SegmentShare = z.infer<typeof segmentShareSchema>;

/** The ReAGent stopping rule a result ran with (`config.stopping.type`), or '' for other methods or when its settings name none. */
export function stoppingRuleOf(result: Pick<AttributionResult, "method" | "config">): string {
  if (result.method !== "reagent") return "";
  const s = (result.config as Readonly<Record<string, unknown>>).stopping;
  if (typeof s === "string") return s;
  if (s !== null && typeof s === "object" && typeof (s as { type?: unknown }).type === "string") return (s as { type: string }).type;
  return "";
}

/** JSON Schema (draft 2020-12) of a result, written to schemas/attribution-result.schema.json by `npm run config:docs`. */
export function attributionResultJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://reagent-stream.dev/schemas/attribution-result.schema.json",
    title: "AttributionResult",
    ...z.toJSONSchema(attributionResultSchema, { io: "output", target: "draft-2020-12" }),
  };
}
