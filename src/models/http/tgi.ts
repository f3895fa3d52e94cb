/**
 * Hugging Face TGI's `/generate` with `decoder_input_details: true` as a scorer.
 *
 * TGI has two limits that matter for attribution, and this adapter handles both explicitly:
 *
 * 1. **Text only.** `inputs` is a string, so the ids are decoded with the local tokenizer and
 *    TGI re-tokenises them. Before sending, the text is re-encoded locally: a sequence whose
 *    text does not come back as the same ids (common for randomly perturbed sequences) fails
 *    with ScorerMismatchError instead of being scored as another text. TGI's `prefill` ids are
 *    then checked against the ids too. A BOS the server adds is detected at start-up
 *    (`serverAddsBos`): the sequence's own BOS is then left out of the text so the server's
 *    takes its place; a sequence without BOS on such a server is refused (set add_bos).
 * 2. **No top-k at prompt positions** (`capabilities.topKAtPromptPositions` is false). ReAGent's
 *    stopping check needs "is the target in the model's top-k here". `topKMode` decides:
 *    - `probe` (default, exact): for each scored position p, one more request with the prefix
 *      ids[0..p) and `max_new_tokens: 1, top_n_tokens: k` returns the model's real top-k for
 *      that slot (greedy, no sampling processors). Cost: 1 + |positions| requests per sequence.
 *    - `bound` (cheap, sound, conservative): no extra requests; `topK` holds only the actual
 *      token, and only when its own probability proves it is in the top-k (p > 1/(k+1): at most
 *      k-1 other tokens can have a larger share). Otherwise `topK` is empty. Stopping then never
 *      fires early by mistake, but fires later than with exact top-k; results say so through
 *      the scorer's note and id.
 */
import { z } from "zod";
import { ScorerMismatchError, ScorerUnsupportedError } from "../../errors.js";
import type { TextTokenizer } from "../../text/tokenizer.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence } from "../../attribution/scorer.js";
import { firstDifference, idsNeeded, parseBody, rankInTop, scoredPosition, topOf, wantsNextSlot, type ScoringProtocol, type Send } from "./protocol.js";
import { checkEchoedIds } from "./tokens.js";
import type { HttpTransport } from "./transport.js";

const tokenSchema = z
  .object({ id: z.number().int(), text: z.string().nullish(), logprob: z.number().nullable(), special: z.boolean().optional() })
  .loose();
const answerSchema = z
  .object({
    generated_text: z.string().nullish(),
    details: z
      .object({
        prefill: z.array(tokenSchema).nullish(),
        tokens: z.array(tokenSchema).nullish(),
        top_tokens: z.array(z.array(tokenSchema)).nullish(),
      })
      .loose(),
  })
  .loose();
/** `/generate` answers with one object (some proxies wrap it in a list of one). */
export const tgiResponseSchema = z.union([answerSchema, z.array(answerSchema).length(1)]);
type Answer = z.infer<typeof answerSchema>;

export type TgiTopKMode = "probe" | "bound";

export interface TgiOptions {
  readonly endpoint: string;
  readonly tokenizer: TextTokenizer;
  /** TGI's `--max-top-n-tokens` (default 5). */
  readonly maxTopK: number;
  readonly topKMode: TgiTopKMode;
  /** Whether TGI prepends BOS to `inputs` (found by the start-up self-test). */
  readonly serverAddsBos: boolean;
}

const PATH = "/generate";

export class TgiProtocol implements ScoringProtocol {
  readonly kind = "tgi" as const;
  readonly label: string;
  readonly sequencesPerRequest = 1;
  readonly maxTopK: number;
  readonly topKAtPromptPositions = false;
  readonly acceptsTokenIds = false;
  readonly canGenerate = true;
  readonly note: string;
  readonly variant: string;

  constructor(private readonly opts: TgiOptions) {
    this.maxTopK = opts.maxTopK;
    this.variant = `topk-${opts.topKMode}`;
    this.label = `TGI /generate with decoder_input_details (text inputs, re-tokenisation checked; top-k at prompt positions: ${opts.topKMode === "probe" ? "one next-token probe per position" : "probability bound"})`;
    this.note =
      opts.topKMode === "probe"
        ? "scored through TGI: top-k at prompt positions came from one next-token request per position (exact)"
        : "scored through TGI: no top-k at prompt positions; the stopping check used a probability bound (p > 1/(k+1)), so probes may have run longer than with exact top-k";
  }

