/**
 * `engine.stopping`: when ReAGent stops probing a target. Three rules (docs/attribution.md):
 *
 * - `probe`: as published. Each probe is checked after each update: keep its top-n features,
 *   replace the rest, stop once the target is in the model's top-k. Reference mode's only rule.
 * - `ensemble` (joint mode's default, a measured deviation): one check per target per step on
 *   its probes' mean after `min_steps` updates; all its probes stop together.
 * - `restore` (a deviation for real models and long prompts): the check runs only once the
 *   target's top features have been stable for `stable_steps` steps (stability is free: no model
 *   call), keeps max(keep_top_n, keep_fraction · features) features, and passes when the kept
 *   context restores `restore` of the log-evidence the prompt adds to the target over no prompt
 *   (relative to its own p_orig), or keeps it in the top-k (the published criterion). A target
 *   with p_orig = 0.012 can pass; one in the top-k cannot be required to do better than it did.
 */
import { z } from "zod";
import { withTypeShorthand } from "./shorthand.js";

export const stoppingIds = ["probe", "ensemble", "restore"] as const;
export type StoppingId = (typeof stoppingIds)[number];

const keepTopN = z.number().int().min(1).default(5).describe("n: features (tokens or units) kept in the stopping check");
const topK = z.number().int().min(1).default(3).describe("k: the check passes once the target is in the model's top-k");
const patience = (dflt: number) =>
  z
    .number()
    .int()
    .min(0)
    .default(dflt)
    .describe("Joint mode: give a target up after this many steps when none of its probes converged (converged: false, mean over all probes); 0 = only max_steps. Defaults: probe 0, ensemble 100, restore 100");

export const probeStoppingSchema = z
  .object({
    type: z.literal("probe"),
    keep_top_n: keepTopN,
    top_k: topK,
    check_every: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("probe, joint mode: check a probe after every this-many updates it received (1 = as published; larger values save checks but measured to lower recall)"),
    min_steps: z.number().int().min(0).default(0).describe("No check before a probe (ensemble, restore: every probe of the target) received this many updates. Defaults: probe 0 (as published), ensemble 50, restore 10"),
    patience: patience(0),
  })
  .strict()
  .describe("As published: every probe checked on its own top-n after each update");

/** Joint mode's default ensemble rule: 50 updates before the first check (docs/benchmarks.md). */
export const JOINT_DEFAULT_MIN_STEPS = 50;

export const ensembleStoppingSchema = z
  .object({
    type: z.literal("ensemble"),
    keep_top_n: keepTopN,
    top_k: topK,
    min_steps: z.number().int().min(0).default(JOINT_DEFAULT_MIN_STEPS).describe("No check before every probe of the target received this many updates"),
    patience: patience(2 * JOINT_DEFAULT_MIN_STEPS),
  })
  .strict()
  .describe("Joint mode: one check per target per step on the top-n of its probes' mean; all its probes stop together");

export const restoreStoppingSchema = z
  .object({
    type: z.literal("restore"),
    keep_top_n: keepTopN,
    keep_fraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("restore: keep at least this share of the target's features in the check, so n grows with the context (n kept tokens out of 1,000 restore nothing)"),
    top_k: topK,
    restore: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        "restore: pass when the kept features alone recover this share of the log-evidence the prompt adds, (ln p_kept − ln p_no_prompt) / (ln p_orig − ln p_no_prompt) (or keep the target in the top-k); 0 = stop on stability alone (no check sequences)",
      ),
    stable_steps: z.number().int().min(1).default(5).describe("restore: check only after the top kept features were unchanged for this many consecutive steps"),
    stable_ranks: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("restore: the order of the top this-many features must hold for stable_steps steps too (0 = only the set of the top keep_top_n). Unit level default 3: with a handful of units the set alone says nothing"),
    min_steps: z.number().int().min(0).default(10).describe("No check before every probe of the target received this many updates"),
    patience: patience(100),
  })
  .strict()
  .describe("Joint mode: check when the target's top features are stable; pass when keeping them restores a share of its own original probability");

export const stoppingSettingsSchema = z.discriminatedUnion("type", [probeStoppingSchema, ensembleStoppingSchema, restoreStoppingSchema]);
export const stoppingSchema = withTypeShorthand(stoppingSettingsSchema).describe(
  "ReAGent stopping rule: probe | ensemble | restore, or an object with `type` and its knobs. Default: ensemble in joint mode, probe in reference mode",
);

export type StoppingSettings = z.infer<typeof stoppingSettingsSchema>;
export type RestoreStopping = z.infer<typeof restoreStoppingSchema>;

/** Features kept by a check over `features` features: n, or the configured share when that is larger. */
export function keptCount(rule: StoppingSettings, features: number): number {
  const share = rule.type === "restore" ? Math.ceil(rule.keep_fraction * features) : 0;
  return Math.max(rule.keep_top_n, share);
}
