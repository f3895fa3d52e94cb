/**
 * Baselines scored with the same scorer and sampler as ReAGent, for comparison.
 *
 * - random: softmax(U[0,1)^L) per target, the random attribution ReAGent's metrics normalise by
 *   (reference/reagent.md §4.5). No model call beyond the original probabilities.
 * - loo (leave-one-out occlusion): replace one position with the sampler's candidate and measure
 *   the target's probability drop; importance ∝ max(0, Δp), averaged over `loo_samples` draws,
 *   normalised to sum 1 (uniform when nothing lowered the target). One teacher-forced sequence
 *   per context position scores every later target at once.
 */
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "./targets.js";
import { probabilityOf, samplerContext } from "./targets.js";
import { unperturbedPass } from "./unperturbed.js";
import { maskedSoftmax, normalise } from "./vector-math.js";

export async function randomAttribution(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const base = await unperturbedPass(input, deps, false);
  const targets: TargetAttribution[] = input.targets.map((t) => {
    const L = input.promptLength + t;
    const rng = deps.rng.fork(`random:${t}`);
    const z = Float64Array.from({ length: L }, () => rng.next());
    const replaceable = input.replaceable.slice(0, L);
    return {
      index: t,
      tokenId: input.ids[L] as number,
      importance: replaceable.some(Boolean) ? maskedSoftmax(z, replaceable) : new Float64Array(L).fill(1 / Math.max(1, L)),
      pOriginal: base.pOriginal[t] as number,
      converged: true,
      probesConverged: 0,
      probesTotal: 0,
      steps: 0,
    };
  });
  return { targets, warnings: [] };
}

export async function leaveOneOut(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const P = input.promptLength;
  const samples = deps.config.method.type === "loo" ? deps.config.method.samples : 1;
  const base = await unperturbedPass(input, deps, deps.sampler.id === "self");
  const sctx = samplerContext(input.ids, base.topKByPosition);
  const last = input.targets[input.targets.length - 1];
  if (last === undefined) return { targets: [], warnings: [] };
  const seqLen = P + last + 1;
  const seq = input.ids.slice(0, seqLen);
  const rng = deps.rng.fork("loo");
  const opts = { topK: 1, ...(deps.signal ? { signal: deps.signal } : {}) };

  // drops[t][i]: summed positive Δp of target t when position i was replaced.
  const drops = input.targets.map((t) => new Float64Array(P + t));
  const positions: number[] = [];
  for (let i = 0; i < seqLen - 1; i++) if (input.replaceable[i]) positions.push(i);

  for (let s = 0; s < samples; s++) {
    const reqs = positions.map((i) => ({ ids: seq, replace: seq.map((_, k) => k === i) }));
    const perturbed = await deps.sampler.sample(reqs, rng, sctx);
    // A draw equal to the original occludes nothing; redraw those a few times.
    for (let attempt = 0; attempt < 4; attempt++) {
      const same = positions.map((i, j) => ({ i, j })).filter(({ i, j }) => perturbed[j]?.[i] === seq[i]);
      if (same.length === 0) break;
      const again = await deps.sampler.sample(same.map(({ j }) => reqs[j] as (typeof reqs)[number]), rng, sctx);
      same.forEach(({ j }, k) => {
        perturbed[j] = again[k] as number[];
      });
    }
    const scoreReqs = positions.map((i, j) => ({
      ids: perturbed[j] as number[],
      // Targets whose context contains i, except the one whose own slot is i.
      positions: input.targets.map((t) => P + t).filter((pos) => pos > i),
    }));
    const scored = await deps.scorer.score(scoreReqs, opts);
    positions.forEach((i, j) => {
      const byPos = new Map((scored[j]?.positions ?? []).map((p) => [p.position, p]));
      input.targets.forEach((t, ti) => {
        const pos = P + t;
        if (pos <= i) return;
        const p = probabilityOf(byPos.get(pos)?.logprob ?? null, `scoring leave-one-out at position ${i}`);
        const row = drops[ti] as Float64Array;
        row[i] = (row[i] as number) + Math.max(0, (base.pOriginal[t] as number) - p);
      });
    });
  }
  const targets: TargetAttribution[] = input.targets.map((t, ti) => {
    const L = P + t;
    return {
      index: t,
      tokenId: input.ids[L] as number,
      importance: normalise(drops[ti] as Float64Array, input.replaceable.slice(0, L)),
      pOriginal: base.pOriginal[t] as number,
      converged: true,
      probesConverged: 0,
      probesTotal: 0,
      steps: samples,
    };
  });
  return { targets, warnings: [] };
}
