/**
 * `engine.method`: which attribution method runs, with the knobs only it reads.
 * ReAGent's defaults are inseq's (reference/reagent.md §2.9): r = 0.3, T_max = 3000, B = 16.
 */
import { z } from "zod";
import { withTypeShorthand } from "./shorthand.js";

export const methodIds = ["reagent", "loo", "random", "context_cite"] as const;
export type MethodId = (typeof methodIds)[number];

export const modeIds = ["joint", "reference"] as const;
export type ModeId = (typeof modeIds)[number];

/** B by feature level: 16 as inseq for tokens; 4 for units, where B·min_steps would otherwise dominate the cost. */
export const TOKEN_LEVEL_PROBES = 16;
export const UNIT_LEVEL_PROBES = 4;

export const reagentMethodSchema = z
  .object({
    type: z.literal("reagent"),
    mode: z
      .enum(modeIds)
      .default("joint")
      .describe("reagent: joint: one teacher-forced pass scores every completion position per probe step; reference: the published per-target loop"),
    num_probes: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(`reagent: B, independent probes per target token. Default ${TOKEN_LEVEL_PROBES} at token level, ${UNIT_LEVEL_PROBES} at unit level (few features need fewer walks; docs/attribution.md)`),
    replacing_ratio: z.number().gt(0).lt(1).default(0.3).describe("reagent: r, the Bernoulli probability that a feature (token or unit) is replaced in an update step"),
    max_steps: z.number().int().min(1).default(3000).describe("reagent: T_max, the step cap per probe"),
    clamp_eps: z.number().gt(0).lt(0.1).default(1e-6).describe("reagent: Δp is clamped to (-1+eps, 1-eps) before atanh (a documented deviation: the original gives ±inf)"),
  })
  .strict()
  .describe("ReAGent (Zhao & Shan 2024): probes of logit-space scores moved by random replacements");

export const looMethodSchema = z
  .object({
    type: z.literal("loo"),
    samples: z.number().int().min(1).default(1).describe("loo: replacement draws averaged per feature (token or unit)"),
  })
  .strict()
  .describe("Leave-one-out occlusion baseline: replace one feature (a token, or a whole unit) at a time");

export const randomMethodSchema = z.object({ type: z.literal("random") }).strict().describe("Random attribution, the baseline ReAGent's metrics normalise by");

export const contextCiteMethodSchema = z
  .object({
    type: z.literal("context_cite"),
    ablations: z.number().int().min(2).default(64).describe("context_cite: random ablation masks, one teacher-forced sequence each (ContextCite's default 64; its paper reports 32 already matches the baselines)"),
    keep_prob: z.number().gt(0).lt(1).default(0.5).describe("context_cite: probability that a feature is kept in an ablation mask"),
    lasso_alpha: z.number().min(0).default(0.01).describe("context_cite: L1 penalty of the sparse linear surrogate, on standardised masks (ContextCite: 0.01)"),
  })
  .strict()
  .describe("ContextCite-style baseline (Cohen-Wang et al. 2024): random feature ablations and a Lasso surrogate of each target's logit-probability");

export const methodSettingsSchema = z.discriminatedUnion("type", [reagentMethodSchema, looMethodSchema, randomMethodSchema, contextCiteMethodSchema]);
/** Resolved: the probe count is explicit. */
export const resolvedMethodSchema = z.discriminatedUnion("type", [
  reagentMethodSchema.extend({ num_probes: z.number().int().min(1) }),
  looMethodSchema,
  randomMethodSchema,
  contextCiteMethodSchema,
]);
export const methodSchema = withTypeShorthand(methodSettingsSchema).describe(
  "Attribution method: reagent | loo | random | context_cite, or an object with `type` and that method's knobs",
);

export type MethodSettings = z.infer<typeof resolvedMethodSchema>;
export type ReagentSettings = Extract<MethodSettings, { type: "reagent" }>;
export type LooSettings = z.infer<typeof looMethodSchema>;
export type ContextCiteSettings = z.infer<typeof contextCiteMethodSchema>;
