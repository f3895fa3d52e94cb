/**
 * Contract tests: response bodies in each documented shape (shared/reference/scoring-endpoints.md)
 * parse into the right ScoredPositions, and the edge cases fail or degrade as documented:
 * a null first entry, the actual token outside the top-k, multi-byte characters split over
 * byte tokens, a BOS the server added, wrong ids, wrong shapes.
 */
import { describe, expect, it } from "vitest";
import { probabilityOf } from "../../../src/attribution/targets.js";
import { ScorerHttpError, ScorerMismatchError, ScorerUnsupportedError } from "../../../src/errors.js";
import { CompletionsProtocol, type CompletionsFlavour } from "../../../src/models/http/completions.js";
import type { Send } from "../../../src/models/http/protocol.js";
import { SglangProtocol } from "../../../src/models/http/sglang.js";
import { TgiProtocol } from "../../../src/models/http/tgi.js";
import { TokenStrings, checkEchoedIds, checkEchoedTokens } from "../../../src/models/http/tokens.js";
import type { ScoreSequence } from "../../../src/attribution/scorer.js";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";

const tok = HfTextTokenizer.fromDir("models/tiny-lm");
const strings = new TokenStrings(tok);
const BOS = tok.bosId!;
const THE = tok.encode(" the").ids[0]!;
const CAT = tok.encode(" cat").ids[0]!;
const C = tok.encode("c").ids[0]!;
/** "🙂" is four byte tokens in this byte-level BPE, none valid UTF-8 alone. */
const SMILE = tok.encode("🙂").ids;

function completions(flavour: CompletionsFlavour): CompletionsProtocol {
  return new CompletionsProtocol({ flavour, model: "m", endpoint: "http://server", sequencesPerRequest: 8, maxTopK: 20, strings, bosId: BOS });
}

