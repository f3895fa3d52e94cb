/**
 * Scoring through `/v1/completions` with token-id prompts, in three flavours:
 *
 * - `vllm`: vLLM's `prompt_logprobs: k` (max_tokens 1). Each choice's `prompt_logprobs` is
 *   `[null, {"<id>": {logprob, rank, decoded_token}}, …]`: id-keyed, and it holds the actual
 *   token with its true rank even when that is outside the top-k. The cleanest shape.
 * - `vllm-echo`: `echo: true, logprobs: k, max_tokens: 0` with `return_tokens_as_token_ids`, so
 *   the legacy arrays name tokens `token_id:N`.
 * - `openai`: legacy OpenAI `echo` + `logprobs` (max 5); tokens are strings (OpenAI writes
 *   partial UTF-8 as `bytes:\xe2\x80`) and are mapped back to ids with the local tokenizer.
 *
 * A list of id prompts is one batch; choices come back in prompt order (`index`). Only the ids
 * up to the last scored position are sent; results are sliced by count and every echoed id is
 * checked against what was sent (@see docs/endpoints.md).
 */
import { z } from "zod";
import { ScorerMismatchError } from "../../errors.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence } from "../../attribution/scorer.js";
import { idsNeeded, parseBody, rankInTop, scoredPosition, topOf, wantsNextSlot, type ScoringProtocol, type Send } from "./protocol.js";
import { checkEchoedIds, checkEchoedTokens, idFromKey, type TokenStrings } from "./tokens.js";

const promptLogprobEntrySchema = z
  .object({ logprob: z.number(), rank: z.number().int().nullish(), decoded_token: z.string().nullish() })
  .loose();
/** vLLM `prompt_logprobs`: entry 0 is null; keys are token ids as strings. */
export const promptLogprobsSchema = z.array(z.record(z.string(), promptLogprobEntrySchema).nullable());

/** The legacy OpenAI `logprobs` object (vLLM, SGLang and OpenAI share it). */
export const legacyLogprobsSchema = z
  .object({
    tokens: z.array(z.string()),
    token_logprobs: z.array(z.number().nullable()),
    top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullish(),
    text_offset: z.array(z.number()).nullish(),
  })
  .loose();

const choiceSchema = z
  .object({
    index: z.number().int().min(0),
    text: z.string().nullish(),
    logprobs: legacyLogprobsSchema.nullish(),
    prompt_logprobs: promptLogprobsSchema.nullish(),
    prompt_token_ids: z.array(z.number().int()).nullish(),
    token_ids: z.array(z.number().int()).nullish(),
    finish_reason: z.string().nullish(),
  })
  .loose();

export const completionResponseSchema = z.object({ choices: z.array(choiceSchema) }).loose();
export type CompletionResponse = z.infer<typeof completionResponseSchema>;
type Choice = z.infer<typeof choiceSchema>;

export type CompletionsFlavour = "vllm" | "vllm-echo" | "openai";

export interface CompletionsOptions {
  readonly flavour: CompletionsFlavour;
  readonly model: string;
  /** Redacted base URL, for errors. */
  readonly endpoint: string;
  readonly sequencesPerRequest: number;
  readonly maxTopK: number;
  readonly strings: TokenStrings;
  readonly bosId?: number | undefined;
  /** Echo flavours: `max_tokens` when no next-token slot is asked for (0 where the server allows it). */
  readonly echoMaxTokens?: 0 | 1;
}

const PATH = "/v1/completions";

export class CompletionsProtocol implements ScoringProtocol {
  readonly kind: CompletionsFlavour;
  readonly label: string;
  readonly sequencesPerRequest: number;
  readonly maxTopK: number;
  readonly topKAtPromptPositions = true;
  readonly acceptsTokenIds = true;

  constructor(private readonly opts: CompletionsOptions) {
    this.kind = opts.flavour;
    this.sequencesPerRequest = opts.sequencesPerRequest;
    this.maxTopK = opts.maxTopK;
    this.label =
      opts.flavour === "vllm"
        ? "vLLM /v1/completions with prompt_logprobs (token-id prompts)"
        : opts.flavour === "vllm-echo"
          ? "vLLM /v1/completions with echo + logprobs (token-id prompts, return_tokens_as_token_ids)"
          : "OpenAI-compatible legacy /v1/completions with echo + logprobs (token-id prompts)";
  }

  /** The request body for one group. */
  request(group: readonly ScoreSequence[], k: number): Record<string, unknown> {
    const prompts = group.map((s) => [...idsNeeded(s)]);
    const next = group.some(wantsNextSlot);
    const base = { model: this.opts.model, prompt: prompts, temperature: 0 };
    if (this.opts.flavour === "vllm") {
      return {
        ...base,
        max_tokens: 1,
        prompt_logprobs: k,
        return_token_ids: true,
        ...(next ? { logprobs: k, return_tokens_as_token_ids: true } : {}),
      };
    }
    const maxTokens = next ? 1 : (this.opts.echoMaxTokens ?? 0);
    return {
      ...base,
      echo: true,
      logprobs: k,
      max_tokens: maxTokens,
      ...(this.opts.flavour === "vllm-echo" ? { return_tokens_as_token_ids: true, return_token_ids: true } : {}),
    };
  }

