/**
 * `aggregation: surrogate` (a deviation, joint mode only, the default over units;
 * docs/attribution.md): the target's importance is read from the walk's own draws by a sparse
 * linear surrogate instead of from z.
 *
 * ReAGent's update gives every replaced feature +2·atanh(Δp) and every kept one the opposite,
 * so a feature with no effect of its own still moves by the full Δp of whatever was replaced
 * beside it. With a handful of units and one that matters, the order of the others is that
 * co-replacement noise and differs from seed to seed. Fitting the same draws jointly (ContextCite's
 * Lasso of the target's logit-probability on the keep indicators) credits each feature with its
 * own effect. The walk, its replacement draws and the stopping rule stay ReAGent's; no extra
 * model calls are made.
 */
import { lasso } from "../lasso.js";
import { logitProb, normalise } from "../vector-math.js";

/** ContextCite's L1 penalty on standardised indicators. */
export const SURROGATE_ALPHA = 0.01;

/** One target's update draws: which slots were replaced and the probability the target kept. */
export class DrawLog {
  private readonly keeps: number[][] = [];
  private readonly ys: number[] = [];

  constructor(private readonly replaceable: readonly boolean[]) {}

  get size(): number {
    return this.ys.length;
  }

  add(replaced: readonly boolean[], p: number): void {
    const keep: number[] = [];
    for (let i = 0; i < this.replaceable.length; i++) if (this.replaceable[i]) keep.push(replaced[i] ? 0 : 1);
    this.keeps.push(keep);
    this.ys.push(logitProb(p));
  }

  /**
   * Per slot, max(0, surrogate weight) normalised to sum 1 over replaceable slots; undefined
   * while no feature has a positive weight (too few draws, or nothing the target depends on),
   * so the caller keeps its z-based scores until the draws say something.
   */
  importance(): Float64Array | undefined {
    if (this.ys.length < 2) return undefined;
    const { weights } = lasso(this.keeps, this.ys, SURROGATE_ALPHA);
    const out = new Float64Array(this.replaceable.length);
    let k = 0;
    let any = false;
    for (let i = 0; i < this.replaceable.length; i++) {
      if (!this.replaceable[i]) continue;
      const w = weights[k++] as number;
      if (w > 0) any = true;
      out[i] = Math.max(0, w);
    }
    return any ? normalise(out, this.replaceable) : undefined;
  }
}
