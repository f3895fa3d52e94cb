/**
 * SGLang's native `/generate` as a scorer: `input_ids` (a list is a batch),
 * `sampling_params.max_new_tokens: 0`, `return_logprob`, `logprob_start_len`,
 * `top_logprobs_num`. Answers carry `(logprob, token_id, text)` tuples, so every entry is
 * checked against the ids sent; alignment uses those ids, not the off-by-one semantics of
 * `logprob_start_len`. `logprob_start_len` is set just before the first scored position, which
 * also lets SGLang reuse a cached prefix up to there.
 */
import { z } from "zod";
import { ScorerMismatchError } from "../../errors.js";
import type { ScoreSequence, ScoredPosition, ScoredSequence } from "../../attribution/scorer.js";
import { idsNeeded, parseBody, rankInTop, scoredPosition, topOf, wantsNextSlot, type ScoringProtocol, type Send } from "./protocol.js";
import { checkEchoedIds } from "./tokens.js";

const tupleSchema = z.union([
  z.tuple([z.number().nullable(), z.number().int()]),
  z.tuple([z.number().nullable(), z.number().int(), z.string().nullable()]),
]);
const topListSchema = z.array(tupleSchema).nullable();

const itemSchema = z
  .object({
    meta_info: z
      .object({
        input_token_logprobs: z.array(tupleSchema),
        input_top_logprobs: z.array(topListSchema).nullish(),
        output_token_logprobs: z.array(tupleSchema).nullish(),
        output_top_logprobs: z.array(topListSchema).nullish(),
        prompt_tokens: z.number().int().nullish(),
      })
      .loose(),
  })
  .loose();

const generatedSchema = z.object({ output_ids: z.array(z.number().int()) }).loose();

/** A batch answers with a list; a single input may answer with one object. */
export const sglangResponseSchema = z.union([z.array(itemSchema), itemSchema]);
type Item = z.infer<typeof itemSchema>;

export interface SglangOptions {
  readonly endpoint: string;
  readonly sequencesPerRequest: number;
  readonly maxTopK: number;
}

const PATH = "/generate";

export class SglangProtocol implements ScoringProtocol {
  readonly kind = "sglang" as const;
  readonly label = "SGLang /generate with input_ids, return_logprob, logprob_start_len, top_logprobs_num";
  readonly sequencesPerRequest: number;
  readonly maxTopK: number;
  readonly topKAtPromptPositions = true;
  readonly acceptsTokenIds = true;
  readonly canGenerate = true;

  constructor(private readonly opts: SglangOptions) {
    this.sequencesPerRequest = opts.sequencesPerRequest;
    this.maxTopK = opts.maxTopK;
  }

  request(group: readonly ScoreSequence[], k: number): Record<string, unknown> {
    const next = group.some(wantsNextSlot);
    return {
      input_ids: group.map((s) => [...idsNeeded(s)]),
      sampling_params: { max_new_tokens: next ? 1 : 0, temperature: 0 },
      return_logprob: true,
      // One entry before the first scored position: the alignment is checked by id anyway.
      logprob_start_len: group.map((s) => Math.max(0, Math.min(...s.positions) - 1)),
      top_logprobs_num: k,
      return_text_in_logprobs: false,
    };
  }

  parse(json: unknown, group: readonly ScoreSequence[], k: number): ScoredSequence[] {
    const what = `reading the answer of POST ${PATH}`;
    const body = parseBody(sglangResponseSchema, json, what, this.opts.endpoint);
    const items: Item[] = Array.isArray(body) ? body : [body];
    if (items.length !== group.length) {
      throw new ScorerMismatchError({ what, why: `the server returned ${items.length} results for ${group.length} inputs`, details: { sent: group.length, returned: items.length } });
    }
    return group.map((s, i) => this.fromItem(items[i] as Item, s, k, `${what}, result ${i}`));
  }

  async scoreGroup(group: readonly ScoreSequence[], k: number, send: Send): Promise<ScoredSequence[]> {
    const promptTokens = group.reduce((n, s) => n + idsNeeded(s).length, 0);
    return send(PATH, this.request(group, k), (json) => this.parse(json, group, k), { sequences: group.length, promptTokens });
  }

  async generate(ids: readonly number[], maxNewTokens: number, stopIds: ReadonlySet<number>, send: Send): Promise<number[]> {
    const body = {
      input_ids: [...ids],
      sampling_params: { max_new_tokens: maxNewTokens, temperature: 0, ...(stopIds.size > 0 ? { stop_token_ids: [...stopIds] } : {}) },
    };
    const what = `reading generated tokens from POST ${PATH}`;
    const out = await send(
      PATH,
      body,
      (json) => {
        const item = parseBody(z.union([generatedSchema, z.array(generatedSchema).length(1)]), json, what, this.opts.endpoint);
        return (Array.isArray(item) ? (item[0] as z.infer<typeof generatedSchema>) : item).output_ids;
      },
      { sequences: 1, promptTokens: ids.length },
    );
    const stop = out.findIndex((id) => stopIds.has(id));
    return stop < 0 ? out.slice(0, maxNewTokens) : out.slice(0, stop);
  }

  private fromItem(item: Item, s: ScoreSequence, k: number, where: string): ScoredSequence {
    const sent = idsNeeded(s);
    const entries = item.meta_info.input_token_logprobs;
    const start = sent.length - entries.length;
    if (start < 0) {
      throw new ScorerMismatchError({ what: where, why: `the server returned ${entries.length} input entries for ${sent.length} tokens sent`, details: { sent: sent.length, returned: entries.length } });
    }
    checkEchoedIds({ what: where, sent: sent.slice(start) }, entries.map((e) => e[1]));
    const tops = item.meta_info.input_top_logprobs ?? [];
    const positions = s.positions.map((p): ScoredPosition => {
      if (p === s.ids.length) {
        const list = item.meta_info.output_top_logprobs?.[0] ?? null;
        return scoredPosition(p, null, list ? topOf(list.map((t) => [t[1], t[0] ?? -Infinity] as const), k) : { ids: [], logprobs: [] });
      }
      if (p < start) {
        throw new ScorerMismatchError({ what: where, why: `the server returned logprobs from index ${start} on; position ${p} was asked for (logprob_start_len not honoured?)` });
      }
      const j = p - start;
      const logprob = (entries[j] as z.infer<typeof tupleSchema>)[0];
      const list = tops[j] ?? null;
      const top = list ? topOf(list.filter((t) => t[0] !== null).map((t) => [t[1], t[0] as number] as const), k) : { ids: [], logprobs: [] };
      return scoredPosition(p, logprob, top, rankInTop(sent[p], top.ids));
    });
    return { positions };
  }
}