  /** Validate and slice a response body for `group`. */
  parse(json: unknown, group: readonly ScoreSequence[], k: number): ScoredSequence[] {
    const what = `reading the answer of POST ${PATH}`;
    const body = parseBody(completionResponseSchema, json, what, this.opts.endpoint);
    const choices = [...body.choices].sort((a, b) => a.index - b.index);
    if (choices.length !== group.length || choices.some((c, i) => c.index !== i)) {
      throw new ScorerMismatchError({
        what,
        why: `the server returned ${choices.length} choices (indices ${choices.map((c) => c.index).join(",")}) for ${group.length} prompts; it may cap the prompt list (lower max_batch)`,
        details: { sent: group.length, returned: choices.length },
      });
    }
    return group.map((s, i) => {
      const c = choices[i] as Choice;
      const sent = idsNeeded(s);
      const where = `${what}, choice ${i}`;
      if (c.prompt_token_ids) checkEchoedIds({ what: where, sent, bosId: this.opts.bosId }, c.prompt_token_ids);
      return this.opts.flavour === "vllm" ? this.fromPromptLogprobs(c, s, sent, k, where) : this.fromEcho(c, s, sent, k, where);
    });
  }

  async scoreGroup(group: readonly ScoreSequence[], k: number, send: Send): Promise<ScoredSequence[]> {
    const body = this.request(group, k);
    const promptTokens = group.reduce((n, s) => n + idsNeeded(s).length, 0);
    return send(PATH, body, (json) => this.parse(json, group, k), { sequences: group.length, promptTokens });
  }

  private fromPromptLogprobs(c: Choice, s: ScoreSequence, sent: readonly number[], k: number, where: string): ScoredSequence {
    const pl = c.prompt_logprobs;
    if (!pl) {
      throw new ScorerMismatchError({ what: where, why: "the choice has no prompt_logprobs; the server ignored the parameter (use vllm-echo or check the vLLM version)" });
    }
    if (pl.length !== sent.length) {
      throw new ScorerMismatchError({
        what: where,
        why: `prompt_logprobs has ${pl.length} entries for ${sent.length} tokens sent; the server scored a different sequence`,
        details: { sent: sent.length, returned: pl.length },
      });
    }
    // Every entry must list the token that was sent there, requested position or not: an entry
    // without it means the server scored another sequence.
    for (let p = 1; p < sent.length; p++) {
      const entry = pl[p];
      if (entry !== null && entry !== undefined && entry[String(sent[p])] === undefined) {
        throw new ScorerMismatchError({
          what: where,
          why: `prompt_logprobs[${p}] does not list token id ${sent[p]}, which was sent at that index; the server scored another token there`,
          details: { index: p, sent: sent[p], listed: Object.keys(entry) },
        });
      }
    }
    const positions = s.positions.map((p): ScoredPosition => {
      if (p === s.ids.length) return this.nextSlot(c.logprobs?.top_logprobs?.[0] ?? null, p, k);
      const entry = pl[p];
      if (entry === null || entry === undefined) return scoredPosition(p, null, { ids: [], logprobs: [] });
      const actualId = sent[p] as number;
      const pairs: [number, number, number | undefined][] = [];
      for (const [key, v] of Object.entries(entry)) {
        const id = idFromKey(key);
        if (id === undefined) {
          throw new ScorerMismatchError({ what: where, why: `prompt_logprobs[${p}] has key ${JSON.stringify(key)}, which is not a token id` });
        }
        pairs.push([id, v.logprob, v.rank ?? undefined]);
      }
      const actual = pairs.find((e) => e[0] === actualId);
      if (!actual) {
        throw new ScorerMismatchError({
          what: where,
          why: `prompt_logprobs[${p}] does not list token id ${actualId}, which was sent at that index; the server scored another token there`,
          details: { index: p, sent: actualId, listed: pairs.map((e) => e[0]) },
        });
      }
      // The dict holds the top-k plus the actual token; an actual token ranked below k is not part of the top-k.
      const candidates = pairs.filter((e) => !(e[0] === actualId && e[2] !== undefined && e[2] > k)).map((e) => [e[0], e[1]] as const);
      const top = topOf(candidates, k);
      return scoredPosition(p, actual[1], top, actual[2] ?? rankInTop(actualId, top.ids));
    });
    return { positions };
  }

