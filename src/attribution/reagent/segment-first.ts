/**
 * Segment-first (hierarchical) ReAGent, for long prompts (docs/attribution.md):
 *
 * 1. Units: the joint loop runs with one feature per unit (sentence, message, retrieved
 *    document, …), each replaced as a whole by sampler draws. A 2,000-token prompt of 12
 *    documents has 12 scores per probe, so the number of steps to a stable ranking depends on
 *    the number of units, not on the number of tokens.
 * 2. Tokens: when `units.refine_top` > 0, a second token-level joint loop runs over the tokens
 *    of the top units only (by the completion's mean unit share); every other position stays as
 *    it is. Its scores divide each refined unit's share among that unit's tokens. It runs within
 *    `units.refine_max_steps` steps: on SmolLM2 the token loop inside a 100-token document rarely
 *    settles before patience and cost 2-3x the unit stage (docs/benchmarks.md), so it is a
 *    budgeted split of a converged unit ranking. The record's convergence is the unit stage's;
 *    a refinement that stopped at its budget says so in a warning.
 *
 * The result keeps the token contract: per target, a unit's share is its tokens' sum (shared
 * evenly inside units that were not refined), and the vector sums to 1 over the prompt.
 * Completion tokens are never replaced here, so each target is explained by the prompt alone.
 */
import { reagentSettings } from "../config.js";
import { tokenLayout, unitLayout } from "../features.js";
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "../targets.js";
import type { UnperturbedPass } from "../unperturbed.js";
import { meanRows, topNIndices } from "../vector-math.js";
import { jointLoop } from "./joint.js";

export async function segmentFirst(input: TargetsInput, units: readonly (readonly number[])[], deps: MethodDeps, base: UnperturbedPass): Promise<MethodOutput> {
  const cfg = deps.config;
  const coarse = await jointLoop(input, unitLayout(units), deps, base);
  const scores = meanRows(
    coarse.targets.map((t) => t.slotImportance),
    units.length,
  );
  const refineTop = cfg.units.type === "token" ? 0 : Math.min(cfg.units.refine_top, units.length);
  const warnings = coarse.warnings.map((w) => `units: ${w}`);
  if (refineTop === 0) return { targets: coarse.targets.map(strip), warnings, units: { scores: Array.from(scores), refined: [] } };

  const refined = topNIndices(scores, refineTop).sort((a, b) => a - b);
  const inside = new Set(refined.flatMap((k) => units[k] ?? []));
  const fineInput: TargetsInput = {
    ids: input.ids,
    promptLength: input.promptLength,
    targets: input.targets,
    replaceable: input.replaceable.map((r, i) => r && inside.has(i)),
  };
  const budget = cfg.units.type === "token" ? 0 : cfg.units.refine_max_steps;
  const fineDeps: MethodDeps = { ...deps, rng: deps.rng.fork("refine"), config: budget > 0 ? withStepCap(cfg, budget) : cfg };
  const fine = await jointLoop(fineInput, tokenLayout(fineInput), fineDeps, base);
  warnings.push(...fine.warnings.map((w) => `tokens: ${w}`));
  if (budget > 0 && fine.targets.some((t) => !t.converged)) {
    warnings.push(`tokens: the refinement inside the top ${refineTop === 1 ? "unit" : `${refineTop} units`} stopped at its budget of ${budget} steps (units.refine_max_steps) before converging; token shares inside it are indicative, the unit ranking is what converged`);
  }

  const targets = coarse.targets.map((c, j): TargetAttribution => {
    const f = fine.targets[j] as TargetAttribution;
    const row = Float64Array.from(c.importance);
    for (const k of refined) {
      const unit = units[k] ?? [];
      const share = c.slotImportance[k] ?? 0;
      const mass = unit.reduce((s, p) => s + (f.importance[p] ?? 0), 0);
      if (!(mass > 0)) continue; // nothing measured inside: keep the even split
      for (const p of unit) row[p] = (share * (f.importance[p] ?? 0)) / mass;
    }
    return {
      index: c.index,
      tokenId: c.tokenId,
      importance: row,
      pOriginal: c.pOriginal,
      // The unit ranking is the answer at this level; the budgeted refinement only splits it.
      converged: budget > 0 ? c.converged : c.converged && f.converged,
      probesConverged: c.probesConverged + f.probesConverged,
      probesTotal: c.probesTotal + f.probesTotal,
      steps: c.steps + f.steps,
    };
  });
  return { targets, warnings, units: { scores: Array.from(scores), refined } };
}

/** The config with ReAGent's T_max lowered to `steps` (the refinement's budget). */
function withStepCap(cfg: MethodDeps["config"], steps: number): MethodDeps["config"] {
  const m = reagentSettings(cfg);
  return { ...cfg, method: { ...m, max_steps: Math.min(m.max_steps, steps) } };
}

function strip(t: TargetAttribution & { slotImportance?: Float64Array }): TargetAttribution {
  const { slotImportance: _slots, ...rest } = t;
  return rest;
}
