/** Small numeric helpers used by the engine, kept allocation-light for the hot loop. */

/** softmax over `x` restricted to positions where `mask` is true (others get 0). */
export function maskedSoftmax(x: ArrayLike<number>, mask?: ArrayLike<boolean>): Float64Array {
  const out = new Float64Array(x.length);
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if ((!mask || mask[i]) && (x[i] as number) > max) max = x[i] as number;
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask && !mask[i]) continue;
    const e = Math.exp((x[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < x.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** Indices of the `n` largest values among positions where `mask` is true (ties: lower index first). */
export function topNIndices(x: ArrayLike<number>, n: number, mask?: ArrayLike<boolean>): number[] {
  const idx: number[] = [];
  for (let i = 0; i < x.length; i++) if (!mask || mask[i]) idx.push(i);
  idx.sort((a, b) => (x[b] as number) - (x[a] as number) || a - b);
  return idx.slice(0, Math.max(0, n));
}

/** Clamp to the open interval (lo, hi). */
export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Mean of equal-length rows. */
export function meanRows(rows: readonly ArrayLike<number>[], length: number): Float64Array {
  const out = new Float64Array(length);
  if (rows.length === 0) return out;
  for (const r of rows) for (let i = 0; i < length; i++) out[i] = (out[i] as number) + (r[i] as number);
  for (let i = 0; i < length; i++) out[i] = (out[i] as number) / rows.length;
  return out;
}

/** Renormalise non-negative values to sum 1; all-zero input becomes uniform over `mask`. */
export function normalise(x: ArrayLike<number>, mask?: ArrayLike<boolean>): Float64Array {
  const out = new Float64Array(x.length);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask && !mask[i]) continue;
    const v = Math.max(0, x[i] as number);
    out[i] = v;
    sum += v;
    count++;
  }
  if (count === 0) return out.fill(x.length > 0 ? 1 / x.length : 0);
  if (!(sum > 0) || !Number.isFinite(sum)) {
    for (let i = 0; i < x.length; i++) out[i] = mask && !mask[i] ? 0 : 1 / count;
    return out;
  }
  for (let i = 0; i < x.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** Spearman rank correlation (average ranks for ties); NaN when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  return pearson(ra, rb);
}

function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => (x[i] as number) - (x[j] as number));
  const r = new Float64Array(x.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1] as number] === x[idx[i] as number]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k] as number] = avg;
    i = j + 1;
  }
  return r;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length || n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** |top-k(a) ∩ top-k(b)| / k over positions where `mask` is true. */
export function topKOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k: number, mask?: ArrayLike<boolean>): number {
  const ta = new Set(topNIndices(a, k, mask));
  const tb = topNIndices(b, k, mask);
  if (tb.length === 0) return NaN;
  let hit = 0;
  for (const i of tb) if (ta.has(i)) hit++;
  return hit / Math.min(k, tb.length);
}

/** ContextCite's surrogate target: the logit of a probability, finite at p = 0 and 1. */
export function logitProb(p: number): number {
  const q = Math.min(1 - 1e-9, Math.max(1e-12, p));
  return Math.log(q) - Math.log(1 - q);
}