  /** The text TGI must receive for `ids`, and the ids its prefill must echo. */
  inputFor(ids: readonly number[], what: string): string {
    const tok = this.opts.tokenizer;
    const bos = tok.bosId;
    let body = ids;
    if (this.opts.serverAddsBos && bos !== undefined) {
      if (ids[0] !== bos) {
        throw new ScorerMismatchError({
          what,
          why: `TGI prepends BOS (id ${bos}) to every input and this sequence does not start with it, so TGI would score another context; set add_bos: true for this model`,
        });
      }
      body = ids.slice(1);
    }
    const text = tok.decode(body);
    const back = tok.encode(text).ids;
    const diff = firstDifference(body, back);
    if (diff !== undefined) {
      throw new ScorerMismatchError({
        what,
        why: `TGI takes text only, and these ids decode to text that re-tokenises differently (index ${diff + (body === ids ? 0 : 1)}: id ${body[diff] ?? "none"} becomes ${back[diff] ?? "none"}), so TGI would score another sequence; use vLLM or SGLang, which take token ids, for perturbation-based attribution`,
        details: { index: diff, sent: body[diff], retokenised: back[diff] },
      });
    }
    return text;
  }

  /** Whether `ids` reach TGI as themselves (their text re-tokenises to them); a missing BOS is left to fail loudly when scored. */
  accepts(ids: readonly number[]): boolean {
    const bos = this.opts.tokenizer.bosId;
    if (this.opts.serverAddsBos && bos !== undefined && ids[0] !== bos) return true;
    const body = this.opts.serverAddsBos && bos !== undefined ? ids.slice(1) : ids;
    return firstDifference(body, this.opts.tokenizer.encode(this.opts.tokenizer.decode(body)).ids) === undefined;
  }

  request(inputs: string, topN: number): Record<string, unknown> {
    return {
      inputs,
      parameters: {
        decoder_input_details: true,
        details: true,
        max_new_tokens: 1,
        do_sample: false,
        ...(topN > 0 ? { top_n_tokens: topN } : {}),
      },
    };
  }

  /** Validate one answer: prefill ids must equal `ids`. */
  parse(json: unknown, ids: readonly number[], what: string): Answer {
    const body = parseBody(tgiResponseSchema, json, what, this.opts.endpoint);
    const answer = Array.isArray(body) ? (body[0] as Answer) : body;
    const prefill = answer.details.prefill ?? [];
    if (prefill.length === 0 && ids.length > 0) {
      throw new ScorerUnsupportedError({
        what,
        why: "TGI returned no prefill logprobs; start it with --enable-prefill-logprobs (TGI >= 3.0 turns them off by default)",
      });
    }
    if (prefill.length !== ids.length) {
      if (prefill.length === ids.length + 1) checkEchoedIds({ what, sent: ids, bosId: this.opts.tokenizer.bosId }, prefill.map((t) => t.id));
      throw new ScorerMismatchError({
        what,
        why: `TGI's prefill has ${prefill.length} tokens for ${ids.length} expected; it tokenised the text differently`,
        details: { sent: ids.length, returned: prefill.length },
      });
    }
    checkEchoedIds({ what, sent: ids, bosId: this.opts.tokenizer.bosId }, prefill.map((t) => t.id));
    return answer;
  }

  async scoreGroup(group: readonly ScoreSequence[], k: number, send: Send): Promise<ScoredSequence[]> {
    return Promise.all(group.map((s) => this.scoreOne(s, k, send)));
  }

