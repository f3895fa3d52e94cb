/**
 * The llama-cpp-python protocol's pure logic: which text it sends, how echoed entries map back to
 * positions (BOS dropped first, later BOS tokens skipped, the first entry nulled, the generated
 * token as the next-token slot), and what it refuses. Answers are shaped as llama-cpp-python
 * 0.3.36 writes them; the real server is in test/integration/endpoint.llama-cpp.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ScorerMismatchError, ScorerUnsupportedError } from "../../../src/errors.js";
import { LlamaCppPythonProtocol, llamaCppPythonFinalError } from "../../../src/models/http/llama-cpp-python.js";
import { TokenStrings } from "../../../src/models/http/tokens.js";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";

const tok = HfTextTokenizer.fromDir("models/tiny-lm");
const BOS = tok.bosId!;
const protocol = new LlamaCppPythonProtocol({ model: "m", endpoint: "http://h", tokenizer: tok, strings: new TokenStrings(tok), maxTopK: 5, bosId: BOS, serverAddsBos: false });

/** The echo answer llama-cpp-python gives for `ids` (BOS first) plus one generated token. */
function answer(ids: number[], generated: number, lp: (p: number) => number) {
  const all = [...ids.slice(1), generated];
  const tokens: string[] = [];
  const logprobs: (number | null)[] = [];
  const tops: (Record<string, number> | null)[] = [];
  all.forEach((id, j) => {
    if (id === BOS) return; // the server skips BOS tokens
    const p = j + 1;
    tokens.push(tok.tokenText(id));
    logprobs.push(lp(p));
    tops.push({ [tok.tokenText(id)]: lp(p) });
  });
  logprobs[0] = null;
  tops[0] = null;
  return { choices: [{ index: 0, text: "", logprobs: { tokens, token_logprobs: logprobs, top_logprobs: tops, text_offset: [] }, finish_reason: "length" }] };
}

describe("llama-cpp-python protocol", () => {
  const words = tok.encode(" the cat sat").ids;
  const more = tok.encode(" on the mat").ids;
  const ids = [BOS, ...words, BOS, ...more];

  it("sends BOS-first ids as text that re-tokenises to them, one prompt, max_tokens 1", () => {
    const text = protocol.inputFor(ids, "t");
    expect(tok.encode(text).ids).toEqual(ids);
    expect(protocol.request(text, 3)).toEqual({ model: "m", prompt: text, echo: true, logprobs: 3, max_tokens: 1, temperature: 0 });
  });

  it("maps entries back to positions: later BOS tokens have none, position 1 is nulled, the generated token is the next slot", () => {
    const lp = (p: number): number => -p / 10;
    const gen = tok.encode(" x").ids[0]!;
    const positions = Array.from({ length: ids.length }, (_, i) => i + 1);
    const out = protocol.parse(answer(ids, gen, lp), { ids, positions }, ids, 5);
    const bosAt = words.length + 1;
    for (const p of out.positions) {
      if (p.position === 1 || p.position === bosAt) expect(p.logprob, `position ${p.position}`).toBeNull();
      else if (p.position === ids.length) expect(p.topK).toEqual([gen]);
      else expect(p.logprob, `position ${p.position}`).toBeCloseTo(lp(p.position));
    }
  });

  it("refuses sequences without a leading BOS (the server would score them shifted), with the fix", () => {
    expect(() => protocol.inputFor(words, "t")).toThrow(ScorerUnsupportedError);
    expect(() => protocol.inputFor(words, "t")).toThrow(/add_bos: true/);
  });

  it("refuses an answer whose echoed tokens are not the ones sent", () => {
    const bad = answer(ids, BOS + 1, () => -1);
    bad.choices[0]!.logprobs.tokens[2] = "zzzz";
    expect(() => protocol.parse(bad, { ids, positions: [3] }, ids, 5)).toThrow(ScorerMismatchError);
  });

  it("treats its 500s with an error body as final, others as retryable", () => {
    expect(llamaCppPythonFinalError(500, JSON.stringify({ error: { message: "", type: "internal_server_error", param: null, code: null } }))).toMatch(/not retried/);
    expect(llamaCppPythonFinalError(500, "<html>bad gateway</html>")).toBeUndefined();
    expect(llamaCppPythonFinalError(503, JSON.stringify({ error: { message: "busy" } }))).toBeUndefined();
  });
});
