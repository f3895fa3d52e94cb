/**
 * Graphs with a `logit_positions` input (models/smollm2's export) against the same weights
 * exported plain: the scorer asks for the scored positions only and reads the same numbers.
 * Fixtures: two ~1 KB ONNX models made by fixtures/make_tiny_lms.py (logits = (E[ids] + P[pos]) @ W).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScoringError } from "../../../src/errors.js";
import { OnnxScorer } from "../../../src/models/onnx/onnx-scorer.js";
import { loadSession, runLogits, type LoadedSession } from "../../../src/models/onnx/session.js";

const DIR = "test/unit/models/fixtures";
const rows = [
  [1, 2, 3, 4, 5, 6],
  [7, 8, 9],
];

describe("logit_positions graphs", () => {
  let plain: LoadedSession;
  let gathered: LoadedSession;
  beforeAll(async () => {
    plain = await loadSession(`${DIR}/tiny-plain-lm.onnx`, { intraOpThreads: 1 });
    gathered = await loadSession(`${DIR}/tiny-gathered-lm.onnx`, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await plain.session.release();
    await gathered.session.release();
  });

  it("returns only the asked positions, each where at() says, equal to the plain graph's", async () => {
    const full = await runLogits(plain, rows, 0);
    const want = [[5, 1, 3], [2, 0]];
    const some = await runLogits(gathered, rows, 0, want);
    expect(some.logits.length).toBe(2 * 3 * 11); // [rows, max asked, vocab], not [rows, width, vocab]
    want.forEach((ps, b) =>
      ps.forEach((t) => {
        const a = Array.from(full.logits.subarray(full.at(b, t), full.at(b, t) + 11));
        const g = Array.from(some.logits.subarray(some.at(b, t), some.at(b, t) + 11));
        g.forEach((x, i) => expect(x).toBeCloseTo(a[i] as number, 5));
      }),
    );
    expect(() => some.at(0, 4)).toThrow(ScoringError);
  });

  it("without positions asks for every position, so callers that read all logits work with either export", async () => {
    const full = await runLogits(plain, rows, 0);
    const all = await runLogits(gathered, rows, 0);
    rows.forEach((r, b) => r.forEach((_, t) => expect(all.logits[all.at(b, t) + 3]).toBeCloseTo(full.logits[full.at(b, t) + 3] as number, 5)));
  });

  it("the scorer gives the same log-probabilities and top-k over both exports", async () => {
    const cfg = { vocab_size: 11, pad_token_id: 0 };
    const a = await OnnxScorer.load(`${DIR}/tiny-plain-lm.onnx`, cfg, { intraOpThreads: 1 });
    const g = await OnnxScorer.load(`${DIR}/tiny-gathered-lm.onnx`, cfg, { intraOpThreads: 1 });
    const batch = [
      { ids: rows[0]!, positions: [5, 2, 6] },
      { ids: rows[1]!, positions: [1, 3] },
    ];
    const [ra, rg] = [await a.score(batch, { topK: 3 }), await g.score(batch, { topK: 3 })];
    ra.forEach((s, b) =>
      s.positions.forEach((p, j) => {
        const q = rg[b]!.positions[j]!;
        expect(q.position).toBe(p.position);
        expect(q.topK).toEqual(p.topK);
        if (p.logprob === null) expect(q.logprob).toBeNull();
        else expect(q.logprob).toBeCloseTo(p.logprob, 5);
      }),
    );
    await a.close();
    await g.close();
  });
});
