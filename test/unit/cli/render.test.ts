import { describe, expect, it } from "vitest";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { convergenceWarning, MARK_CLOSE, MARK_OPEN, renderHeatmap, renderLegend, renderResult, renderShares } from "../../../src/cli/render.js";
import { scaleLevel } from "../../../src/report/scale.js";
import { wordAlign, wordAlignedText } from "../../../src/text/words.js";
import { syntheticResult } from "../connectors/otel/synthetic-result.js";

/** A result over "walked around [the] capital" whose tokens split words ("wal"+"ked"). */
function splitWords(importance: number[], converged = true): AttributionResult {
  const base = syntheticResult({ promptTokens: 6, spans: 0, context: {} });
  const text = "we walked around [the] capital";
  const cuts: [number, number][] = [[0, 2], [2, 6], [6, 9], [9, 16], [16, 22], [22, 30]]; // "we"," wal","ked"," around"," [the]"," capital"
  const tokens = cuts.map(([s, e], i) => ({ id: i, text: text.slice(s, e), start: s, end: e, special: false, protected: false, segment: "prompt", message_index: null }));
  return {
    ...base,
    prompt: { text, tokens, messages: [] },
    sequence: { ...base.sequence, importance },
    spans: [{ rank: 1, text: "ked around", start: 6, end: 16, token_start: 2, token_end: 4, score: 0.6, segment: "prompt", role: null, message_index: null }],
    segments: [{ name: "prompt", kind: "prompt", message_index: null, share: 1, tokens: 6 }],
    convergence: { ...base.convergence, converged, targets_converged: converged ? 1 : 0, targets_total: 1 },
  };
}

describe("terminal rendering", () => {
  it("marks whole words, never inside one, with marks that do not clash with [brackets]", () => {
    const r = splitWords([0.01, 0.01, 0.5, 0.3, 0.01, 0.17]);
    const out = renderHeatmap(r, { color: false });
    expect(out).toBe(`we ${MARK_OPEN}walked around${MARK_CLOSE} [the] ${MARK_OPEN}capital${MARK_CLOSE}`);
    expect(renderResult(r, { color: false })).toContain('"walked around"'); // the span "ked around" in whole words
  });

  it("uses an absolute scale: a flat result marks nothing and says it did not converge", () => {
    const flat = splitWords([1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6].map((x) => x * 0.25), false);
    expect(renderHeatmap(flat, { color: false })).not.toContain(MARK_OPEN);
    expect(convergenceWarning(flat)).toMatch(/^NOT CONVERGED: 1 of 1/);
    expect(renderResult(flat, { color: false }).split("\n")[0]).toMatch(/^NOT CONVERGED/);
    expect(scaleLevel(0.5)).toBe(6);
    expect(scaleLevel(0.03)).toBe(2);
    expect(scaleLevel(0.005)).toBe(0);
    expect(renderLegend({ color: true })).toContain("≥40%");
    expect(renderLegend({ color: false })).toContain(MARK_OPEN);
  });

  it("segment shares say why they can exceed 100%: messages are nested under their role", () => {
    const r = splitWords([0.2, 0.2, 0.2, 0.2, 0.1, 0.1]);
    const withRoles = {
      ...r,
      segments: [
        { name: "user", kind: "role" as const, message_index: null, share: 0.8, tokens: 4 },
        { name: "user#1", kind: "message" as const, message_index: 1, share: 0.5, tokens: 2 },
        { name: "user#3", kind: "message" as const, message_index: 3, share: 0.3, tokens: 2 },
        { name: "system", kind: "role" as const, message_index: null, share: 0.2, tokens: 2 },
      ],
    };
    const lines = renderShares(withRoles);
    expect(lines[0]).toMatch(/user\s+80\.0%/);
    expect(lines[1]).toMatch(/of which user#1\s+50\.0%/);
    expect(lines.at(-1)).toContain("add up to 100%");
  });

  it("wordAlign widens cut words and leaves whole ones", () => {
    const t = "Grieche ist 33 Jahre";
    expect(wordAlignedText(t, 0, 5)).toBe("Grieche");
    expect(wordAlignedText(t, 12, 13)).toBe("33");
    expect(wordAlign(t, 8, 11)).toEqual({ start: 8, end: 11 });
  });
});

describe("unit level and faithfulness in the terminal summary", () => {
  it("lists the top units with the refined ones marked, the restore rule and the ln-ratios", () => {
    const base = splitWords([0.01, 0.01, 0.5, 0.3, 0.01, 0.17]);
    const r: AttributionResult = {
      ...base,
      unit_level: "sentence",
      units: [
        { index: 0, start: 0, end: 9, token_start: 0, token_end: 3, tokens: 3, score: 0.2, refined: false },
        { index: 1, start: 9, end: 30, token_start: 3, token_end: 6, tokens: 3, score: 0.8, refined: true },
      ],
      config: { ...base.config, stopping: { type: "restore" } },
      faithfulness: { comprehensiveness_ln_ratio: 1.234, sufficiency_ln_ratio: -0.5, faithfulness_sequences: 8 },
    };
    const out = renderResult(r, { color: false });
    expect(out).toContain("Top sentences:");
    expect(out.split("\n").find((l) => l.includes("80.0%"))).toContain("refined to tokens");
    expect(out).toContain("stopping restore · comprehensiveness vs random (ln) +1.23 · sufficiency vs random (ln) -0.50 · faithfulness 8 sequences");
  });

  it("adds nothing for a token-level result without faithfulness", () => {
    const r = splitWords([0.01, 0.01, 0.5, 0.3, 0.01, 0.17]);
    expect(renderResult(r, { color: false })).not.toMatch(/Top tokens:|vs random/);
  });
});
