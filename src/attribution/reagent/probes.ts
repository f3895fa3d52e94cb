/**
 * ReAGent's per-target state and its three rules (reference/reagent.md §2.3–2.7): the logit-space
 * update, the top-n keep set of the stopping check, and the aggregation over probes.
 */
import { clamp, maskedSoftmax, meanRows, topNIndices } from "../vector-math.js";
import type { Rng } from "../rng.js";

/** B probes for one target token over a context of `length` positions. */
export class ProbeSet {
  readonly z: Float64Array[];
  readonly stopped: boolean[];
  /** Probes dropped before they converged (joint mode's patience rule): frozen, never counted as converged. */
  readonly retired: boolean[];
  /** Steps each probe ran (updates applied), frozen when it stops. */
  readonly steps: number[];

  constructor(
    readonly length: number,
    readonly replaceable: readonly boolean[],
    numProbes: number,
    rng: Rng,
  ) {
    // z ~ U[0,1) as in the original (torch.rand); protected positions are never read.
    this.z = Array.from({ length: numProbes }, () => {
      const z = new Float64Array(length);
      for (let i = 0; i < length; i++) z[i] = rng.next();
      return z;
    });
    this.stopped = new Array<boolean>(numProbes).fill(false);
    this.retired = new Array<boolean>(numProbes).fill(false);
    this.steps = new Array<number>(numProbes).fill(0);
  }

  get numProbes(): number {
    return this.z.length;
  }

  isLive(b: number): boolean {
    return !this.stopped[b] && !this.retired[b];
  }

  live(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.z.length; b++) if (this.isLive(b)) out.push(b);
    return out;
  }

  convergedCount(): number {
    return this.stopped.filter(Boolean).length;
  }

  /** Every probe converged or was retired: the target needs no more model calls. */
  allStopped(): boolean {
    for (let b = 0; b < this.z.length; b++) if (this.isLive(b)) return false;
    return true;
  }

  /** Drop every live probe without counting it as converged. */
  retireLive(): void {
    for (const b of this.live()) this.retired[b] = true;
  }
}

/**
 * The update rule (§2.4): with d = p_orig − p_replaced, every replaced position gains
 * 2·atanh(d) and every kept one loses it. Deviation (documented): d is clamped to
 * (−1+eps, 1−eps), because the original's logit without eps gives ±inf at |d| = 1.
 */
export function applyUpdate(z: Float64Array, replaced: readonly boolean[], replaceable: readonly boolean[], d: number, eps: number): void {
  const up = 2 * Math.atanh(clamp(d, -1 + eps, 1 - eps));
  for (let i = 0; i < z.length; i++) {
    if (!replaceable[i]) continue;
    z[i] = (z[i] as number) + (replaced[i] ? up : -up);
  }
}

/** Draw the update step's replacement set: each replaceable position independently with probability r (§2.5). */
export function drawReplacement(length: number, replaceable: readonly boolean[], r: number, rng: Rng): boolean[] {
  const out = new Array<boolean>(length);
  for (let i = 0; i < length; i++) out[i] = (replaceable[i] ?? false) && rng.next() < r;
  return out;
}

/**
 * The stopping check's replacement set (§2.6): keep the top-n positions of softmax(z) among
 * replaceable positions, replace every other replaceable position. With n ≥ the number of
 * replaceable positions nothing is replaced, so the check asks only whether the target is in
 * the top-k of the original context.
 */
export function stoppingReplacement(z: Float64Array, replaceable: readonly boolean[], n: number): { replace: boolean[] } {
  const keep = topNIndices(z, n, replaceable);
  const keepSet = new Set(keep);
  const replace = new Array<boolean>(z.length);
  for (let i = 0; i < z.length; i++) replace[i] = (replaceable[i] ?? false) && !keepSet.has(i);
  return { replace };
}

export interface AggregatedImportance {
  readonly importance: Float64Array;
  readonly converged: boolean;
  readonly probesConverged: number;
}

/** How a target's probes become one importance vector (see `aggregateProbes`). */
export type Aggregation = "probes" | "pooled";

/**
 * Aggregation (§2.7): the mean of softmax(z) over probes that stopped. When none stopped the
 * original divides 0 by 0 (NaN); like inseq PR #305 we fall back to the mean over all probes
 * and say `converged: false`. Protected positions get 0 and the vector sums to 1.
 *
 * `pooled` (a deviation, joint mode only): softmax of the same probes' mean z. The update rule
 * is additive, so the mean z is one probe's score after every update all of them received: the
 * evidence of B walks summed in one walk rather than B noisy walks averaged after softmax.
 */
export function aggregateProbes(set: ProbeSet, how: Aggregation = "probes"): AggregatedImportance {
  const conv = set.z.filter((_, b) => set.stopped[b]);
  const use = conv.length > 0 ? conv : set.z;
  if (!set.replaceable.some(Boolean)) {
    // Nothing could be replaced: there is no evidence, so no position is preferred.
    const uniform = new Float64Array(set.length).fill(set.length > 0 ? 1 / set.length : 0);
    return { importance: uniform, converged: false, probesConverged: 0 };
  }
  return { importance: scoreOf(use, set.replaceable, set.length, how), converged: conv.length > 0, probesConverged: conv.length };
}

/** One importance vector from a group of probes' z, by the given aggregation. */
export function scoreOf(zs: readonly Float64Array[], replaceable: readonly boolean[], length: number, how: Aggregation): Float64Array {
  if (how === "pooled") return maskedSoftmax(meanRows(zs, length), replaceable);
  return meanRows(
    zs.map((z) => maskedSoftmax(z, replaceable)),
    length,
  );
}
