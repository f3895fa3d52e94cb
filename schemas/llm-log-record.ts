/**
 * The logged LLM call the pipeline works on: what every mapping preset produces from what users
 * already log (OpenAI request/response JSON, OTel GenAI spans, OpenInference spans, flat
 * `{prompt, completion}` lines) and what the sampler and the engine read.
 *
 * Conventions: snake_case keys (like the result contract); W3C trace context ids in lowercase
 * hex; `timestamp` is ISO-8601 with an offset. JSON Schema is generated from this file
 * (schemas/llm-log-record.schema.json, `npm run config:docs`).
 *
 * @see docs/pipeline.md
 */
import { z } from "zod";

export const LLM_LOG_RECORD_SCHEMA_VERSION = 1;

/** The chat roles every contract speaks (records, results, chat templates). */
export const chatRoles = ["system", "user", "assistant", "tool"] as const;
export type ChatRole = (typeof chatRoles)[number];

/** W3C trace-context trace id: 32 lowercase hex digits, not all zero. */
export const traceIdSchema = z
  .string()
  .regex(/^(?!0{32})[0-9a-f]{32}$/, "expected a W3C trace id: 32 lowercase hex digits, not all zero")
  .describe("W3C trace id of the logged LLM call's span (32 lowercase hex digits)");

/** W3C trace-context span (parent) id: 16 lowercase hex digits, not all zero. */
export const spanIdSchema = z
  .string()
  .regex(/^(?!0{16})[0-9a-f]{16}$/, "expected a W3C span id: 16 lowercase hex digits, not all zero")
  .describe("W3C span id of the logged LLM call's span (16 lowercase hex digits)");

export const chatMessageSchema = z
  .object({
    role: z.enum(chatRoles).describe("system, user, assistant or tool (presets map developer -> system, function -> tool)"),
    content: z.string().describe("The message text (text parts joined; tool calls rendered as JSON)"),
    name: z.string().min(1).optional().describe("Participant or tool name, when logged"),
  })
  .strict();

export type LoggedChatMessage = z.infer<typeof chatMessageSchema>;

export const completionSchema = z
  .object({
    text: z.string().min(1, "the completion is empty: there is nothing to attribute").describe("The completion text"),
    token_ids: z
      .array(z.number().int().min(0))
      .min(1)
      .optional()
      .describe("Completion token ids, when the log has them (used for attribution only with engine.use_logged_token_ids)"),
    tokens: z.array(z.string()).min(1).optional().describe("Completion token strings, when logged (OpenAI logprobs.content[].token)"),
    logprobs: z
      .array(z.number().max(0))
      .min(1)
      .optional()
      .describe("Log-probability of each completion token as logged (sampling rules can use them)"),
  })
  .strict()
  .superRefine((c, ctx) => {
    const lens: [string, number][] = [];
    if (c.token_ids) lens.push(["token_ids", c.token_ids.length]);
    if (c.tokens) lens.push(["tokens", c.tokens.length]);
    if (c.logprobs) lens.push(["logprobs", c.logprobs.length]);
    const first = lens[0];
    for (const [name, n] of lens.slice(1)) {
      if (first && n !== first[1]) {
        ctx.addIssue({ code: "custom", path: [name], message: `has ${n} entries but ${first[0]} has ${first[1]}; they describe the same tokens` });
      }
    }
  });

const paramValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.union([z.string(), z.number(), z.boolean()]))]);

export const requestParamsSchema = z
  .object({
    temperature: z.number().min(0).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().min(0).optional(),
    max_tokens: z.number().int().min(0).optional(),
    seed: z.number().int().optional(),
    stop: z.array(z.string()).optional(),
    presence_penalty: z.number().optional(),
    frequency_penalty: z.number().optional(),
  })
  .catchall(paramValueSchema)
  .describe("Request parameters as logged (known keys are typed; others kept as primitives)");

export const metadataValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const llmLogRecordSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(512)
      .describe("Unique id of the logged call; sampling and the attribution id hash it, so a replay picks and keys the same records"),
    timestamp: z.iso
      .datetime({ offset: true })
      .nullable()
      .default(null)
      .describe("ISO-8601 time of the call (with Z or an offset); null when the log has none"),
    trace_id: traceIdSchema.nullable().default(null),
    span_id: spanIdSchema.nullable().default(null),
    response_id: z.string().min(1).nullable().default(null).describe("The provider's response id (chatcmpl-…, gen_ai.response.id)"),
    model: z.string().min(1).nullable().default(null).describe("The model named in the log (the attribution model is configured separately)"),
    provider: z.string().min(1).nullable().default(null).describe("openai, anthropic, vllm, … (gen_ai.provider.name)"),
    prompt: z
      .union([z.string().min(1, "the prompt is empty"), z.array(chatMessageSchema).min(1, "the prompt has no messages")])
      .describe("Plain-text prompt, or chat messages in order"),
    completion: completionSchema,
    params: requestParamsSchema.default({}),
    tenant_id: z.string().min(1).nullable().default(null),
    user_id: z.string().min(1).nullable().default(null),
    session_id: z.string().min(1).nullable().default(null).describe("Session or conversation id (gen_ai.conversation.id, session.id)"),
    tags: z.array(z.string().min(1)).default([]).describe("Free-form labels; sampling rules match on them"),
    metadata: z.record(z.string(), metadataValueSchema).default({}).describe("Other logged facts (primitives); sampling rules match on them"),
  })
  .strict();

export type LlmLogRecord = z.infer<typeof llmLogRecordSchema>;
export type LlmLogRecordInput = z.input<typeof llmLogRecordSchema>;

/** JSON Schema (draft 2020-12) of a record as it may be written (defaults optional). */
export function llmLogRecordJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://reagent-stream.dev/schemas/llm-log-record.schema.json",
    title: "LlmLogRecord",
    description: `A logged LLM call in reagent-stream's canonical form (schema version ${LLM_LOG_RECORD_SCHEMA_VERSION}); generated from schemas/llm-log-record.ts`,
    ...z.toJSONSchema(llmLogRecordSchema, { io: "input", unrepresentable: "any" }),
  };
}
