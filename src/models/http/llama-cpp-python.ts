/**
 * llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`, models loaded with
 * `logits_all`, the server's default) as a scorer, through `/v1/completions` with `echo` +
 * `logprobs`. Measured against 0.3.36 (docs/endpoints.md#llama-cpp-python):
 *
 * - **Text prompts only, one per request.** Token-id prompts and prompt lists get HTTP 500. The
 *   ids are decoded with the local tokenizer and re-encoded before sending: a sequence whose text
 *   does not come back as the same ids is refused (ScorerMismatchError), and the echoed token
 *   strings are checked on return. Parallelism is by concurrent requests (the server still runs
 *   one at a time).
 * - **Aligned only after a BOS.** The server pairs echoed token j with the logits row j. When the
 *   prompt's first token is the model's BOS it drops that token first, so each token gets the
 *   distribution of its own slot; otherwise every token is scored with the distribution *after*
 *   it (shifted by one), and the right value is not in the answer at all (only inside the top-k,
 *   when the token is ranked there). So sequences must start with BOS: chat-template prompts that
 *   open with it, or `add_bos: true`; others are refused with that fix. The start-up self-test's
 *   alignment check proves the mapping on the live server.
 * - Tokens equal to the BOS id get no entry anywhere in the sequence (the server skips them), and
 *   the first entry is nulled (OpenAI's convention), so position 1 has no value.
 * - `max_tokens: 0` means "generate to the end of the context": requests use 1; the generated
 *   token's entry is the next-token slot (absent when the greedy token is end-of-text, which the
 *   server does not report).
 * - Top-k lists are keyed by each token's text; a key several ids share (special tokens all read
 *   "") ends the ranked list there.
 * - Python exceptions come back as HTTP 500 with an error body: the transport treats those as
 *   final answers (not retried, not counted by the breaker).
 */
import { z } from "zod";
import { ScorerMismatchError, ScorerUnsupportedError } from "../../errors.js";
import type { TextTokenizer } from "../../text/tokenizer.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence } from "../../attribution/scorer.js";
import { legacyLogprobsSchema } from "./completions.js";
import { firstDifference, idsNeeded, parseBody, rankInTop, scoredPosition, type ScoringProtocol, type Send } from "./protocol.js";
import type { TokenStrings } from "./tokens.js";
import type { HttpTransport } from "./transport.js";

const PATH = "/v1/completions";

const answerSchema = z
  .object({
    choices: z.array(z.object({ index: z.number().int().optional(), text: z.string(), logprobs: legacyLogprobsSchema.nullish(), finish_reason: z.string().nullish() }).loose()).length(1),
  })
  .loose();
type Logprobs = z.infer<typeof legacyLogprobsSchema>;

export interface LlamaCppPythonOptions {
  readonly model: string;
  /** Redacted base URL, for errors. */
  readonly endpoint: string;
  readonly tokenizer: TextTokenizer;
  readonly strings: TokenStrings;
  readonly maxTopK: number;
  /** The model's BOS id (the server's `token_bos()`). */
  readonly bosId: number;
  /** Whether the server prepends BOS itself (the GGUF's add_bos_token); found at start-up. */
  readonly serverAddsBos: boolean;
}

export class LlamaCppPythonProtocol implements ScoringProtocol {
  readonly kind = "llama-cpp-python" as const;
  readonly label = "llama-cpp-python /v1/completions with echo + logprobs (text prompts, re-tokenisation checked, one per request)";
  readonly sequencesPerRequest = 1;
  readonly maxTopK: number;
  readonly topKAtPromptPositions = true;
  readonly acceptsTokenIds = false;
  readonly canGenerate = true;

  constructor(private readonly opts: LlamaCppPythonOptions) {
    this.maxTopK = opts.maxTopK;
  }

  get requiredFirstId(): number {
    return this.opts.bosId;
  }