  private async scoreOne(s: ScoreSequence, k: number, send: Send): Promise<ScoredSequence> {
    const what = `scoring through POST ${PATH} on ${this.opts.endpoint}`;
    const ids = idsNeeded(s);
    const next = wantsNextSlot(s);
    const needMain = next || s.positions.some((p) => p < s.ids.length);
    const probeAt = this.opts.topKMode === "probe" ? [...new Set(s.positions.filter((p) => p < s.ids.length))] : [];
    // Every text is built (and its re-tokenisation checked) before anything is sent.
    const mainInput = needMain ? this.inputFor(ids, what) : undefined;
    const probeInputs = probeAt.map((p) => {
      const prefix = s.ids.slice(0, p);
      // A prefix of just the BOS the server adds itself would be an empty text, which TGI refuses.
      if (this.opts.serverAddsBos && prefix.length === 1 && prefix[0] === this.opts.tokenizer.bosId) return undefined;
      return { prefix, inputs: this.inputFor(prefix, what) };
    });
    const main =
      mainInput === undefined
        ? Promise.resolve(undefined)
        : send(PATH, this.request(mainInput, next ? k : 0), (json) => this.parse(json, ids, `reading the answer of POST ${PATH}`), { sequences: 1, promptTokens: ids.length });
    const probeCalls = probeInputs.map((pi): Promise<Answer | undefined> =>
      pi === undefined
        ? Promise.resolve(undefined)
        : send(PATH, this.request(pi.inputs, k), (json) => this.parse(json, pi.prefix, `reading the answer of a next-token probe (POST ${PATH})`), {
            sequences: 1,
            promptTokens: pi.prefix.length,
          }),
    );
    const [mainAnswer, ...probeAnswers] = await Promise.all([main, ...probeCalls]);
    const probeByPos = new Map(probeAt.map((p, i) => [p, probeAnswers[i]]));
    const prefill = mainAnswer?.details.prefill ?? [];
    const positions = s.positions.map((p): ScoredPosition => {
      if (p === s.ids.length) return scoredPosition(p, null, generatedTop(mainAnswer, k));
      const logprob = prefill[p]?.logprob ?? null;
      const actual = s.ids[p] as number;
      if (this.opts.topKMode === "probe") {
        const top = generatedTop(probeByPos.get(p), k);
        return scoredPosition(p, logprob, top, rankInTop(actual, top.ids));
      }
      // bound: the actual token is provably in the top-k when p > 1/(k+1).
      if (logprob !== null && logprob > -Math.log(k + 1)) {
        return scoredPosition(p, logprob, { ids: [actual], logprobs: [logprob] }, logprob > Math.log(0.5) ? 1 : undefined);
      }
      return scoredPosition(p, logprob, { ids: [], logprobs: [] });
    });
    return { positions };
  }

  async generate(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number>, send: Send): Promise<number[]> {
    const what = `generating through POST ${PATH}`;
    const body = { inputs: this.inputFor(ids, what), parameters: { max_new_tokens: maxNewTokens, do_sample: false, details: true, decoder_input_details: false } };
    const out = await send(
      PATH,
      body,
      (json) => {
        const res = parseBody(tgiResponseSchema, json, what, this.opts.endpoint);
        const answer = Array.isArray(res) ? (res[0] as Answer) : res;
        return (answer.details.tokens ?? []).map((t) => t.id);
      },
      { sequences: 1, promptTokens: ids.length },
    );
    const stop = out.findIndex((id) => stopIds.has(id));
    return stop < 0 ? out : out.slice(0, stop);
  }
}

function generatedTop(answer: Answer | undefined, k: number): { ids: number[]; logprobs: number[] } {
  const list = answer?.details.top_tokens?.[0];
  if (!list) return { ids: [], logprobs: [] };
  return topOf(list.filter((t) => t.logprob !== null).map((t) => [t.id, t.logprob as number] as const), k);
}

/**
 * Whether TGI prepends BOS to `inputs`: score a short text and compare the prefill ids with the
 * local tokenizer. Also fails early when prefill logprobs are off or the tokenizers disagree.
 */
export async function detectTgiServerBos(transport: HttpTransport, tokenizer: TextTokenizer, signal?: AbortSignal): Promise<boolean> {
  const text = "Hello world";
  const what = `checking how TGI at ${transport.endpoint} tokenises its input`;
  const json = await transport.postJson(
    PATH,
    { inputs: text, parameters: { decoder_input_details: true, details: true, max_new_tokens: 1, do_sample: false } },
    signal,
  );
  const body = parseBody(tgiResponseSchema, json, what, transport.endpoint);
  const answer = Array.isArray(body) ? (body[0] as Answer) : body;
  const prefill = (answer.details.prefill ?? []).map((t) => t.id);
  if (prefill.length === 0) {
    throw new ScorerUnsupportedError({ what, why: "TGI returned no prefill logprobs; start it with --enable-prefill-logprobs (TGI >= 3.0 turns them off by default)" });
  }
  const local = tokenizer.encode(text).ids;
  const bos = tokenizer.bosId;
  if (firstDifference(prefill, local) === undefined) return false;
  if (bos !== undefined && prefill[0] === bos && firstDifference(prefill.slice(1), local) === undefined) return true;
  throw new ScorerMismatchError({
    what,
    why: `TGI tokenises ${JSON.stringify(text)} as ${JSON.stringify(prefill)}, the local tokenizer as ${JSON.stringify(local)}; point tokenizer at the served model's tokenizer.json`,
  });
}
