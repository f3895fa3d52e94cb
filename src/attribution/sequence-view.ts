/**
 * From per-target rows to what people read: one importance vector for the whole completion,
 * words, segment shares and top spans.
 *
 * Sequence view ("rollout_mean"): target t's row covers the prompt and the completion tokens
 * before t. Credit a row gives to an earlier completion token j is passed back to the prompt
 * through j's own prompt vector: r_t = row_t[prompt] + Σ_{j<t} row_t[P+j] · r_j. Each r_t sums
 * to 1 over the prompt (by induction), and the sequence vector is their mean. A prompt token
 * that drove the first answer token, which then drove the rest, is credited for all of it.
 */
import type { ResultSpan, ResultToken, SegmentShare } from "../../schemas/attribution-result.js";
import type { TargetAttribution } from "./targets.js";

export function rolloutSequence(promptLength: number, targets: readonly TargetAttribution[]): Float64Array {
  const P = promptLength;
  const seq = new Float64Array(P);
  if (targets.length === 0) return seq;
  const byIndex = new Map<number, Float64Array>();
  for (const t of [...targets].sort((a, b) => a.index - b.index)) {
    const r = new Float64Array(P);
    for (let i = 0; i < P; i++) r[i] = t.importance[i] ?? 0;
    for (let j = 0; j < t.index; j++) {
      const w = t.importance[P + j] ?? 0;
      const rj = byIndex.get(j);
      if (w === 0) continue;
      if (rj) {
        for (let i = 0; i < P; i++) r[i] = (r[i] as number) + w * (rj[i] as number);
      } else {
        // Completion token j was not attributed: spread its credit evenly rather than lose it.
        for (let i = 0; i < P; i++) r[i] = (r[i] as number) + w / P;
      }
    }
    byIndex.set(t.index, r);
    for (let i = 0; i < P; i++) seq[i] = (seq[i] as number) + (r[i] as number);
  }
  for (let i = 0; i < P; i++) seq[i] = (seq[i] as number) / targets.length;
  return seq;
}

/** Word scores: a word is a whitespace-delimited run of prompt characters; protected tokens are skipped. */
export function wordScores(text: string, tokens: readonly ResultToken[], scores: ArrayLike<number>): { start: number; end: number; text: string; score: number }[] {
  const words: { start: number; end: number; text: string; score: number }[] = [];
  let cur: { start: number; end: number; score: number } | undefined;
  tokens.forEach((tok, i) => {
    if (tok.protected || tok.end <= tok.start) return;
    let s = tok.start;
    while (s < tok.end && /\s/.test(text[s] as string)) s++;
    const startsWord = s > tok.start || s === 0 || /\s/.test(text[s - 1] ?? " ") || !cur || cur.end < tok.start;
    const score = scores[i] ?? 0;
    if (startsWord || !cur) {
      if (cur) words.push({ ...cur, text: text.slice(cur.start, cur.end) });
      cur = { start: s < tok.end ? s : tok.start, end: tok.end, score };
    } else {
      cur.end = tok.end;
      cur.score += score;
    }
  });
  if (cur) words.push({ ...cur, text: text.slice(cur.start, cur.end) });
  return words;
}

/** Importance shares per configured segment, per role, per message, and the remainder. */
export function segmentShares(
  tokens: readonly ResultToken[],
  scores: ArrayLike<number>,
  ruleNames: ReadonlySet<string>,
  roles: ReadonlyMap<number, ResultSpan["role"]>,
): SegmentShare[] {
  const acc = new Map<string, SegmentShare>();
  const add = (key: string, base: Omit<SegmentShare, "share" | "tokens">, v: number): void => {
    const cur = acc.get(key) ?? { ...base, share: 0, tokens: 0 };
    acc.set(key, { ...cur, share: cur.share + v, tokens: cur.tokens + 1 });
  };
  tokens.forEach((tok, i) => {
    const v = scores[i] ?? 0;
    const role = tok.message_index === null ? null : (roles.get(tok.message_index) ?? null);
    if (tok.segment !== null && ruleNames.has(tok.segment)) add(`rule:${tok.segment}`, { name: tok.segment, kind: "rule", message_index: null }, v);
    if (tok.message_index !== null && role) {
      add(`role:${role}`, { name: role, kind: "role", message_index: null }, v);
      add(`message:${tok.message_index}`, { name: `${role}#${tok.message_index}`, kind: "message", message_index: tok.message_index }, v);
    } else if (!(tok.segment !== null && ruleNames.has(tok.segment))) {
      const name = tok.protected ? "template" : "prompt";
      add(`${name}`, { name, kind: name === "template" ? "template" : "prompt", message_index: null }, v);
    }
  });
  return [...acc.values()].map((s) => ({ ...s, share: Math.min(1, Math.max(0, s.share)) }));
}

/**
 * Top spans: tokens scoring above the mean of replaceable tokens are salient; adjacent salient
 * tokens in the same segment and message merge into one span scored by their sum. When nothing
 * stands out (a flat vector), the best single tokens are returned.
 */
export function topSpans(
  text: string,
  tokens: readonly ResultToken[],
  scores: ArrayLike<number>,
  maxSpans: number,
  roles: ReadonlyMap<number, ResultSpan["role"]>,
): ResultSpan[] {
  const eligible = tokens.map((t, i) => ({ t, i })).filter(({ t }) => !t.protected && t.end > t.start);
  if (eligible.length === 0) return [];
  const mean = eligible.reduce((s, { i }) => s + (scores[i] ?? 0), 0) / eligible.length;
  let salient = eligible.filter(({ i }) => (scores[i] ?? 0) > mean * 1.000001);
  if (salient.length === 0) salient = [...eligible].sort((a, b) => (scores[b.i] ?? 0) - (scores[a.i] ?? 0)).slice(0, maxSpans);
  salient.sort((a, b) => a.i - b.i);
  const groups: { i: number; t: ResultToken }[][] = [];
  for (const e of salient) {
    const last = groups[groups.length - 1];
    const prev = last?.[last.length - 1];
    if (last && prev && prev.i + 1 === e.i && prev.t.segment === e.t.segment && prev.t.message_index === e.t.message_index) last.push(e);
    else groups.push([e]);
  }
  const spans = groups.map((g) => {
    const first = g[0] as { i: number; t: ResultToken };
    const last = g[g.length - 1] as { i: number; t: ResultToken };
    let start = first.t.start;
    while (start < last.t.end && /\s/.test(text[start] as string)) start++;
    const messageIndex = first.t.message_index;
    return {
      rank: 0,
      text: text.slice(start, last.t.end),
      start,
      end: last.t.end,
      token_start: first.i,
      token_end: last.i + 1,
      score: g.reduce((s, { i }) => s + (scores[i] ?? 0), 0),
      segment: first.t.segment,
      role: messageIndex === null ? null : (roles.get(messageIndex) ?? null),
      message_index: messageIndex,
    };
  });
  spans.sort((a, b) => b.score - a.score || a.start - b.start);
  return spans.slice(0, maxSpans).map((s, k) => ({ ...s, rank: k + 1 }));
}