  /** The prompt text for `ids` (which must start with BOS), checked to re-tokenise to them. */
  inputFor(ids: readonly number[], what: string): string {
    const { tokenizer: tok, bosId } = this.opts;
    if (ids[0] !== bosId) {
      throw new ScorerUnsupportedError({
        what,
        why: `llama-cpp-python scores echoed prompt tokens one position late (each with the distribution after it) unless the prompt starts with the model's BOS token (id ${bosId}, ${JSON.stringify(tok.tokenText(bosId))}), and this sequence starts with id ${ids[0] ?? "none"}; set add_bos: true, or use a chat template whose prompts start with BOS`,
        details: { first: ids[0], bos: bosId },
      });
    }
    const body = this.opts.serverAddsBos ? ids.slice(1) : ids;
    const text = tok.decode(body);
    const back = tok.encode(text).ids;
    const diff = firstDifference(body, back);
    if (diff !== undefined) {
      const at = diff + (body === ids ? 0 : 1);
      throw new ScorerMismatchError({
        what,
        why: `llama-cpp-python takes text prompts only, and these ids decode to text that re-tokenises differently (index ${at}: id ${body[diff] ?? "none"} becomes ${back[diff] ?? "none"}), so the server would score another sequence; serve the model with vLLM or SGLang (token-id prompts) for perturbations that do not round-trip`,
        details: { index: at, sent: body[diff], retokenised: back[diff] },
      });
    }
    return text;
  }

  /** Whether `ids` reach the server as themselves (their text re-tokenises to them); a missing BOS is left to fail loudly when scored. */
  accepts(ids: readonly number[]): boolean {
    if (ids[0] !== this.opts.bosId) return true;
    const body = this.opts.serverAddsBos ? ids.slice(1) : ids;
    return firstDifference(body, this.opts.tokenizer.encode(this.opts.tokenizer.decode(body)).ids) === undefined;
  }

  request(prompt: string, k: number): Record<string, unknown> {
    // max_tokens 0 would generate to the end of the context on this server.
    return { model: this.opts.model, prompt, echo: true, logprobs: k, max_tokens: 1, temperature: 0 };
  }

  async scoreGroup(group: readonly ScoreSequence[], k: number, send: Send): Promise<ScoredSequence[]> {
    // The server takes one prompt per request: the group is answered by concurrent requests.
    return Promise.all(group.map((s) => this.scoreOne(s, k, send)));
  }

  private async scoreOne(s: ScoreSequence, k: number, send: Send): Promise<ScoredSequence> {
    const ids = idsNeeded(s);
    const prompt = this.inputFor(ids, `scoring through POST ${PATH} on ${this.opts.endpoint}`);
    return send(PATH, this.request(prompt, k), (json) => this.parse(json, s, ids, k), { sequences: 1, promptTokens: ids.length });
  }

  /** Map the echoed entries back to positions: entry e(p) holds position p's own slot. */
  parse(json: unknown, s: ScoreSequence, ids: readonly number[], k: number): ScoredSequence {
    const what = `reading the answer of POST ${PATH}`;
    const body = parseBody(answerSchema, json, what, this.opts.endpoint);
    const lp = body.choices[0]?.logprobs;
    if (!lp) throw new ScorerMismatchError({ what, why: "the answer has no logprobs; load the model with logits_all (the server's --logits_all true, its default)" });
    const bos = this.opts.bosId;
    // Entry index of each position 1..n-1 (BOS tokens have none); the generated token comes next.
    const entryOf = new Map<number, number>();
    let e = 0;
    for (let p = 1; p < ids.length; p++) if (ids[p] !== bos) entryOf.set(p, e++);
    const expected = e;
    const n = Math.min(lp.tokens.length, lp.token_logprobs.length);
    if (n < expected) {
      throw new ScorerMismatchError({
        what,
        why: `the server echoed ${n} tokens where ${expected} were expected for ${ids.length} sent; it tokenised the prompt differently`,
        details: { sent: ids.length, expected, returned: n },
      });
    }
    for (const [p, at] of entryOf) {
      const key = lp.tokens[at] as string;
      const id = ids[p] as number;
      if (!this.echoMatches(key, id)) {
        throw new ScorerMismatchError({
          what,
          why: `the server echoed ${JSON.stringify(key)} at index ${p} where id ${id} (${JSON.stringify(this.opts.tokenizer.tokenText(id))}) was sent; its logprobs would be for another text (tokenizer mismatch?)`,
          details: { index: p, sent: id, returned: key },
        });
      }
    }
    const positions = s.positions.map((p): ScoredPosition => {
      if (p === s.ids.length) {
        // The generated token's entry, when the server reported one (not for end-of-text).
        return expected < n ? scoredPosition(p, null, this.top(lp, expected, k, undefined, null)) : scoredPosition(p, null, { ids: [], logprobs: [] });
      }
      const at = entryOf.get(p);
      if (at === undefined) return scoredPosition(p, null, { ids: [], logprobs: [] });
      const actual = ids[p] as number;
      const logprob = lp.token_logprobs[at] ?? null;
      const top = this.top(lp, at, k, actual, logprob);
      return scoredPosition(p, logprob, top, rankInTop(actual, top.ids));
    });
    return { positions };
  }