describe("vLLM prompt_logprobs (id-keyed dicts with rank)", () => {
  const vllm = completions("vllm");
  const ids = [BOS, THE, CAT, C];
  const seq: ScoreSequence = { ids, positions: [1, 2, 3] };
  const body = {
    id: "cmpl-1",
    object: "text_completion",
    choices: [
      {
        index: 0,
        text: "x",
        prompt_token_ids: ids,
        prompt_logprobs: [
          null,
          { [THE]: { logprob: -1.5, rank: 2, decoded_token: " the" }, "68": { logprob: -0.5, rank: 1, decoded_token: "c" }, "100": { logprob: -2.0, rank: 3, decoded_token: "\uFFFD" } },
          // The actual token ranks 57th: vLLM still gives its logprob, next to the top-3.
          { [CAT]: { logprob: -9.1, rank: 57, decoded_token: " cat" }, "5": { logprob: -0.2, rank: 1 }, "6": { logprob: -1.0, rank: 2 }, "7": { logprob: -1.1, rank: 3 } },
          { [C]: { logprob: -9999.0, rank: 4000 }, "8": { logprob: -0.1, rank: 1 }, "9": { logprob: -2.5, rank: 2 }, "10": { logprob: -3.5, rank: 3 } },
        ],
        finish_reason: "length",
      },
    ],
  };

  it("asks for prompt_logprobs on token-id prompts, cut after the last scored position", () => {
    const req = vllm.request([{ ids: [...ids, 11, 12], positions: [2] }], 3);
    expect(req).toMatchObject({ model: "m", prompt: [[BOS, THE, CAT]], prompt_logprobs: 3, max_tokens: 1, temperature: 0, return_token_ids: true });
    expect(req).not.toHaveProperty("logprobs");
  });

  it("reads the actual token's logprob and rank, and the top-k without it when it ranks below k", () => {
    const [r] = vllm.parse(body, [seq], 3);
    const [p1, p2, p3] = r!.positions;
    expect(p1).toEqual({ position: 1, logprob: -1.5, topK: [68, THE, 100], topKLogprobs: [-0.5, -1.5, -2.0], rank: 2 });
    expect(p2).toEqual({ position: 2, logprob: -9.1, topK: [5, 6, 7], topKLogprobs: [-0.2, -1.0, -1.1], rank: 57 });
    expect(p3!.logprob).toBe(-9999); // vLLM's clamp of -inf
    expect(p3!.topK).toEqual([8, 9, 10]);
  });

  it("sorts dicts without ranks by logprob", () => {
    const noRank = structuredClone(body);
    for (const e of noRank.choices[0]!.prompt_logprobs.slice(1)) for (const v of Object.values(e!)) delete (v as { rank?: number }).rank;
    const [r] = vllm.parse(noRank, [seq], 3);
    expect(r!.positions[0]!.topK).toEqual([68, THE, 100]);
    expect(r!.positions[0]!.rank).toBe(2);
    expect(r!.positions[1]!.topK).toEqual([5, 6, 7]); // the actual, ranked lowest, falls outside
    expect(r!.positions[1]!.rank).toBeUndefined();
  });

  it("reads multi-byte characters by id, whatever decoded_token says", () => {
    const smile = [BOS, ...SMILE];
    const pl = [null, ...SMILE.map((id, i) => ({ [id]: { logprob: -1 - i, rank: 1, decoded_token: "\uFFFD" }, "3": { logprob: -5, rank: 2, decoded_token: "\uFFFD" } }))];
    const [r] = vllm.parse({ choices: [{ index: 0, prompt_logprobs: pl }] }, [{ ids: smile, positions: [1, 2, 3, 4] }], 2);
    expect(r!.positions.map((p) => p.logprob)).toEqual([-1, -2, -3, -4]);
    expect(r!.positions.map((p) => p.topK[0])).toEqual(SMILE);
  });

  it("fails on a BOS the server added, on other id changes, and on entries that lack the sent token", () => {
    const sent = [THE, CAT, C];
    const added = { choices: [{ index: 0, prompt_token_ids: [BOS, ...sent], prompt_logprobs: [null, ...body.choices[0]!.prompt_logprobs.slice(1)] }] };
    expect(() => vllm.parse(added, [{ ids: sent, positions: [1, 2] }], 3)).toThrow(/prepended BOS/);
    const changed = structuredClone(body);
    changed.choices[0]!.prompt_token_ids = [BOS, THE, CAT + 1, C];
    expect(() => vllm.parse(changed, [seq], 3)).toThrow(ScorerMismatchError);
    // An entry that does not list the sent token, even at a position nobody asked for.
    const lacking = structuredClone(body);
    lacking.choices[0]!.prompt_token_ids = undefined as unknown as number[];
    const entry = lacking.choices[0]!.prompt_logprobs[2] as Record<string, unknown>;
    entry[String(CAT + 1)] = entry[String(CAT)];
    delete entry[String(CAT)];
    expect(() => vllm.parse(lacking, [{ ids, positions: [3] }], 3)).toThrow(/prompt_logprobs\[2\] does not list token id/);
  });

  it("fails on a choice count or entry count that does not match what was sent", () => {
    expect(() => vllm.parse(body, [seq, seq], 3)).toThrow(/1 choices .* for 2 prompts/);
    const short = structuredClone(body);
    short.choices[0]!.prompt_logprobs.pop();
    short.choices[0]!.prompt_token_ids = undefined as unknown as number[];
    expect(() => vllm.parse(short, [seq], 3)).toThrow(/3 entries for 4 tokens/);
    expect(() => vllm.parse({ choices: [{ index: 0, text: "x" }] }, [seq], 3)).toThrow(/no prompt_logprobs/);
  });

  it("rejects a body of another shape as a non-retryable ScorerHttpError", () => {
    const err = (() => {
      try {
        vllm.parse({ choices: [{ index: "0", prompt_logprobs: "x" }] }, [seq], 3);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).retryable).toBe(false);
    expect((err as ScorerHttpError).message).toMatch(/choices\[0\]\.index/);
  });

  it("reads the next-token slot from the generated token's top logprobs", () => {
    const req = vllm.request([{ ids, positions: [4] }], 2);
    expect(req).toMatchObject({ logprobs: 2, return_tokens_as_token_ids: true, prompt: [ids] });
    const withNext = structuredClone(body);
    (withNext.choices[0] as Record<string, unknown>).logprobs = {
      tokens: ["token_id:8"],
      token_logprobs: [-0.1],
      top_logprobs: [{ "token_id:8": -0.1, "token_id:9": -2.5 }],
      text_offset: [0],
    };
    const [r] = vllm.parse(withNext, [{ ids, positions: [3, 4] }], 2);
    expect(r!.positions[1]).toEqual({ position: 4, logprob: null, topK: [8, 9], topKLogprobs: [-0.1, -2.5] });
  });
});

describe("legacy echo + logprobs arrays", () => {
  it("vLLM with return_tokens_as_token_ids: first entry null, k+1 entries when the actual is outside", () => {
    const p = completions("vllm-echo");
    const ids = [BOS, THE, CAT];
    expect(p.request([{ ids, positions: [2] }], 2)).toMatchObject({ echo: true, logprobs: 2, max_tokens: 0, return_tokens_as_token_ids: true });
    const body = {
      choices: [
        {
          index: 0,
          logprobs: {
            tokens: ids.map((i) => `token_id:${i}`),
            token_logprobs: [null, -0.7, -6.0],
            top_logprobs: [null, { [`token_id:${THE}`]: -0.7, "token_id:5": -1.2 }, { "token_id:5": -0.3, "token_id:6": -1.9, [`token_id:${CAT}`]: -6.0 }],
            text_offset: [0, 13, 17],
          },
        },
      ],
    };
    const [r] = p.parse(body, [{ ids, positions: [1, 2] }], 2);
    expect(r!.positions[0]).toEqual({ position: 1, logprob: -0.7, topK: [THE, 5], topKLogprobs: [-0.7, -1.2], rank: 1 });
    expect(r!.positions[1]).toEqual({ position: 2, logprob: -6.0, topK: [5, 6], topKLogprobs: [-0.3, -1.9] });
  });

  it("a server that stopped at EOS without an entry for it gives no next-token alternatives, not an error", () => {
    const p = completions("openai");
    const ids = [BOS, THE, CAT];
    const body = { choices: [{ index: 0, finish_reason: "stop", logprobs: { tokens: ["<|endoftext|>", " the", " cat"], token_logprobs: [null, -1, -2], top_logprobs: [null, { " the": -1 }, { " cat": -2 }] } }] };
    const [r] = p.parse(body, [{ ids, positions: [2, 3] }], 1);
    expect(r!.positions[0]!.logprob).toBe(-2);
    expect(r!.positions[1]).toEqual({ position: 3, logprob: null, topK: [], topKLogprobs: [] });
  });

  it("a null token_logprob comes back as null, and the engine then fails clearly", () => {
    const p = completions("vllm-echo");
    const ids = [BOS, THE, CAT];
    const body = { choices: [{ index: 0, logprobs: { tokens: ids.map((i) => `token_id:${i}`), token_logprobs: [null, -0.7, null], top_logprobs: [null, null, null] } }] };
    const [r] = p.parse(body, [{ ids, positions: [2] }], 2);
    expect(r!.positions[0]).toEqual({ position: 2, logprob: null, topK: [], topKLogprobs: [] });
    expect(() => probabilityOf(r!.positions[0]!.logprob, "scoring the unperturbed completion at position 2")).toThrow(/scoring the unperturbed completion at position 2/);
  });

  it("OpenAI: string tokens, bytes: forms for partial UTF-8, string-keyed dicts mapped back to ids", () => {
    const p = completions("openai");
    const ids = [BOS, ...SMILE, THE];
    const name = (id: number): string => strings.forms(id).find((f) => f.startsWith("bytes:")) ?? tok.tokenText(id);
    expect(name(SMILE[0]!)).toBe("bytes:\\xf0");
    const req = p.request([{ ids, positions: [5] }], 2);
    expect(req).toMatchObject({ echo: true, logprobs: 2, max_tokens: 0, prompt: [ids] });
    const lps = [null, -3, -0.5, -0.1, -0.05, -2];
    const body = {
      choices: [
        {
          index: 0,
          text: "🙂 the",
          logprobs: {
            tokens: [...ids.map(name), " x"], // one generated token past the prompt (max_tokens 1 servers)
            token_logprobs: [...lps, -0.4],
            top_logprobs: [null, ...ids.slice(1).map((id, i) => ({ [name(id)]: lps[i + 1]!, " and": -0.01 - i })), { " x": -0.4 }],
            text_offset: [-1, -1, -1, -1, -1, -1, -1], // SGLang writes -1; never read
          },
        },
      ],
    };
    const [r] = p.parse(body, [{ ids, positions: [1, 2, 5] }], 2);
    const AND = tok.encode(" and").ids[0]!;
    expect(r!.positions[0]).toEqual({ position: 1, logprob: -3, topK: [AND, SMILE[0]], topKLogprobs: [-0.01, -3], rank: 2 });
    expect(r!.positions[1]!.topK).toEqual([SMILE[1], AND]);
    expect(r!.positions[2]!.logprob).toBe(-2);
  });

  it("resolves \\uFFFD keys only to the actual token with the actual value, and stops the ranking at anything ambiguous", () => {
    const p = completions("openai");
    const ids = [BOS, SMILE[0]!, THE];
    const body = {
      choices: [
        {
          index: 0,
          logprobs: {
            tokens: ["<|endoftext|>", "\uFFFD", " the"],
            token_logprobs: [null, -1.25, -0.5],
            top_logprobs: [null, { "\uFFFD": -1.25, " a": -2 }, { " the": -0.5, "\uFFFD": -0.9, " a": -1.5 }],
          },
        },
      ],
    };
    const [r] = p.parse(body, [{ ids, positions: [1, 2] }], 3);
    const A = tok.encode(" a").ids[0]!;
    expect(r!.positions[0]!.topK).toEqual([SMILE[0], A]);
    // At position 2 the "\uFFFD" entry could be any of many byte tokens: rank 2 is unknown, so the list stops after rank 1.
    expect(r!.positions[1]!.topK).toEqual([THE]);
  });

  it("fails when an echoed token string is not the token sent", () => {
    const p = completions("openai");
    const ids = [BOS, THE, CAT];
    const body = { choices: [{ index: 0, logprobs: { tokens: ["<|endoftext|>", " the", " dog"], token_logprobs: [null, -1, -1], top_logprobs: [null, {}, {}] } }] };
    expect(() => p.parse(body, [{ ids, positions: [2] }], 1)).toThrow(/echoed token " dog" at index 2/);
  });
});

describe("SGLang /generate tuples", () => {
  const p = new SglangProtocol({ endpoint: "http://server", sequencesPerRequest: 8, maxTopK: 20 });
  const ids = [BOS, THE, CAT, C];

  it("asks for logprobs from just before the first scored position", () => {
    expect(p.request([{ ids, positions: [3, 2] }], 2)).toEqual({
      input_ids: [ids],
      sampling_params: { max_new_tokens: 0, temperature: 0 },
      return_logprob: true,
      logprob_start_len: [1],
      top_logprobs_num: 2,
      return_text_in_logprobs: false,
    });
  });

  it("aligns entries by the ids they carry (null first entry at start 0; a single object for one input)", () => {
    const item = {
      text: "",
      meta_info: {
        input_token_logprobs: [
          [null, BOS, null],
          [-1.0, THE, null],
          [-2.0, CAT, " cat"],
          [-3.0, C, null],
        ],
        input_top_logprobs: [
          null,
          [
            [-0.5, 9, null],
            [-1.0, THE, null],
          ],
          [
            [-0.1, 4, null],
            [-0.2, 5, null],
          ],
          [[-1.0, 6, null]],
        ],
      },
    };
    const [r] = p.parse(item, [{ ids, positions: [1, 2, 3] }], 2);
    expect(r!.positions[0]).toEqual({ position: 1, logprob: -1.0, topK: [9, THE], topKLogprobs: [-0.5, -1.0], rank: 2 });
    expect(r!.positions[1]!.rank).toBeUndefined();
    expect(r!.positions[2]!.topK).toEqual([6]);
    // Entries from a later start (logprob_start_len > 0): still aligned by id.
    const later = { meta_info: { input_token_logprobs: item.meta_info.input_token_logprobs.slice(2), input_top_logprobs: item.meta_info.input_top_logprobs.slice(2) } };
    const [r2] = p.parse([later], [{ ids, positions: [3] }], 2);
    expect(r2!.positions[0]!.logprob).toBe(-3.0);
    expect(() => p.parse([later], [{ ids, positions: [1, 3] }], 2)).toThrow(/from index 2 on/);
    const wrong = structuredClone(item);
    wrong.meta_info.input_token_logprobs[2]![1] = CAT + 1;
    expect(() => p.parse([wrong], [{ ids, positions: [2] }], 2)).toThrow(ScorerMismatchError);
  });
});

describe("TGI /generate prefill", () => {
  const ids = [BOS, ...tok.encode("Hello world, the cat").ids];
  const prefill = ids.map((id, i) => ({ id, text: tok.tokenText(id), logprob: i === 0 ? null : -0.1 * i }));
  const tgi = (mode: "probe" | "bound", serverAddsBos = true): TgiProtocol => new TgiProtocol({ endpoint: "http://server", tokenizer: tok, maxTopK: 5, topKMode: mode, serverAddsBos });

  it("sends text without the BOS the server adds, and accepts the prefill that echoes it", () => {
    const p = tgi("bound");
    expect(p.inputFor(ids, "t")).toBe("Hello world, the cat");
    const a = p.parse({ generated_text: "x", details: { prefill, tokens: [] } }, ids, "t");
    expect(a.details.prefill).toHaveLength(ids.length);
  });

  it("sends the BOS as text when the server does not add one", () => {
    expect(tgi("bound", false).inputFor(ids, "t")).toBe("<|endoftext|>Hello world, the cat");
  });

  it("refuses a BOS the server added to a sequence without one", () => {
    const noBos = ids.slice(1);
    expect(() => tgi("bound").inputFor(noBos, "t")).toThrow(/set add_bos: true/);
    expect(() => tgi("bound", false).parse({ details: { prefill } }, noBos, "t")).toThrow(/prepended BOS/);
  });

  it("refuses ids whose text re-tokenises differently, before sending anything", () => {
    const split = [BOS, ...tok.encode(" the").ids.flatMap(() => [tok.encode(" t").ids[0]!, tok.encode("he").ids[0]!])];
    expect(() => tgi("probe").inputFor(split, "t")).toThrow(/re-tokenises differently/);
  });

  it("says how to start TGI when prefill logprobs are off", () => {
    expect(() => tgi("probe").parse({ details: { prefill: [], tokens: [] } }, ids, "t")).toThrow(ScorerUnsupportedError);
  });

  it("bound mode lists the actual token only when p > 1/(k+1) proves it is in the top-k", async () => {
    const lp = [null, Math.log(0.6), Math.log(0.3), Math.log(0.2), Math.log(0.26)];
    const five = ids.slice(0, 5);
    const send: Send = <T>(_path: string, _body: unknown, parse: (json: unknown) => T) =>
      Promise.resolve(parse({ details: { prefill: five.map((id, i) => ({ id, text: "", logprob: lp[i] })), tokens: [] } }));
    const [r] = await tgi("bound").scoreGroup([{ ids: five, positions: [1, 2, 3, 4] }], 3, send);
    expect(r!.positions.map((p) => p.topK)).toEqual([[five[1]], [five[2]], [], [five[4]]]);
    expect(r!.positions[0]!.rank).toBe(1); // p > 1/2: certainly the argmax
    expect(r!.positions[1]!.rank).toBeUndefined();
  });
});

describe("echo checks", () => {
  it("name the first differing index", () => {
    expect(() => checkEchoedIds({ what: "w", sent: [1, 2, 3] }, [1, 2, 4])).toThrow(/index 2/);
    expect(() => checkEchoedIds({ what: "w", sent: [1, 2, 3] }, [1, 2])).toThrow(/2 prompt entries for 3/);
    expect(() => checkEchoedIds({ what: "w", sent: [1, 2] }, [1, 2, 99])).not.toThrow(); // generated entries after the prompt
  });

  it("compare token strings leniently only where a string cannot name a token", () => {
    expect(() => checkEchoedTokens({ what: "w", sent: [THE, SMILE[0]!] }, [" the", "\uFFFD"], strings)).not.toThrow();
    expect(() => checkEchoedTokens({ what: "w", sent: [THE, SMILE[0]!] }, ["Ġthe", "bytes:\\xf0"], strings)).not.toThrow();
    expect(() => checkEchoedTokens({ what: "w", sent: [THE, CAT] }, [" the", "\uFFFD"], strings)).toThrow(ScorerMismatchError);
    expect(() => checkEchoedTokens({ what: "w", sent: [THE] }, ["token_id:7"], strings)).toThrow(ScorerMismatchError);
  });
});
