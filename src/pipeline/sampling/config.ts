/**
 * The `sampling:` section: which records get attributed. Deterministic hash sampling at a rate
 * (per model and per tenant overrides), rules that always / never attribute or set their own
 * rate, and budgets that cap attribution work, with flagged records first.
 *
 * @see docs/pipeline.md#sampling
 */
import { z } from "zod";

const primitive = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const metadataPredicateSchema = z.union([
  primitive.describe("equals this value"),
  z.array(primitive).describe("equals one of these values"),
  z
    .object({
      exists: z.boolean().optional().describe("the key is present (true) or absent (false)"),
      not: z.union([primitive, z.array(primitive)]).optional().describe("differs from this value (or from all of these)"),
      gt: z.number().optional(),
      gte: z.number().optional(),
      lt: z.number().optional(),
      lte: z.number().optional(),
      matches: z.string().optional().describe("JavaScript regular expression the (string) value matches"),
    })
    .strict(),
]);

const boundsSchema = z
  .object({
    min: z.number().int().min(0).optional().describe("at least this many characters"),
    max: z.number().int().min(0).optional().describe("at most this many characters"),
  })
  .strict();

export const predicateSchema = z
  .object({
    tags_any: z.array(z.string().min(1)).min(1).optional().describe("the record has at least one of these tags"),
    tags_all: z.array(z.string().min(1)).min(1).optional().describe("the record has all of these tags"),
    models: z.array(z.string().min(1)).min(1).optional().describe("the logged model is one of these (* matches any characters)"),
    providers: z.array(z.string().min(1)).min(1).optional(),
    tenants: z.array(z.string().min(1)).min(1).optional(),
    metadata: z.record(z.string(), metadataPredicateSchema).optional().describe("metadata key -> value, list of values, or {exists, not, gt, gte, lt, lte, matches}"),
    prompt_chars: boundsSchema.optional().describe("prompt length in characters (all message contents) within these bounds"),
    completion_chars: boundsSchema.optional(),
    completion_logprob: z
      .object({
        min_below: z.number().max(0).optional().describe("some completion token's logged logprob is below this"),
        mean_below: z.number().max(0).optional().describe("the mean logged logprob is below this"),
      })
      .strict()
      .optional()
      .describe("low-confidence completions; never matches a record logged without logprobs"),
  })
  .strict();

export type Predicate = z.infer<typeof predicateSchema>;

export const ruleSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_.-]+$/i, "letters, digits, _ . -").describe("Reported as the decision reason (rule:<name>) in metrics and stats"),
    action: z
      .enum(["always", "never", "rate"])
      .describe("always: attribute every matching record; never: attribute none; rate: hash-sample matching records at `rate`"),
    when: predicateSchema.default({}).describe("All conditions must hold; empty matches every record"),
    rate: z.number().min(0).max(1).optional().describe("For action rate: the sampling rate of matching records"),
    priority: z
      .number()
      .int()
      .min(-1000)
      .max(1000)
      .optional()
      .describe("Queue priority of records this rule samples (default: 10 for always, 0 otherwise); higher goes first when the budget binds"),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.action === "rate" && r.rate === undefined) ctx.addIssue({ code: "custom", path: ["rate"], message: "action rate needs a rate between 0 and 1" });
    if (r.action !== "rate" && r.rate !== undefined) ctx.addIssue({ code: "custom", path: ["rate"], message: `rate applies only to action rate (this rule is ${r.action})` });
  });

export type SamplingRule = z.infer<typeof ruleSchema>;

export const budgetSchema = z
  .object({
    attributions_per_minute: z.number().positive().optional().describe("Start at most this many attributions a minute (token bucket)"),
    endpoint_tokens_per_second: z
      .number()
      .positive()
      .optional()
      .describe("Send at most this many tokens a second to the scorer, averaged: each attribution is admitted on an estimate and charged its measured cost.tokens_processed"),
    burst_seconds: z.number().positive().default(10).describe("Bucket size, in seconds of budget that may be spent at once"),
    max_queue: z.number().int().min(1).default(1000).describe("Sampled records waiting for budget; beyond it the lowest-priority, oldest record is skipped (reason budget)"),
    max_wait_ms: z.number().int().min(0).default(300_000).describe("A sampled record that waited this long for budget is skipped (reason budget); 0 waits forever"),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.attributions_per_minute === undefined && b.endpoint_tokens_per_second === undefined) {
      ctx.addIssue({ code: "custom", path: [], message: "a budget needs attributions_per_minute and/or endpoint_tokens_per_second" });
    }
  });

export type BudgetConfig = z.infer<typeof budgetSchema>;

export const samplingConfigSchema = z
  .object({
    rate: z.number().min(0).max(1).default(0.01).describe("Share of records attributed, by a hash of the sampling key: a replay picks the same records, and a lower rate picks a subset of a higher one"),
    key: z
      .enum(["id", "trace_id", "session_id", "response_id"])
      .default("id")
      .describe("What is hashed: id (each call), trace_id or session_id (whole traces or sessions together); records without that field fall back to id"),
    seed: z.string().default("").describe("Salt of the hash: change it to draw a different (equally deterministic) sample"),
    per_model: z.record(z.string(), z.number().min(0).max(1)).default({}).describe("Logged model (* matches any characters) -> rate, overriding rate"),
    per_tenant: z.record(z.string(), z.number().min(0).max(1)).default({}).describe("Tenant id -> rate, overriding per_model and rate"),
    rules: z.array(ruleSchema).default([]).describe("Checked in order before the rates; the first matching rule decides"),
    budget: budgetSchema.optional().describe("Caps on attribution work; without it sampled records wait only for pipeline.concurrency"),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: "custom", path: ["rules", i, "name"], message: `duplicate rule name "${r.name}"` });
      seen.add(r.name);
      for (const [k, p] of Object.entries(r.when.metadata ?? {})) {
        if (p !== null && typeof p === "object" && !Array.isArray(p) && p.matches !== undefined) {
          try {
            new RegExp(p.matches);
          } catch {
            ctx.addIssue({ code: "custom", path: ["rules", i, "when", "metadata", k, "matches"], message: "not a valid regular expression" });
          }
        }
      }
    });
  });

export type SamplingConfig = z.infer<typeof samplingConfigSchema>;
export type SamplingConfigInput = z.input<typeof samplingConfigSchema>;
