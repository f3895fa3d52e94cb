/**
 * Baselines scored with the same scorer and sampler as ReAGent, for comparison. Both work on
 * tokens or, with `units`, on units replaced as wholes (features.ts).
 *
 * - random: softmax(U[0,1)^F) per target over its features, the random attribution ReAGent's
 *   metrics normalise by (reference/reagent.md §4.5). No model call beyond the original
 *   probabilities.
 * - loo (leave-one-out occlusion; leave-one-unit-out with units): replace one feature with the
 *   sampler's draws and measure the target's probability drop; importance ∝ max(0, Δp),
 *   averaged over `samples` draws, normalised to sum 1 (uniform when nothing lowered the
 *   target). One teacher-forced sequence per feature scores every later target at once.
 */
import { layoutFor, type FeatureLayout } from "./features.js";
import type { MethodDeps, MethodOutput, TargetAttribution, TargetsInput } from "./targets.js";
import { probabilityOf, samplerContext } from "./targets.js";
import { unperturbedPass } from "./unperturbed.js";
import { maskedSoftmax, meanRows, normalise } from "./vector-math.js";

export async function randomAttribution(input: TargetsInput, deps: MethodDeps): Promise<MethodOutput> {
  const base = await unperturbedPass(input, deps, false);
  const layout = layoutFor(input);
  const slotRows: Float64Array[] = [];
  const targets: TargetAttribution[] = input.targets.map((t) => {
    const L = input.promptLength + t;
    const rng = deps.rng.fork(`random:${t}`);
    const F = layout.slotsBefore(L);
    const z = Float64Array.from({ length: F }, () => rng.next());
    const replaceable = layout.replaceable.slice(0, F);
    const slots = replaceable.some(Boolean) ? maskedSoftmax(z, replaceable) : new Float64Array(F).fill(1 / Math.max(1, F));
    slotRows.push(slots);
    return {
      index: t,
      tokenId: input.ids[L] as number,
      importance: layout.spread(slots, L),
      pOriginal: base.pOriginal[t] as number,
      converged: true,
      probesConverged: 0,
      probesTotal: 0,
      steps: 0,
    };
  });
  return { targets, warnings: [], ...unitScores(layout, slotRows) };
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
  const layout = layoutFor(input);
  const rng = deps.rng.fork("loo");
  const opts = { topK: 1, ...(deps.signal ? { signal: deps.signal } : {}) };

  // drops[t][k]: summed positive Δp of target t when feature k was replaced.
  const drops = input.targets.map((t) => new Float64Array(layout.slotsBefore(P + t)));
  const slots: number[] = [];
  for (let k = 0; k < layout.slotsBefore(seqLen - 1); k++) if (layout.replaceable[k]) slots.push(k);
  const unchanged = (ids: readonly number[] | undefined, k: number): boolean => layout.positionsOf(k).every((p) => ids?.[p] === seq[p]);

  for (let s = 0; s < samples; s++) {
    const reqs = slots.map((k) => ({ ids: seq, replace: layout.expand(slotMask(layout.slots, k), seqLen) }));
    const perturbed = await deps.sampler.sample(reqs, rng, sctx);
    // A draw equal to the original occludes nothing; redraw those a few times.
    for (let attempt = 0; attempt < 4; attempt++) {
      const same = slots.map((k, j) => ({ k, j })).filter(({ k, j }) => unchanged(perturbed[j], k));
      if (same.length === 0) break;
      const again = await deps.sampler.sample(
        same.map(({ j }) => reqs[j] as (typeof reqs)[number]),
        rng,
        sctx,
      );
      same.forEach(({ j }, m) => {
        perturbed[j] = again[m] as number[];
      });
    }
    const lastPos = (k: number): number => Math.max(...layout.positionsOf(k));
    const scoreReqs = slots.map((k, j) => ({
      ids: perturbed[j] as number[],
      // Targets whose context contains the feature, except the one whose own slot it is.
      positions: input.targets.map((t) => P + t).filter((pos) => pos > lastPos(k)),
    }));
    const scored = await deps.scorer.score(scoreReqs, opts);
    slots.forEach((k, j) => {
      const byPos = new Map((scored[j]?.positions ?? []).map((p) => [p.position, p]));
      input.targets.forEach((t, ti) => {
        const pos = P + t;
        if (pos <= lastPos(k)) return;
        const p = probabilityOf(byPos.get(pos)?.logprob ?? null, `scoring leave-one-out of feature ${k}`);
        const row = drops[ti] as Float64Array;
        row[k] = (row[k] as number) + Math.max(0, (base.pOriginal[t] as number) - p);
      });
    });
  }
  const slotRows: Float64Array[] = [];
  const targets: TargetAttribution[] = input.targets.map((t, ti) => {
    const L = P + t;
    const row = normalise(drops[ti] as Float64Array, layout.replaceable.slice(0, layout.slotsBefore(L)));
    slotRows.push(row);
    return {
      index: t,
      tokenId: input.ids[L] as number,
      importance: layout.spread(row, L),
      pOriginal: base.pOriginal[t] as number,
      converged: true,
      probesConverged: 0,
      probesTotal: 0,
      steps: samples,
    };
  });
  return { targets, warnings: [], ...unitScores(layout, slotRows) };
}

function slotMask(n: number, k: number): boolean[] {
  const m = new Array<boolean>(n).fill(false);
  m[k] = true;
  return m;
}

/** Unit level: each unit's mean share over targets, for the result's `units`. */
export function unitScores(layout: FeatureLayout, slotRows: readonly Float64Array[]): Pick<MethodOutput, "units"> {
  if (layout.kind !== "unit") return {};
  return { units: { scores: Array.from(meanRows(slotRows, layout.slots)), refined: [] } };
}
