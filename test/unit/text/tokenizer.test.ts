import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";

const lm = HfTextTokenizer.fromDir("models/tiny-lm");
const mlm = HfTextTokenizer.fromDir("models/tiny-mlm");

const samples = [
  "When my flight landed in Greece, I converted my currency.",
  "  leading spaces and\ttabs\nnew lines  ",
  "Unicode: café, naïve, 東京, emoji 🙂 and ümlaut.",
  "Context: [doc 1] The code of Alpha is 7421. Question: what is the code of Alpha? Answer:",
  "",
];

describe.each([
  ["causal LM (byte-level BPE)", lm],
  ["masked LM", mlm],
] as const)("tokenizer %s", (_name, tok) => {
  it("knows its special tokens and size", () => {
    expect(tok.size).toBeGreaterThan(100);
    expect(tok.specialIds.size).toBeGreaterThan(0);
    for (const id of tok.specialIds) expect(id).toBeLessThan(tok.size);
  });

  it.each(samples)("gives offsets that tile the text in order: %j", (text) => {
    const enc = tok.encode(text);
    expect(enc.offsets.length).toBe(enc.ids.length);
    let prevEnd = 0;
    for (const o of enc.offsets) {
      expect(o.start).toBeGreaterThanOrEqual(prevEnd);
      expect(o.end).toBeGreaterThanOrEqual(o.start);
      expect(o.end).toBeLessThanOrEqual(text.length);
      prevEnd = o.end;
    }
  });
});

describe("byte-level BPE offsets round-trip", () => {
  it("concatenated token slices reproduce the text exactly (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (text) => {
        const enc = lm.encode(text);
        expect(lm.decode(enc.ids)).toBe(text);
        const joined = enc.offsets.map((o) => text.slice(o.start, o.end)).join("");
        expect(joined).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it("gives a multi-byte character split over several tokens to the token that completes it", () => {
    const text = "a 🙂 b";
    const enc = lm.encode(text);
    const joined = enc.offsets.map((o) => text.slice(o.start, o.end)).join("");
    expect(joined).toBe(text);
    const emoji = text.indexOf("🙂");
    const owner = enc.offsets.filter((o) => o.start <= emoji && emoji < o.end);
    expect(owner.length).toBe(1);
  });

  it("marks special tokens and adds BOS only when asked", () => {
    const plain = lm.encode("hello");
    const withSpecial = lm.encode("hello", { addSpecialTokens: true });
    expect(plain.special.every((s) => !s)).toBe(true);
    expect(withSpecial.ids.length).toBeGreaterThanOrEqual(plain.ids.length);
    const eot = lm.encode("a<|endoftext|>b");
    expect(eot.special.some(Boolean)).toBe(true);
  });

  it("decodes a single token to its text", () => {
    const enc = lm.encode(" Greece");
    expect(enc.ids.map((id) => lm.tokenText(id)).join("")).toBe(" Greece");
  });
});
