/**
 * ContextCite-style baseline (Cohen-Wang et al., NeurIPS 2024; reference/attribution-peers.md
 * §3.1), on the same features and sampler as ReAGent: `ablations` random masks keep each
 * feature with probability `keep_prob` (the others are replaced by sampler draws rather than
 * deleted, so positions stay aligned); one teacher-forced sequence per mask scores every
 * target; per target, a Lasso surrogate of its logit-probability ln p − ln(1 − p) on the keep
 * indicators gives one weight per feature. Importance ∝ max(0, weight), normalised (uniform,
 * `converged: false`, when no feature has a positive weight). Features: units when the input
 * has them, else the replaceable prompt tokens. Cost: 1 + ablations sequences.
 */
import { ConfigError } from "../errors.js";
import { unitScores } from "./baselines.js";
import { unitLayout } from "./features.js";
import { lasso } from "./lasso.js";
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "./targets.js";
import { probabilityOf, samplerContext } from "./targets.js";
import { unperturbedPass } from "./unperturbed.js";
import { logitProb, normalise } from "./vector-math.js";

export async function contextCite(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const m = deps.config.method;
  if (m.type !== "context_cite") throw new ConfigError({ what: "running the ContextCite-style baseline", why: `the method is ${m.type}`, path: "method" });
  const P = input.promptLength;
  const last = input.targets[input.targets.length - 1];
  if (last === undefined) return { targets: [], warnings: [] };
  const base = await unperturbedPass(input, deps, deps.sampler.id === "self");
  const sctx = samplerContext(input.ids, base.topKByPosition);
  const seqLen = P + last + 1;
  const seq = input.ids.slice(0, seqLen);
  // Sources are prompt features only (ContextCite ablates the context, never the response).
  const features = input.units ?? input.replaceable.slice(0, P).flatMap((r, i) => (r ? [[i]] : []));
  const layout = unitLayout(features);
  const rng = deps.rng.fork("context_cite");
  const opts = { topK: 1, ...(deps.signal ? { signal: deps.signal } : {}) };

  const keeps = Array.from({ length: m.ablations }, () => features.map(() => (rng.next() < m.keep_prob ? 1 : 0)));
  const perturbed = await deps.sampler.sample(
    keeps.map((keep) => ({ ids: seq, replace: layout.expand(keep.map((k) => k === 0), seqLen) })),
    rng,
    sctx,
  );
  const positions = input.targets.map((t) => P + t);
  const scored = await deps.scorer.score(
    perturbed.map((ids) => ({ ids, positions })),
    opts,
  );
  const warnings: string[] = [];
  const slotRows: Float64Array[] = [];
  const targets: TargetAttribution[] = input.targets.map((t, ti) => {
    const pos = P + t;
    const y = scored.map((s, a) => logitProb(probabilityOf(s.positions[ti]?.logprob ?? null, `scoring ablation ${a} at position ${pos}`)));
    const fit = lasso(keeps, y, m.lasso_alpha);
    const positive = Float64Array.from(fit.weights, (w) => Math.max(0, w));
    const converged = positive.some((w) => w > 0);
    if (!converged) warnings.push(`target ${t}: no feature has a positive surrogate weight; importance is uniform`);
    const row = normalise(positive, layout.replaceable);
    slotRows.push(row);
    return {
      index: t,
      tokenId: input.ids[pos] as number,
      importance: layout.spread(row, pos),
      pOriginal: base.pOriginal[t] as number,
      converged,
      probesConverged: 0,
      probesTotal: 0,
      steps: m.ablations,
    };
  });
  return { targets, warnings, ...(input.units ? unitScores(layout, slotRows) : {}) };
}