  private fromEcho(c: Choice, s: ScoreSequence, sent: readonly number[], k: number, where: string): ScoredSequence {
    const lp = c.logprobs;
    if (!lp) throw new ScorerMismatchError({ what: where, why: "the choice has no logprobs; the server ignored echo + logprobs (OpenAI chat-era models and llama.cpp do)" });
    // The next-token slot's entry may be missing (a server that stops at EOS without reporting it): then no alternatives.
    const need = sent.length;
    if (lp.tokens.length < need || lp.token_logprobs.length < need) {
      throw new ScorerMismatchError({
        what: where,
        why: `the echoed logprobs cover ${Math.min(lp.tokens.length, lp.token_logprobs.length)} tokens; ${need} were needed (${sent.length} sent)`,
        details: { sent: sent.length, returned: lp.tokens.length },
      });
    }
    const echoedIds = lp.tokens.map(idFromKeyStrict);
    if (echoedIds.every((x) => x !== undefined)) checkEchoedIds({ what: where, sent, bosId: this.opts.bosId }, echoedIds);
    else checkEchoedTokens({ what: where, sent, bosId: this.opts.bosId }, lp.tokens, this.opts.strings);
    const positions = s.positions.map((p): ScoredPosition => {
      if (p === s.ids.length) return this.nextSlot(lp.top_logprobs?.[p] ?? null, p, k);
      const actualId = sent[p] as number;
      const logprob = lp.token_logprobs[p] ?? null;
      const dict = lp.top_logprobs?.[p] ?? null;
      if (dict === null) return scoredPosition(p, logprob, { ids: [], logprobs: [] });
      const top = this.resolve(dict, k, actualId, logprob);
      return scoredPosition(p, logprob, top, rankInTop(actualId, top.ids));
    });
    return { positions };
  }

  private nextSlot(dict: Readonly<Record<string, number>> | null, p: number, k: number): ScoredPosition {
    if (dict === null) return scoredPosition(p, null, { ids: [], logprobs: [] });
    return scoredPosition(p, null, this.resolve(dict, k, undefined, null));
  }

  private resolve(dict: Readonly<Record<string, number>>, k: number, actualId: number | undefined, actualLogprob: number | null): { ids: number[]; logprobs: number[] } {
    const keys = Object.keys(dict);
    if (keys.every((key) => idFromKeyStrict(key) !== undefined)) {
      return topOf(
        Object.entries(dict).map(([key, v]) => [idFromKeyStrict(key) as number, v] as const),
        k,
      );
    }
    return this.opts.strings.resolveTop(dict, k, actualId, actualLogprob);
  }

  /**
   * Greedy generation. vLLM flavours return ids (`token_ids`, `token_id:N`); OpenAI-era servers
   * name generated tokens by text, mapped back to ids through the local tokenizer (each string
   * when it names one token, else the generated text re-tokenised).
   */
  readonly canGenerate = true;

  async generate(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number>, send: Send): Promise<number[]> {
    const openai = this.opts.flavour === "openai";
    const body = {
      model: this.opts.model,
      prompt: [[...ids]],
      max_tokens: maxNewTokens,
      temperature: 0,
      logprobs: 0,
      ...(openai ? {} : { return_tokens_as_token_ids: true, return_token_ids: true, ...(stopIds.size > 0 ? { stop_token_ids: [...stopIds] } : {}) }),
    };
    const out = await send(
      PATH,
      body,
      (json) => {
        const res = parseBody(completionResponseSchema, json, `reading the answer of POST ${PATH}`, this.opts.endpoint);
        const c = res.choices[0];
        const fromTokens = c?.logprobs?.tokens.map(idFromKeyStrict);
        const gen = c?.token_ids ?? (fromTokens?.every((x) => x !== undefined) ? fromTokens : undefined) ?? (openai && c ? this.idsFromText(c) : undefined);
        if (!gen) throw new ScorerMismatchError({ what: "reading generated tokens", why: "the server returned neither token_ids nor token_id:N tokens" });
        return gen;
      },
      { sequences: 1, promptTokens: ids.length },
    );
    const stop = out.findIndex((id) => stopIds.has(id));
    return stop < 0 ? out.slice(0, maxNewTokens) : out.slice(0, stop);
  }

  /** Generated ids from an OpenAI-style choice: its token strings when each names one id, else its text re-tokenised. */
  private idsFromText(c: Choice): number[] | undefined {
    const byString = c.logprobs?.tokens.map((t) => this.opts.strings.idsFor(t));
    if (byString && byString.every((x) => x.length === 1)) return byString.map((x) => x[0] as number);
    return c.text === null || c.text === undefined ? undefined : this.opts.strings.encode(c.text);
  }
}

/** `token_id:N` only (a plain "123" in a string-keyed dict is the text "123"). */
function idFromKeyStrict(key: string): number | undefined {
  return key.startsWith("token_id:") ? idFromKey(key) : undefined;
}
