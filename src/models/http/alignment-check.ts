/**
 * Self-test checks that a server's logprobs belong to the positions they are reported at.
 *
 * The shape checks (one entry per position, logprobs <= 0, top-k sorted, the actual token
 * consistent with its own top-k) all pass on a server that reports each token with the
 * distribution *after* it (llama-cpp-python does that for prompts without a leading BOS): every
 * number is a real logprob, just of the wrong slot. Two checks catch it:
 *
 * 1. **A listed token scores its listed value at its own position.** The distribution at
 *    position p depends only on the tokens before p. So put the token the server ranks first
 *    at p (second when the first is the actual token) into p and score it: it must get the
 *    logprob the top-k listed for it. A shifted server scores it with the distribution after
 *    it, which is several nats off.
 * 2. **Known text scores above its shuffled tokens** (mean logprob per position): a sanity check
 *    that the values describe this text at all.
 *
 * @see docs/endpoints.md#start-up-self-test
 */
import { ScorerMismatchError, errorMessage } from "../../errors.js";
import type { TextTokenizer } from "../../text/tokenizer.js";
import type { ScoreOptions, ScoredPosition, Scorer } from "../../attribution/scorer.js";

export interface AlignmentCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface AlignmentInput {
  readonly scorer: Scorer;
  readonly tokenizer: TextTokenizer;
  /** The fixed input as scored. */
  readonly ids: readonly number[];
  /** Its scored positions (every position from 1), as returned. */
  readonly scored: readonly ScoredPosition[];
  readonly opts: ScoreOptions;
}

/** How far a listed logprob and the teacher-forced one may differ: llama-cpp-python's values for one slot vary by up to ~0.07 with its cache state; a shift is off by nats. */
export const ALIGNMENT_TOLERANCE = 0.2;
const PROBES = 3;

export const ALIGNED = "logprobs belong to their positions";
export const ABOVE_SHUFFLED = "known text scores above its shuffled tokens";

export async function checkAlignment(a: AlignmentInput): Promise<AlignmentCheck[]> {
  return [await listedTokenCheck(a), await shuffledCheck(a)];
}

async function listedTokenCheck(a: AlignmentInput): Promise<AlignmentCheck> {
  const { scorer, tokenizer: tok, ids } = a;
  const show = (id: number): string => JSON.stringify(tok.tokenText(id));
  try {
    // Positions from the end (most context), skipping 1 (some servers have no value there).
    const picks: { p: number; id: number; listed: number }[] = [];
    for (const sp of [...a.scored].reverse()) {
      if (picks.length >= PROBES) break;
      if (sp.position < 2 || sp.position >= ids.length) continue;
      let top = { ids: sp.topK, logprobs: sp.topKLogprobs };
      if (!scorer.capabilities.topKAtPromptPositions) {
        // No ranked list at prompt positions (TGI bound): the next-token slot after the prefix is the same slot.
        const [slot] = await scorer.score([{ ids: ids.slice(0, sp.position), positions: [sp.position] }], a.opts);
        const next = slot?.positions[0];
        top = { ids: next?.topK ?? [], logprobs: next?.topKLogprobs ?? [] };
      }
      const i = top.ids.findIndex((id) => id !== ids[sp.position]);
      if (i < 0) continue;
      picks.push({ p: sp.position, id: top.ids[i] as number, listed: top.logprobs[i] as number });
    }
    if (picks.length === 0) return { name: ALIGNED, ok: true, detail: "not checked: no position listed an alternative token" };
    const res = await scorer.score(
      picks.map((x) => ({ ids: [...ids.slice(0, x.p), x.id], positions: [x.p] })),
      a.opts,
    );
    const bad: string[] = [];
    picks.forEach((x, j) => {
      const got = res[j]?.positions[0]?.logprob ?? null;
      if (got === null || Math.abs(got - x.listed) > ALIGNMENT_TOLERANCE) {
        bad.push(`at position ${x.p} the top-k lists ${show(x.id)} at ${x.listed.toFixed(2)}, but scoring ${show(x.id)} there gave ${got === null ? "no value" : got.toFixed(2)}`);
      }
    });
    if (bad.length === 0) {
      return { name: ALIGNED, ok: true, detail: `a token the top-k lists at a position scores its listed logprob there (${picks.length} positions, within ${ALIGNMENT_TOLERANCE})` };
    }
    return {
      name: ALIGNED,
      ok: false,
      detail: `${bad.join("; ")} (${bad.length} of ${picks.length} positions): the server's logprobs are not those of the positions it reports them at (shifted by one position: each token scored with the distribution after it?)`,
    };
  } catch (err) {
    return { name: ALIGNED, ok: false, detail: `could not check: ${errorMessage(err)}` };
  }
}

async function shuffledCheck(a: AlignmentInput): Promise<AlignmentCheck> {
  const { scorer, ids } = a;
  try {
    const shuffled = shuffleWords(ids, a.tokenizer);
    const positions = Array.from({ length: ids.length - 2 }, (_, i) => i + 2);
    const [known, other] = await scorer.score(
      [
        { ids, positions },
        { ids: shuffled, positions },
      ],
      a.opts,
    );
    const mean = (r: typeof known): number | undefined => {
      const v = (r?.positions ?? []).map((p) => p.logprob);
      if (v.length === 0 || v.some((x) => x === null)) return undefined;
      return (v as number[]).reduce((s, x) => s + x, 0) / v.length;
    };
    const m1 = mean(known);
    const m2 = mean(other);
    if (m1 === undefined || m2 === undefined) return { name: ABOVE_SHUFFLED, ok: false, detail: "some positions came back without a logprob" };
    const ok = m1 > m2;
    return {
      name: ABOVE_SHUFFLED,
      ok,
      detail: `mean logprob per token ${m1.toFixed(2)} for the text, ${m2.toFixed(2)} for the same tokens shuffled${ok ? "" : ": the values do not describe the text that was sent"}`,
    };
  } catch (err) {
    // A text-only server refuses ids that do not re-tokenise to themselves: nothing was measured.
    if (err instanceof ScorerMismatchError) return { name: ABOVE_SHUFFLED, ok: true, detail: `not checked: ${errorMessage(err).slice(0, 160)}` };
    return { name: ABOVE_SHUFFLED, ok: false, detail: `could not check: ${errorMessage(err)}` };
  }
}

/**
 * The same ids with whole words in a fixed pseudo-random order: the first token and the first
 * word stay, every later word (a token starting with whitespace or punctuation, plus the
 * tokens that continue it) moves as a unit, so text-only servers can re-tokenise the result.
 */
export function shuffleWords(ids: readonly number[], tok: TextTokenizer): number[] {
  const words: number[][] = [];
  for (const id of ids.slice(1)) {
    const text = tok.tokenText(id);
    const starts = words.length === 0 || /^[\s\p{P}\p{S}]/u.test(text) || tok.specialIds.has(id);
    if (starts) words.push([id]);
    else (words[words.length - 1] as number[]).push(id);
  }
  const head = words.shift() ?? [];
  let s = 12345;
  for (let i = words.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [words[i], words[j]] = [words[j] as number[], words[i] as number[]];
  }
  return [ids[0] as number, ...head, ...words.flat()];
}
