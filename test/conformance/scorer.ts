/**
 * The Scorer conformance suite: one set of cases every implementation must pass (local ONNX,
 * each HTTP protocol). A case an implementation cannot pass is skipped by name with a reason,
 * which shows in the test report; a skip that names no case fails.
 *
 * Usage, inside a test file:
 *   runScorerConformance({ name: "vllm", newScorer: () => …, inputs: [[0, 41, …], …], skip: [{ reason, tests: ["next-token slot"] }] });
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReagentError } from "../../src/errors.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence, Scorer } from "../../src/attribution/scorer.js";

export const conformanceCases = [
  "shapes",
  "determinism",
  "top-k sorted and containing the argmax",
  "logprob <= 0",
  "batch equals one-by-one",
  "positions order kept",
  "next-token slot",
  "out-of-range positions rejected",
  "aborted signal rejected",
] as const;
export type ConformanceCase = (typeof conformanceCases)[number];

export interface ScorerConformanceOptions {
  readonly name: string;
  /** Created once for the suite and closed after it. */
  readonly newScorer: () => Promise<Scorer>;
  /** At least 3 sequences of at least 8 ids in the scorer's vocabulary (TGI: ids that re-tokenise to themselves). */
  readonly inputs: readonly (readonly number[])[];
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly ConformanceCase[] }[];
  /** top-k asked for (default 3). */
  readonly topK?: number;
  /**
   * Why a top-k list may end before k entries (a server that names tokens by text, where one key
   * can stand for several ids, so the ranks after it are unknown); absent: lists are always full.
   */
  readonly shortTopK?: string;
  /**
   * How far the same slot's values may differ between calls that split the work differently
   * (default 1e-4), with the reason when raised: a server whose numbers depend on how it batched
   * or cached the prefix.
   */
  readonly tolerance?: { readonly eps: number; readonly reason: string };
  /** First position scored in "all positions" batches (default 1; TGI behind a server-added BOS cannot probe position 1, whose prefix text is empty). */
  readonly firstPosition?: number;
}

const DEFAULT_EPS = 1e-4;