  private top(lp: Logprobs, at: number, k: number, actual: number | undefined, logprob: number | null): { ids: number[]; logprobs: number[] } {
    const dict = lp.top_logprobs?.[at] ?? null;
    if (dict === null) return { ids: [], logprobs: [] };
    return this.opts.strings.resolveTop(dict, k, actual, logprob);
  }

  /** The server writes each token detokenised alone: special tokens and partial UTF-8 come back as "". */
  private echoMatches(key: string, id: number): boolean {
    if (this.opts.strings.matches(key, id)) return true;
    if (key !== "") return false;
    const tok = this.opts.tokenizer;
    return tok.specialIds.has(id) || tok.tokenText(id).includes("\uFFFD");
  }

  /** Greedy generation: the server answers with text, which is re-tokenised locally and checked. */
  async generate(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number>, send: Send): Promise<number[]> {
    const what = `generating through POST ${PATH} on ${this.opts.endpoint}`;
    const prompt = this.inputFor(ids, what);
    const text = await send(
      PATH,
      { model: this.opts.model, prompt, max_tokens: maxNewTokens, temperature: 0 },
      (json) => (parseBody(answerSchema, json, what, this.opts.endpoint).choices[0]?.text ?? ""),
      { sequences: 1, promptTokens: ids.length },
    );
    const out = this.opts.tokenizer.encode(text).ids;
    const stop = out.findIndex((id) => stopIds.has(id));
    return (stop < 0 ? out : out.slice(0, stop)).slice(0, maxNewTokens);
  }
}

const errorBodySchema = z.object({ error: z.object({ message: z.string(), type: z.string().nullish() }).loose() }).loose();

/**
 * llama-cpp-python answers every exception raised while handling a request with HTTP 500 and an
 * OpenAI-style error body: that answer is final for the request (retrying repeats it). A 500
 * without that body (a proxy, a crash) stays retryable.
 */
export function llamaCppPythonFinalError(status: number, body: string): string | undefined {
  if (status !== 500) return undefined;
  try {
    if (!errorBodySchema.safeParse(JSON.parse(body)).success) return undefined;
  } catch {
    return undefined;
  }
  return "llama-cpp-python raised an exception for this request (its 500s are final answers, not outages; not retried)";
}

const tokenizeSchema = z.object({ tokens: z.array(z.number().int()) }).loose();
const BOS_PROBE_TEXT = "Hello world";

/**
 * Whether the server prepends BOS to text prompts (the GGUF's add_bos_token): its
 * `/extras/tokenize` applies the same rule. Also fails early when the tokenizers disagree.
 */
export async function detectLlamaCppPythonBos(transport: HttpTransport, model: string, tokenizer: TextTokenizer, bosId: number, signal?: AbortSignal): Promise<boolean> {
  const what = `checking how llama-cpp-python at ${transport.endpoint} tokenises its prompts`;
  const json = await transport.postJson("/extras/tokenize", { model, input: BOS_PROBE_TEXT }, signal);
  const remote = parseBody(tokenizeSchema, json, what, transport.endpoint).tokens;
  const local = tokenizer.encode(BOS_PROBE_TEXT).ids;
  if (firstDifference(remote, local) === undefined) return false;
  if (remote[0] === bosId && firstDifference(remote.slice(1), local) === undefined) return true;
  throw new ScorerMismatchError({
    what,
    why: `the server tokenises ${JSON.stringify(BOS_PROBE_TEXT)} as ${JSON.stringify(remote)}, the local tokenizer as ${JSON.stringify(local)}; point tokenizer at the served model's tokenizer.json (deploy/llama-cpp/tokenizer_from_gguf.py writes it from the GGUF)`,
  });
}
