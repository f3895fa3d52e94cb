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
 *
 * The result's read drops weights within noise (under SURROGATE_MIN_T standard errors above
 * zero): on long prompts only two or three units carry the target, and the small positive weights
 * the Lasso leaves on the others are draw noise whose order changes with the seed. Reporting
 * them as the third "driver" is what made seed top-3 overlap miss; zero says "not distinguishable".
 */
import { lasso, type LassoFit } from "../lasso.js";
import { logitProb, normalise } from "../vector-math.js";

/** ContextCite's L1 penalty on standardised indicators. */
export const SURROGATE_ALPHA = 0.01;

/**
 * The result keeps a positive weight only when it is at least this many standard errors above
 * zero (the usual two-sided 5% level); the stopping checks read the unfiltered fit.
 */
export const SURROGATE_MIN_T = 2;

/** The surrogate's reading of one target. */
export interface SurrogateRead {
  /** Per slot, normalised to sum 1 over replaceable slots. */
  readonly importance: Float64Array;
  /** Slots with a positive weight that the noise floor set to 0. */
  readonly belowNoise: number;
  /** False when no weight cleared the floor, so the unfiltered weights were kept. */
  readonly significant: boolean;
}

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
    return this.read(0)?.importance;
  }

  /**
   * As `importance`, keeping only the weights at least `minT` standard errors above zero. The
   * standard error is the least-squares one, σ / (sd_j·√n), with σ from the fit's residuals: the
   * keep indicators are drawn independently, so the columns are close to orthogonal. When no
   * weight clears the floor (or too few draws to estimate σ) the unfiltered weights stay.
   */
  read(minT: number): SurrogateRead | undefined {
    const n = this.ys.length;
    if (n < 2) return undefined;
    const fit = lasso(this.keeps, this.ys, SURROGATE_ALPHA);
    const w = Array.from(fit.weights, (v) => Math.max(0, v));
    if (!w.some((v) => v > 0)) return undefined;
    let belowNoise = 0;
    let significant = true;
    const sigma = minT > 0 ? this.residualSd(fit) : undefined;
    if (sigma !== undefined && sigma > 0) {
      const t = w.map((v, j) => (v * (fit.sd[j] as number) * Math.sqrt(n)) / sigma);
      const kept = w.map((v, j) => (v > 0 && (t[j] as number) >= minT ? v : 0));
      if (kept.some((v) => v > 0)) {
        belowNoise = w.filter((v, j) => v > 0 && !(kept[j] as number)).length;
        w.splice(0, w.length, ...kept);
      } else significant = false;
    }
    const out = new Float64Array(this.replaceable.length);
    let k = 0;
    for (let i = 0; i < this.replaceable.length; i++) if (this.replaceable[i]) out[i] = w[k++] as number;
    return { importance: normalise(out, this.replaceable), belowNoise, significant };
  }

  /** The fit's residual standard deviation, σ² = RSS / (n − nonzero weights − 1); undefined without degrees of freedom left. */
  private residualSd(fit: LassoFit): number | undefined {
    const nonzero = fit.weights.reduce((c, v) => (v !== 0 ? c + 1 : c), 0);
    const dof = this.ys.length - nonzero - 1;
    if (dof < 1) return undefined;
    let rss = 0;
    this.keeps.forEach((row, i) => {
      const yHat = row.reduce((s, x, j) => s + x * (fit.weights[j] as number), fit.intercept);
      rss += ((this.ys[i] as number) - yHat) ** 2;
    });
    return Math.sqrt(rss / dof);
  }
}