export function runScorerConformance(opts: ScorerConformanceOptions): void {
  const k = opts.topK ?? 3;
  const EPS = opts.tolerance?.eps ?? DEFAULT_EPS;
  const first = opts.firstPosition ?? 1;
  const allPositions = (ids: readonly number[]): number[] => Array.from({ length: ids.length - first }, (_, i) => i + first);
  const skipped = new Map<string, string>();
  for (const s of opts.skip ?? []) for (const t of s.tests) skipped.set(t, s.reason);

  describe(`Scorer conformance: ${opts.name}`, () => {
    let scorer: Scorer;
    beforeAll(async () => {
      if (opts.inputs.length < 3 || opts.inputs.some((x) => x.length < 8)) throw new Error("conformance inputs: at least 3 sequences of at least 8 ids");
      scorer = await opts.newScorer();
    });
    afterAll(async () => {
      await scorer?.close();
    });

    const kk = (): number => Math.min(k, scorer.capabilities.maxTopK);
    const batch = (): ScoreSequence[] => opts.inputs.map((ids) => ({ ids, positions: allPositions(ids) }));
    const score = (b: readonly ScoreSequence[], topK = k): Promise<ScoredSequence[]> => scorer.score(b, { topK });

    const cases: Record<ConformanceCase, () => Promise<void>> = {
      shapes: async () => {
        const b = batch();
        const res = await score(b);
        expect(res).toHaveLength(b.length);
        res.forEach((r, i) => {
          const s = b[i]!;
          expect(r.positions.map((p) => p.position)).toEqual(s.positions);
          for (const p of r.positions) {
            expect(p.topK.length).toBe(p.topKLogprobs.length);
            expect(p.topK.length).toBeLessThanOrEqual(kk());
            if (scorer.capabilities.topKAtPromptPositions && opts.shortTopK === undefined) expect(p.topK.length).toBe(kk());
            for (const id of p.topK) expect(Number.isInteger(id) && id >= 0).toBe(true);
            expect(p.logprob === null || Number.isFinite(p.logprob)).toBe(true);
          }
        });
        expect(await score([])).toEqual([]);
      },

      determinism: async () => {
        const a = await score(batch());
        const b = await score(batch());
        expect(b).toEqual(a);
      },

      "top-k sorted and containing the argmax": async () => {
        const b = batch();
        const [res, best] = await Promise.all([score(b), score(b, 1)]);
        res.forEach((r, i) => {
          r.positions.forEach((p, j) => {
            const argmax = best[i]!.positions[j]!;
            expect(argmax.topK).toHaveLength(1);
            expect(p.topK[0]).toBe(argmax.topK[0]);
            for (let x = 1; x < p.topKLogprobs.length; x++) expect(p.topKLogprobs[x]!).toBeLessThanOrEqual(p.topKLogprobs[x - 1]! + 1e-12);
            const actual = b[i]!.ids[p.position]!;
            expect(p.logprob).not.toBeNull();
            expect(p.logprob!).toBeLessThanOrEqual(p.topKLogprobs[0]! + 1e-6);
            const at = p.topK.indexOf(actual);
            if (at >= 0) expect(Math.abs(p.topKLogprobs[at]! - p.logprob!)).toBeLessThan(1e-6);
            else expect(p.logprob!).toBeLessThanOrEqual(p.topKLogprobs[p.topKLogprobs.length - 1]! + 1e-6);
            if (p.rank !== undefined) expect(p.rank <= p.topK.length).toBe(at >= 0);
          });
        });
      },

      "logprob <= 0": async () => {
        const res = await score(batch());
        for (const r of res) {
          for (const p of r.positions) {
            expect(p.logprob).not.toBeNull();
            expect(p.logprob!).toBeLessThanOrEqual(0);
            for (const x of p.topKLogprobs) expect(x).toBeLessThanOrEqual(0);
          }
        }
      },

      "batch equals one-by-one": async () => {
        // Different position sets per sequence, and more sequences than one request carries.
        const b: ScoreSequence[] = [];
        for (let rep = 0; rep < 3; rep++) {
          opts.inputs.forEach((ids, i) => {
            const n = ids.length - rep - i;
            const cut = ids.slice(0, Math.max(3, n));
            b.push({ ids: cut, positions: rep === 0 ? allPositions(cut) : [cut.length - 1, Math.max(first, cut.length - 3)] });
          });
        }
        const together = await score(b);
        const alone = await Promise.all(b.map(async (s) => (await score([s]))[0]!));
        together.forEach((r, i) => {
          r.positions.forEach((p, j) => {
            const q = alone[i]!.positions[j]!;
            expect(p.position).toBe(q.position);
            expect(Math.abs(p.logprob! - q.logprob!)).toBeLessThan(EPS);
            expect(p.topK.length).toBe(q.topK.length);
            p.topKLogprobs.forEach((x, m) => expect(Math.abs(x - q.topKLogprobs[m]!)).toBeLessThan(EPS));
          });
        });
      },

      "positions order kept": async () => {
        const ids = opts.inputs[0]!;
        const n = ids.length;
        const shuffled = [n - 1, first + 1, Math.floor(n / 2), first];
        const [r] = await score([{ ids, positions: shuffled }]);
        expect(r!.positions.map((p) => p.position)).toEqual(shuffled);
        const [ref] = await score([{ ids, positions: allPositions(ids) }]);
        const byPos = new Map(ref!.positions.map((p) => [p.position, p] as const));
        for (const p of r!.positions) expect(Math.abs(p.logprob! - byPos.get(p.position)!.logprob!)).toBeLessThan(EPS);
      },

      "next-token slot": async () => {
        const ids = opts.inputs[1]!;
        if (!scorer.capabilities.nextTokenSlot) {
          await expect(score([{ ids, positions: [ids.length] }])).rejects.toBeInstanceOf(ReagentError);
          return;
        }
        const [r] = await score([{ ids, positions: [ids.length - 1, ids.length] }]);
        const [last, next] = r!.positions as [ScoredPosition, ScoredPosition];
        expect(last.position).toBe(ids.length - 1);
        expect(last.logprob).not.toBeNull();
        expect(next.position).toBe(ids.length);
        expect(next.logprob).toBeNull();
        if (opts.shortTopK === undefined) expect(next.topK.length).toBe(kk());
        else expect(next.topK.length).toBeLessThanOrEqual(kk());
        for (let x = 1; x < next.topKLogprobs.length; x++) expect(next.topKLogprobs[x]!).toBeLessThanOrEqual(next.topKLogprobs[x - 1]!);
        // The slot after a prefix is the slot of the full sequence's last position: same alternatives.
        const prefix = ids.slice(0, ids.length - 1);
        const [a] = await score([{ ids: prefix, positions: [prefix.length] }]);
        const slot = a!.positions[0]!;
        if (opts.shortTopK === undefined) expect(slot.topK.length).toBe(kk());
        if (last.topK.length === kk()) {
          expect(slot.topK).toEqual(last.topK);
          slot.topKLogprobs.forEach((x, m) => expect(Math.abs(x - last.topKLogprobs[m]!)).toBeLessThan(EPS));
        }
      },

      "out-of-range positions rejected": async () => {
        const ids = opts.inputs[0]!;
        await expect(score([{ ids, positions: [0] }])).rejects.toBeInstanceOf(ReagentError);
        await expect(score([{ ids, positions: [ids.length + 1] }])).rejects.toBeInstanceOf(ReagentError);
      },

      "aborted signal rejected": async () => {
        const ctrl = new AbortController();
        ctrl.abort(new DOMException("stop", "AbortError"));
        await expect(scorer.score(batch(), { topK: k, signal: ctrl.signal })).rejects.toThrow();
      },
    };

    for (const name of conformanceCases) {
      const reason = skipped.get(name);
      if (reason !== undefined) it.skip(`${name} — skipped: ${reason}`, () => undefined);
      else it(name, cases[name]);
    }

    it("skip list names only existing cases", () => {
      const unknown = [...skipped.keys()].filter((t) => !(conformanceCases as readonly string[]).includes(t));
      expect(unknown).toEqual([]);
      for (const s of opts.skip ?? []) expect(s.reason.trim().length).toBeGreaterThan(0);
      if (opts.shortTopK !== undefined) expect(opts.shortTopK.trim().length).toBeGreaterThan(0);
      if (opts.tolerance !== undefined) expect(opts.tolerance.reason.trim().length).toBeGreaterThan(0);
    });
  });
}
