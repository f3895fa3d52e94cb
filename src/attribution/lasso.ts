/**
 * A sparse linear surrogate: Lasso by cyclic coordinate descent on standardised columns, as
 * ContextCite fits it (scikit-learn's StandardScaler + Lasso(alpha), objective
 * (1/2n)·‖y − Xw − b‖² + alpha·‖w‖₁), with the weights rescaled to the original columns.
 * Small and dense: a few dozen rows (ablations) and up to a few hundred columns (features).
 */
export interface LassoFit {
  /** One weight per column, in the original (unstandardised) scale; 0 for constant columns. */
  readonly weights: Float64Array;
  readonly intercept: number;
  /** Each column's standard deviation (population), the scale its standardised weight was fitted on. */
  readonly sd: Float64Array;
}

export function lasso(x: readonly (readonly number[])[], y: readonly number[], alpha: number, maxIter = 1000, tol = 1e-6): LassoFit {
  const n = y.length;
  const f = x[0]?.length ?? 0;
  const weights = new Float64Array(f);
  const sd = new Float64Array(f);
  if (n === 0 || f === 0) return { weights, sd, intercept: n === 0 ? 0 : y.reduce((a, b) => a + b, 0) / n };
  const mean = new Float64Array(f);
  for (let j = 0; j < f; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]?.[j] ?? 0;
    mean[j] = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += ((x[i]?.[j] ?? 0) - (mean[j] as number)) ** 2;
    sd[j] = Math.sqrt(v / n);
  }
  const yMean = y.reduce((a, b) => a + b, 0) / n;
  // Standardised design, column-major for the coordinate updates.
  const cols = Array.from({ length: f }, (_, j) => Float64Array.from({ length: n }, (_, i) => ((sd[j] as number) > 0 ? ((x[i]?.[j] ?? 0) - (mean[j] as number)) / (sd[j] as number) : 0)));
  const r = Float64Array.from(y, (v) => v - yMean);
  const w = new Float64Array(f);
  for (let it = 0; it < maxIter; it++) {
    let maxDelta = 0;
    for (let j = 0; j < f; j++) {
      if (!((sd[j] as number) > 0)) continue;
      const c = cols[j] as Float64Array;
      const wj = w[j] as number;
      let rho = 0;
      for (let i = 0; i < n; i++) rho += (c[i] as number) * ((r[i] as number) + (c[i] as number) * wj);
      rho /= n;
      // Standardised columns have mean square 1, so the update is a plain soft threshold.
      const next = Math.sign(rho) * Math.max(0, Math.abs(rho) - alpha);
      if (next !== wj) {
        const d = next - wj;
        for (let i = 0; i < n; i++) r[i] = (r[i] as number) - d * (c[i] as number);
        w[j] = next;
        maxDelta = Math.max(maxDelta, Math.abs(d));
      }
    }
    if (maxDelta < tol) break;
  }
  let intercept = yMean;
  for (let j = 0; j < f; j++) {
    if (!((sd[j] as number) > 0)) continue;
    weights[j] = (w[j] as number) / (sd[j] as number);
    intercept -= (weights[j] as number) * (mean[j] as number);
  }
  return { weights, intercept, sd };
}
