/**
 * Engine settings: one zod schema that validates, fills defaults and documents every knob.
 * Defaults are inseq's ReAGent defaults (reference/reagent.md §2.9): r=0.3, n=5, k=3,
 * T_max=3000, B=16. The hash of the resolved settings keys results (attribution id, dedup).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { parseConfig } from "../config-issues.js";

export const methodIds = ["reagent", "loo", "random"] as const;
export type MethodId = (typeof methodIds)[number];

export const modeIds = ["joint", "reference"] as const;
export type ModeId = (typeof modeIds)[number];

export const samplerIds = ["uniform", "pos", "mlm", "self"] as const;
export type SamplerId = (typeof samplerIds)[number];

export const samplerDescriptions: Record<SamplerId, string> = {
  uniform: "a uniformly random vocabulary token (never a special token)",
  pos: "a random token with the same part-of-speech tag, as in the released ReAGent code (POS table built per tokenizer, cached on disk)",
  mlm: "a masked LM's prediction for the masked token, mapped back into the target vocabulary, as the ReAGent paper describes (RoBERTa-style)",
  self: "one of the target model's own top-k predictions for that position, from the unperturbed pass",
};

export const engineConfigSchema = z
  .object({
    method: z.enum(methodIds).default("reagent").describe("reagent: the ReAGent method; loo: leave-one-out occlusion baseline; random: random-attribution baseline"),
    mode: z
      .enum(modeIds)
      .default("joint")
      .describe("joint: one teacher-forced pass scores every completion position per probe step; reference: the published per-target loop"),
    sampler: z.enum(samplerIds).default("pos").describe("How replacement tokens are drawn"),
    replacing_ratio: z.number().gt(0).lt(1).default(0.3).describe("r: Bernoulli probability that a position is replaced in an update step"),
    keep_top_n: z.number().int().min(1).default(5).describe("n: positions kept in the stopping check"),
    stopping_top_k: z.number().int().min(1).default(3).describe("k: a probe stops once the target is in the model's top-k"),
    max_steps: z.number().int().min(1).default(3000).describe("T_max: step cap per probe"),
    num_probes: z.number().int().min(1).default(16).describe("B: independent probes per target token"),
    seed: z.number().int().min(0).default(42).describe("Random seed; the same seed, input and settings give the same result"),
    clamp_eps: z.number().gt(0).lt(0.1).default(1e-6).describe("Δp is clamped to (-1+eps, 1-eps) before atanh (a documented deviation: the original gives ±inf)"),
    check_every: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        "Joint mode: run a probe's stopping check after every this-many updates it received. 1 = after every update, as published (reference mode always does). Larger values save checks but let extra updates reshuffle a probe that could have stopped: measured to lower recall (docs/attribution.md)",
      ),
    stopping: z
      .enum(["probe", "ensemble"])
      .optional()
      .describe(
        "`probe` checks every probe on its own top-n (as published; reference mode always does); `ensemble` (a deviation, joint mode only) checks each target once per step on the top-n of its probes' mean and stops all its probes together. Default: ensemble in joint mode (measured: equal recall at a fraction of the sequences, docs/benchmarks.md), probe in reference mode",
      ),
    min_steps: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Joint mode: no stopping check before a probe (with ensemble stopping: every probe of the target) received this many updates, so the importance rests on at least that much evidence (0 = check from the first update, as published). Default: 50 in joint mode with ensemble stopping, else 0",
      ),
    patience: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Joint mode: give a target up after this many steps when none of its probes converged (converged: false, mean over all probes, as at T_max); 0 = only T_max. Default: twice min_steps",
      ),
    aggregation: z
      .enum(["probes", "pooled"])
      .default("probes")
      .describe(
        "How a target's probes become its importance: `probes` averages softmax(z) over the converged probes (as published; reference mode always does); `pooled` (a deviation, joint mode only) takes softmax of their mean z, i.e. one score carrying every probe's updates (docs/attribution.md)",
      ),
    max_targets: z.number().int().min(1).default(64).describe("Attribute at most this many completion tokens (the first ones)"),
    mlm_top_k: z.number().int().min(1).default(5).describe("mlm sampler: draw among the masked LM's top-k predictions (1 = argmax)"),
    self_top_k: z.number().int().min(1).default(5).describe("self sampler: draw among the target model's top-k predictions"),
    loo_samples: z.number().int().min(1).default(1).describe("loo baseline: replacement draws averaged per position"),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const eff = stoppingRule(cfg);
    if (eff.patience > 0 && eff.patience <= eff.min_steps) {
      ctx.addIssue({ code: "custom", path: ["patience"], message: `patience ${eff.patience} would give every target up before its first stopping check (min_steps ${eff.min_steps})` });
    }
    // Reference mode is the published loop: a joint-only deviation set with it would be silently ignored.
    if (cfg.method !== "reagent" || cfg.mode !== "reference") return;
    if (cfg.check_every !== 1) ctx.addIssue({ code: "custom", path: ["check_every"], message: "check_every applies to joint mode only; reference mode checks every probe after every update" });
    if ((cfg.min_steps ?? 0) !== 0) ctx.addIssue({ code: "custom", path: ["min_steps"], message: "min_steps applies to joint mode only; reference mode checks after every update" });
    if ((cfg.patience ?? 0) !== 0) ctx.addIssue({ code: "custom", path: ["patience"], message: "patience applies to joint mode only; reference mode stops at max_steps" });
    if (cfg.aggregation !== "probes") ctx.addIssue({ code: "custom", path: ["aggregation"], message: "aggregation: pooled applies to joint mode only; reference mode averages its converged probes as published" });
    if ((cfg.stopping ?? "probe") !== "probe") ctx.addIssue({ code: "custom", path: ["stopping"], message: "stopping: ensemble applies to joint mode only; use mode: joint" });
  });

type ParsedEngineConfig = z.infer<typeof engineConfigSchema>;
type StoppingRule = { stopping: "probe" | "ensemble"; min_steps: number; patience: number };
/** Resolved settings: the stopping rule is always explicit, so every result says which one produced it. */
export type EngineConfig = Omit<ParsedEngineConfig, keyof StoppingRule> & StoppingRule;
export type EngineConfigInput = z.input<typeof engineConfigSchema>;

/** Joint mode's default: ensemble checks after 50 updates (docs/benchmarks.md: equal recall, 7.4x fewer sequences than reference mode). */
export const JOINT_DEFAULT_MIN_STEPS = 50;

/** The stopping rule a configuration runs with: what was set, else its mode's default. */
export function stoppingRule(cfg: Pick<ParsedEngineConfig, "method" | "mode" | keyof StoppingRule>): StoppingRule {
  const joint = cfg.method === "reagent" && cfg.mode === "joint";
  const stopping = cfg.stopping ?? (joint ? "ensemble" : "probe");
  const min_steps = cfg.min_steps ?? (joint && stopping === "ensemble" ? JOINT_DEFAULT_MIN_STEPS : 0);
  return { stopping, min_steps, patience: cfg.patience ?? (joint ? 2 * min_steps : 0) };
}

export function resolveEngineConfig(input: EngineConfigInput = {}): EngineConfig {
  const parsed = parseConfig(engineConfigSchema, input, { what: "resolving the engine settings" });
  return { ...parsed, ...stoppingRule(parsed) };
}

/** Keys whose values change results: everything but `max_targets` changes only how much is attributed, so it is hashed too. */
export function configHash(cfg: EngineConfig, extra: Record<string, unknown> = {}): string {
  const stable = JSON.stringify(sortKeys({ ...cfg, ...extra }));
  return createHash("sha256").update(stable).digest("hex").slice(0, 16);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}
