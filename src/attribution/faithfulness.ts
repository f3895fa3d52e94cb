/**
 * Per-record faithfulness, black-box and within a call budget (docs/attribution.md): does
 * replacing the features the attribution ranks highest hurt the completion more than replacing
 * random features of the same count, and does keeping only them help it more?
 *
 * Features are the record's units at unit level, else its replaceable prompt tokens; their score
 * is the sequence importance summed over their tokens; the top ones are the best
 * max(1, round(top_fraction · features)). Every condition is one teacher-forced sequence that
 * scores every attributed target at once; replaced features get sampler draws (as in ReAGent),
 * so no out-of-vocabulary filler is involved. Per target, a drop is relative to its own
 * p_orig, max(0, 1 − p_condition / p_orig), so a target with p_orig = 0.012 weighs as much as one
 * with 0.9; drops are averaged over targets.
 *
 * - comprehensiveness: drop when the top features are replaced (higher: they mattered);
 * - sufficiency: drop when only the top features are kept (lower: they suffice);
 * - *_random: the same with random features of the same count, averaged over draws;
 * - *_ln_ratio: ln(comprehensiveness / random) and ln(random sufficiency / sufficiency), the
 *   ReAGent paper's way of reporting against random (reference/reagent.md §4.5): > 0 means
 *   better than random, on both.
 * Cost: `budget` sequences: 2 for the top features, (budget − 2) / 2 random draws per metric.
 */
import type { FaithfulnessSettings } from "./config.js";
import type { Rng } from "./rng.js";
import type { TokenSampler, SamplerRecordContext } from "./samplers/sampler.js";
import type { CountingScorer } from "./scorer.js";
import { topNIndices } from "./vector-math.js";

export interface FaithfulnessInput {
  /** prompt ++ completion ids. */
  readonly ids: readonly number[];
  readonly promptLength: number;
  /** Prompt positions grouped into features (units, or one replaceable token each). */
  readonly features: readonly (readonly number[])[];
  /** Sequence importance per prompt position. */
  readonly importance: ArrayLike<number>;
  /** Attributed targets: completion index and original probability. */
  readonly targets: readonly { readonly index: number; readonly pOriginal: number }[];
}

/** Relative drops below this count as this (keeps the ln-ratios finite when nothing moved). */
const FLOOR = 0.01;

export async function deletionFaithfulness(
  input: FaithfulnessInput,
  settings: Extract<FaithfulnessSettings, { type: "deletion" }>,
  deps: { scorer: CountingScorer; sampler: TokenSampler; rng: Rng; samplerContext: SamplerRecordContext; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const F = input.features.length;
  const P = input.promptLength;
  if (F === 0 || input.targets.length === 0) return {};
  const before = deps.scorer.cost.sequencesEvaluated;
  const last = Math.max(...input.targets.map((t) => t.index));
  const seq = input.ids.slice(0, P + last + 1);
  const positions = input.targets.map((t) => P + t.index);
  const scores = input.features.map((f) => f.reduce((s, p) => s + (input.importance[p] ?? 0), 0));
  const k = Math.max(1, Math.min(F, Math.round(settings.top_fraction * F)));
  const top = new Set(topNIndices(scores, k));
  const draws = Math.max(1, Math.floor((settings.budget - 2) / 2));
  const randomSets = Array.from({ length: draws }, () => new Set(sampleWithoutReplacement(F, k, deps.rng)));

  // Conditions: which features are replaced.
  const conditions: ReadonlySet<number>[] = [
    top, // comprehensiveness
    complement(F, top), // sufficiency
    ...randomSets, // comprehensiveness, random
    ...randomSets.map((s) => complement(F, s)), // sufficiency, random
  ];
  const requests = conditions.map((replaced) => {
    const mask = new Array<boolean>(seq.length).fill(false);
    for (const f of replaced) for (const p of input.features[f] ?? []) mask[p] = true;
    return { ids: seq, replace: mask };
  });
  const perturbed = await deps.sampler.sample(requests, deps.rng, deps.samplerContext);
  const scored = await deps.scorer.score(
    perturbed.map((ids) => ({ ids, positions })),
    { topK: 1, ...(deps.signal ? { signal: deps.signal } : {}) },
  );
  const drop = (c: number): number => {
    const s = scored[c];
    let sum = 0;
    input.targets.forEach((t, j) => {
      const lp = s?.positions[j]?.logprob;
      const p = lp === null || lp === undefined ? 0 : Math.exp(lp);
      sum += t.pOriginal > 0 ? Math.max(0, 1 - p / t.pOriginal) : 0;
    });
    return sum / input.targets.length;
  };
  const meanOf = (from: number, n: number): number => Array.from({ length: n }, (_, i) => drop(from + i)).reduce((a, b) => a + b, 0) / n;
  const comp = drop(0);
  const suff = drop(1);
  const compRandom = meanOf(2, draws);
  const suffRandom = meanOf(2 + draws, draws);
  return {
    comprehensiveness: comp,
    comprehensiveness_random: compRandom,
    comprehensiveness_ln_ratio: Math.log(Math.max(comp, FLOOR) / Math.max(compRandom, FLOOR)),
    sufficiency: suff,
    sufficiency_random: suffRandom,
    sufficiency_ln_ratio: Math.log(Math.max(suffRandom, FLOOR) / Math.max(suff, FLOOR)),
    faithfulness_top_features: k,
    faithfulness_sequences: deps.scorer.cost.sequencesEvaluated - before,
  };
}

function complement(n: number, s: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < n; i++) if (!s.has(i)) out.add(i);
  return out;
}

function sampleWithoutReplacement(n: number, k: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, k);
}

/** |top-3(a) ∩ top-3(b)| / 3 over replaceable prompt positions: the per-record seed-stability check. */
export function topOverlap(a: ArrayLike<number>, b: ArrayLike<number>, mask: readonly boolean[], k = 3): number {
  const ta = new Set(topNIndices(a, k, mask));
  const tb = topNIndices(b, k, mask);
  if (tb.length === 0) return 1;
  return tb.filter((i) => ta.has(i)).length / tb.length;
}
