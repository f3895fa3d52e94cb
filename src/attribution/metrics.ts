/**
 * Metrics for judging attributions without a human: ground-truth recall on items whose causal
 * tokens are known by construction, agreement between two attributions of the same target, and
 * black-box deletion faithfulness (DeYoung et al.-style comprehensiveness and sufficiency, which
 * need only p(target | modified ids): reference/reagent.md §4.7).
 */
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { SettingsMismatchError } from "../errors.js";
import type { CountingScorer } from "./scorer.js";
import { spearman, topKOverlap, topNIndices } from "./vector-math.js";

export interface CharSpan {
  readonly start: number;
  readonly end: number;
}

/** Prompt token indices whose characters overlap any of `spans`. */
export function tokensInSpans(result: AttributionResult, spans: readonly CharSpan[]): Set<number> {
  const out = new Set<number>();
  result.prompt.tokens.forEach((t, i) => {
    if (t.end <= t.start) return;
    if (spans.some((s) => t.start < s.end && s.start < t.end)) out.add(i);
  });
  return out;
}

/** The first target's importance over prompt positions only (the answer's first token drives the answer). */
export function firstTargetPromptRow(result: AttributionResult): number[] {
  const row = result.targets[0]?.importance ?? [];
  return row.slice(0, result.prompt.tokens.length);
}

/**
 * Recall@k: whether a causal prompt token is among the k highest-ranked replaceable prompt
 * tokens of the first target's row.
 */
export function causalRecallAtK(result: AttributionResult, causal: readonly CharSpan[], k: number): boolean {
  const row = firstTargetPromptRow(result);
  const mask = result.prompt.tokens.map((t) => !t.protected);
  const top = topNIndices(row, k, mask);
  const want = tokensInSpans(result, causal);
  return top.some((i) => want.has(i));
}

export interface Agreement {
  readonly spearman: number;
  readonly top5Overlap: number;
}

/** Per-target agreement of two results of the same input (e.g. joint vs reference mode). */
export function targetAgreement(a: AttributionResult, b: AttributionResult): Agreement[] {
  if (a.prompt.tokens.length !== b.prompt.tokens.length || a.targets.length !== b.targets.length) {
    throw new SettingsMismatchError({ what: "comparing two attributions", why: "they attribute different inputs", keys: ["prompt", "targets"] });
  }
  return a.targets.map((ta, i) => {
    const tb = b.targets[i];
    const ia = ta.importance;
    const ib = tb?.importance ?? [];
    const mask = ia.map((_, j) => {
      const tok = j < a.prompt.tokens.length ? a.prompt.tokens[j] : a.completion.tokens[j - a.prompt.tokens.length];
      return tok ? !tok.protected : true;
    });
    const ma = ia.filter((_, j) => mask[j]);
    const mb = ib.filter((_, j) => mask[j]);
    return { spearman: spearman(ma, mb), top5Overlap: topKOverlap(ia, ib, 5, mask) };
  });
}

export interface DeletionFaithfulness {
  /** Mean over targets of p(y) − p(y | top-k% replaced): higher = the attribution found what matters. */
  readonly comprehensiveness: number;
  /** Mean over targets of p(y) − p(y | only top-k% kept): lower = the kept tokens suffice. */
  readonly sufficiency: number;
}

/**
 * Deletion faithfulness with the attribution's own sampler-free replacement: the chosen tokens
 * are replaced by `fillId` (e.g. a pad or unknown-ish id). Teacher forcing scores every target in
 * one sequence per condition, so it costs 2 sequences per record.
 */
export async function deletionFaithfulness(
  result: AttributionResult,
  scorer: CountingScorer,
  fillId: number,
  fraction = 0.2,
): Promise<DeletionFaithfulness> {
  const P = result.prompt.tokens.length;
  const ids = [...result.prompt.tokens.map((t) => t.id), ...result.completion.tokens.map((t) => t.id)];
  const mask = result.prompt.tokens.map((t) => !t.protected);
  const replaceable = mask.filter(Boolean).length;
  const k = Math.max(1, Math.round(fraction * replaceable));
  const top = new Set(topNIndices(result.sequence.importance, k, mask));
  const removed = ids.map((id, i) => (i < P && top.has(i) ? fillId : id));
  const keptOnly = ids.map((id, i) => (i < P && mask[i] && !top.has(i) ? fillId : id));
  const positions = result.targets.map((t) => P + t.index);
  const [comp, suff] = await scorer.score(
    [
      { ids: removed, positions },
      { ids: keptOnly, positions },
    ],
    { topK: 1 },
  );
  const p = (s: typeof comp, j: number): number => Math.exp(s?.positions[j]?.logprob ?? -Infinity);
  let c = 0;
  let s = 0;
  result.targets.forEach((t, j) => {
    c += t.p_original - p(comp, j);
    s += t.p_original - p(suff, j);
  });
  const n = Math.max(1, result.targets.length);
  return { comprehensiveness: c / n, sufficiency: s / n };
}
