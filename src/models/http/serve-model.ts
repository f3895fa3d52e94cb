/**
 * `reagent-stream serve-model`: a vLLM-compatible HTTP server over a local ONNX model, on
 * node:http. It is the project's real HTTP peer in tests and lets users try the endpoint path
 * without a GPU. Routes and shapes follow vLLM's OpenAI server (scoring-endpoints.md §3):
 *
 * - `GET /health`, `GET /version`, `GET /v1/models` (`owned_by: "reagent-stream"`)
 * - `POST /tokenize` `{prompt, add_special_tokens, return_token_strs}` → `{count, max_model_len, tokens, token_strs}`
 * - `POST /detokenize` `{tokens}` → `{prompt}`
 * - `POST /v1/completions`: `prompt` as text, list of texts, ids or list of id lists;
 *   `prompt_logprobs` (id-keyed dicts with rank), `echo` + `logprobs` (legacy arrays, optional
 *   `return_tokens_as_token_ids`), `return_token_ids`, `max_tokens` 0 (with echo) for pure
 *   scoring or >= 1 for greedy generation. Errors use vLLM's `{"error": {message, type, param, code}}`.
 *
 * - `POST /generate`: SGLang's native scoring request (`input_ids`, `return_logprob`,
 *   `logprob_start_len`, `top_logprobs_num`, `sampling_params.max_new_tokens: 0`), so
 *   `sglang+http://…` works against serve-model too, and only the positions asked for are computed.
 *
 * Greedy decoding only (`temperature` must be 0 or absent); no streaming. Passes run one at a
 * time; shutdown finishes in-flight requests first.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { errorMessage } from "../../errors.js";
import { ENGINE_VERSION } from "../../version.js";
import type { PositionScore, ServedModel } from "./served-model.js";

export interface ModelServerOptions {
  readonly model: ServedModel;
  /** Largest `logprobs` / `prompt_logprobs` accepted (vLLM's --max-logprobs, default 20). */
  readonly maxLogprobs?: number;
  /** Longest prompt list per request (vLLM's VLLM_MAX_COMPLETION_PROMPTS). */
  readonly maxPrompts?: number;
  readonly maxBodyBytes?: number;
  /** One line per start, stop and server-side failure; normal requests log nothing. */
  readonly log?: (line: string) => void;
  /**
   * When set, every route but `GET /health` needs `Authorization: Bearer <apiKey>` (as vLLM's
   * `--api-key`); a missing or wrong token gets 401 and nothing else.
   */
  readonly apiKey?: string | undefined;
}

const idList = z.array(z.number().int()).min(1);
export const completionRequestSchema = z
  .object({
    model: z.string().nullish(),
    prompt: z.union([z.string(), z.array(z.string()).min(1), idList, z.array(idList).min(1)]),
    max_tokens: z.number().int().min(0).nullish(),
    echo: z.boolean().nullish(),
    logprobs: z.number().int().min(0).nullish(),
    prompt_logprobs: z.number().int().min(0).nullish(),
    temperature: z.number().min(0).nullish(),
    n: z.number().int().min(1).nullish(),
    stream: z.boolean().nullish(),
    add_special_tokens: z.boolean().nullish(),
    return_tokens_as_token_ids: z.boolean().nullish(),
    return_token_ids: z.boolean().nullish(),
    stop_token_ids: z.array(z.number().int()).nullish(),
    ignore_eos: z.boolean().nullish(),
    skip_special_tokens: z.boolean().nullish(),
  })
  .loose();
type CompletionRequest = z.infer<typeof completionRequestSchema>;

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t)]);
/** SGLang's native `/generate` (the fields serve-model reads). */
export const sglangGenerateRequestSchema = z
  .object({
    input_ids: z.union([idList, z.array(idList).min(1)]).optional(),
    text: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    sampling_params: z
      .object({ max_new_tokens: z.number().int().min(0).nullish(), temperature: z.number().min(0).nullish(), stop_token_ids: z.array(z.number().int()).nullish(), ignore_eos: z.boolean().nullish() })
      .loose()
      .nullish(),
    return_logprob: oneOrMany(z.boolean()).nullish(),
    logprob_start_len: oneOrMany(z.number().int().min(-1)).nullish(),
    top_logprobs_num: oneOrMany(z.number().int().min(0)).nullish(),
    return_text_in_logprobs: z.boolean().nullish(),
    stream: z.boolean().nullish(),
  })
  .loose();

const tokenizeRequestSchema = z
  .object({ model: z.string().nullish(), prompt: z.string(), add_special_tokens: z.boolean().nullish(), return_token_strs: z.boolean().nullish() })
  .loose();
const detokenizeRequestSchema = z.object({ model: z.string().nullish(), tokens: z.array(z.number().int()) }).loose();

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = status === 404 ? "NotFoundError" : "BadRequestError",
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** Python `len()` of a string: code points, which is what vLLM's text_offset counts. */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class ModelServer {
  readonly server: Server;
  private readonly model: ServedModel;
  private readonly maxLogprobs: number;
  private readonly maxPrompts: number;
  private readonly maxBodyBytes: number;
  private readonly log: (line: string) => void;
  private readonly active = new Set<ServerResponse>();
  private readonly created = Math.floor(Date.now() / 1000);
  private closing: Promise<void> | undefined;
  private readonly apiKey: Buffer | undefined;

  constructor(opts: ModelServerOptions) {
    this.model = opts.model;
    this.apiKey = opts.apiKey === undefined || opts.apiKey === "" ? undefined : Buffer.from(opts.apiKey);
    this.maxLogprobs = opts.maxLogprobs ?? 20;
    this.maxPrompts = opts.maxPrompts ?? 1024;
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.log = opts.log ?? (() => undefined);
    this.server = createServer((req, res) => {
      this.active.add(res);
      res.on("close", () => this.active.delete(res));
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    this.server.keepAliveTimeout = 30_000;
  }

  /** Start listening; resolves with the base URL (port 0 picks a free port). */
  listen(port: number, host = "127.0.0.1"): Promise<{ url: string; port: number; host: string }> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const addr = this.server.address() as AddressInfo;
        const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
        resolve({ url: `http://${shown}:${addr.port}`, port: addr.port, host: addr.address });
      });
    });
  }

  /** Stop accepting, let in-flight requests finish (up to `graceMs`), then release the model. */
  close(graceMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      this.server.closeAllConnections();
      await closed;
      await this.model.close();
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = `${req.method ?? "GET"} ${url.pathname}`;
    if (this.apiKey !== undefined && route !== "GET /health" && !this.authorised(req)) {
      res.setHeader("www-authenticate", "Bearer");
      return this.json(res, 401, { error: "Unauthorized" });
    }
    switch (route) {
      case "GET /health":
        res.writeHead(200).end();
        return;
      case "GET /version":
        return this.json(res, 200, { version: ENGINE_VERSION, server: "reagent-stream serve-model" });
      case "GET /v1/models":
        return this.json(res, 200, {
          object: "list",
          data: [
            {
              id: this.model.name,
              object: "model",
              created: this.created,
              owned_by: "reagent-stream",
              root: this.model.dir,
              parent: null,
              max_model_len: this.model.maxModelLen,
              permission: [],
            },
          ],
        });
      case "POST /tokenize":
      case "POST /v1/tokenize":
        return this.json(res, 200, this.tokenize(await this.body(req)));
      case "POST /generate":
        return this.json(res, 200, await this.sglangGenerate(await this.body(req)));
      case "POST /detokenize":
        return this.json(res, 200, this.detokenize(await this.body(req)));
      case "POST /v1/completions":
        return this.json(res, 200, await this.completions(await this.body(req)));
      default:
        if (["/health", "/version", "/v1/models", "/tokenize", "/v1/tokenize", "/detokenize", "/v1/completions", "/generate"].includes(url.pathname)) {
          return this.json(res, 405, { detail: "Method Not Allowed" });
        }
        return this.json(res, 404, { detail: "Not Found" });
    }
  }

  /** Constant-time comparison of the bearer token with the configured key. */
  private authorised(req: IncomingMessage): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (m === null || this.apiKey === undefined) return false;
    const got = Buffer.from((m[1] as string).trim());
    return got.length === this.apiKey.length && timingSafeEqual(got, this.apiKey);
  }

  private body(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > this.maxBodyBytes) {
          reject(new HttpProblem(413, `request body larger than ${this.maxBodyBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on("error", reject);
      req.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
        } catch (err) {
          reject(new HttpProblem(400, `the body is not valid JSON: ${errorMessage(err)}`));
        }
      });
    });
  }

  private parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
    const r = schema.safeParse(body);
    if (r.success) return r.data;
    const i = r.error.issues[0];
    throw new HttpProblem(400, `${i ? `${i.path.join(".") || "(body)"}: ${i.message}` : "invalid request"}`, "BadRequestError", i?.path.join(".") ?? null);
  }

  private checkModel(name: string | null | undefined): void {
    if (name !== undefined && name !== null && name !== this.model.name) {
      throw new HttpProblem(404, `The model \`${name}\` does not exist.`, "NotFoundError", "model");
    }
  }

  private tokenize(body: unknown): unknown {
    if (body !== null && typeof body === "object" && "messages" in body) {
      throw new HttpProblem(400, "serve-model's /tokenize takes `prompt` only; render chat messages client-side");
    }
    const req = this.parse(tokenizeRequestSchema, body);
    this.checkModel(req.model);
    const tokens = this.model.encode(req.prompt, req.add_special_tokens ?? true);
    return {
      count: tokens.length,
      max_model_len: this.model.maxModelLen,
      tokens,
      token_strs: req.return_token_strs ? tokens.map((id) => this.model.tokenizer.idToToken(id) ?? "") : null,
    };
  }

  private detokenize(body: unknown): unknown {
    const req = this.parse(detokenizeRequestSchema, body);
    this.checkModel(req.model);
    this.checkIds(req.tokens);
    return { prompt: this.model.tokenizer.decode(req.tokens) };
  }

  private checkIds(ids: readonly number[]): void {
    const bad = ids.find((id) => id < 0 || id >= this.model.vocabSize);
    if (bad !== undefined) throw new HttpProblem(400, `Token id ${bad} is out of vocabulary`);
  }

  private async completions(body: unknown): Promise<unknown> {
    const req = this.parse(completionRequestSchema, body);
    this.checkModel(req.model);
    if (req.stream) throw new HttpProblem(400, "serve-model does not stream; send stream: false", "BadRequestError", "stream");
    if ((req.n ?? 1) !== 1) throw new HttpProblem(400, "serve-model returns one choice per prompt; n must be 1", "BadRequestError", "n");
    if ((req.temperature ?? 0) > 0) throw new HttpProblem(400, "serve-model decodes greedily; send temperature: 0", "BadRequestError", "temperature");
    const echo = req.echo ?? false;
    const maxTokens = req.max_tokens ?? 16;
    if (maxTokens === 0 && !echo) throw new HttpProblem(400, "max_tokens must be at least 1, got 0.", "BadRequestError", "max_tokens");
    if (req.logprobs != null && req.logprobs > this.maxLogprobs) {
      throw new HttpProblem(400, `Requested sample logprobs of ${req.logprobs}, which is greater than max allowed: ${this.maxLogprobs}`, "BadRequestError", "logprobs");
    }
    if (req.prompt_logprobs != null && req.prompt_logprobs > this.maxLogprobs) {
      throw new HttpProblem(400, `Requested prompt logprobs of ${req.prompt_logprobs}, which is greater than max allowed: ${this.maxLogprobs}`, "BadRequestError", "prompt_logprobs");
    }
    const addSpecial = req.add_special_tokens ?? true;
    const prompts = this.promptIds(req.prompt, addSpecial);
    if (prompts.length > this.maxPrompts) {
      throw new HttpProblem(400, `prompt list length ${prompts.length} exceeds the maximum allowed count ${this.maxPrompts}`, "BadRequestError", "prompt");
    }
    for (const ids of prompts) {
      if (ids.length === 0) throw new HttpProblem(400, "Prompt cannot be empty", "BadRequestError", "prompt");
      this.checkIds(ids);
      if (ids.length + maxTokens > this.model.maxModelLen) {
        throw new HttpProblem(
          400,
          `This model's maximum context length is ${this.model.maxModelLen} tokens. However, you requested ${ids.length + maxTokens} tokens (${ids.length} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
        );
      }
    }

    // vLLM: with echo, prompt logprobs default to `logprobs`.
    const promptK = req.prompt_logprobs ?? (echo ? (req.logprobs ?? undefined) : undefined);
    const sampleK = req.logprobs ?? undefined;
    const k = Math.max(1, promptK ?? 0, sampleK ?? 0);
    const scored = await this.model.scoreRows(
      prompts.map((ids) => ({ ids, from: promptK === undefined ? ids.length : 1, next: maxTokens > 0 })),
      k,
    );
    const generated =
      maxTokens > 0
        ? await this.model.generate(
            prompts,
            scored.map((s) => s.next),
            maxTokens,
            k,
            { ignoreEos: req.ignore_eos ?? false, stopIds: new Set(req.stop_token_ids ?? []) },
          )
        : prompts.map(() => ({ ids: [] as number[], scores: [] as PositionScore[], stopped: false }));

    const asIds = req.return_tokens_as_token_ids ?? false;
    const tokenName = (id: number): string => (asIds ? `token_id:${id}` : this.model.tokenizer.tokenText(id));
    const dict = (s: PositionScore, actual: number | undefined, kk: number): Record<string, number> => {
      const d: Record<string, number> = {};
      for (const t of s.top.slice(0, kk)) d[tokenName(t.id)] = t.logprob;
      if (actual !== undefined && s.logprob !== null) d[tokenName(actual)] = s.logprob;
      return d;
    };
    let promptTokens = 0;
    let completionTokens = 0;
    const choices = prompts.map((ids, index) => {
      const sc = scored[index] as (typeof scored)[number];
      const gen = generated[index] as (typeof generated)[number];
      promptTokens += ids.length;
      completionTokens += gen.ids.length;
      const skip = req.skip_special_tokens ?? true;
      const genText = this.model.tokenizer.decode(gen.ids, { skipSpecialTokens: skip });
      const promptText = typeof req.prompt === "string" ? req.prompt : Array.isArray(req.prompt) && typeof req.prompt[index] === "string" ? (req.prompt[index]) : this.model.tokenizer.decode(ids);
      let logprobs: unknown = null;
      if (sampleK !== undefined) {
        const tokens: string[] = [];
        const tokenLogprobs: (number | null)[] = [];
        const top: (Record<string, number> | null)[] = [];
        if (echo) {
          ids.forEach((id, p) => {
            tokens.push(tokenName(id));
            const s = sc.prompt[p];
            tokenLogprobs.push(p === 0 || !s ? null : s.logprob);
            top.push(p === 0 || !s ? null : dict(s, id, sampleK));
          });
        }
        gen.ids.forEach((id, g) => {
          const s = gen.scores[g] as PositionScore;
          tokens.push(tokenName(id));
          tokenLogprobs.push(s.logprob);
          top.push(dict(s, id, sampleK));
        });
        const textOffset: number[] = [];
        let off = 0;
        for (const t of tokens) {
          textOffset.push(off);
          off += codePoints(t);
        }
        logprobs = { text_offset: textOffset, token_logprobs: tokenLogprobs, tokens, top_logprobs: top };
      }
      const promptLogprobs =
        promptK === undefined
          ? null
          : ids.map((id, p) => {
              const s = sc.prompt[p];
              if (p === 0 || !s) return null;
              const d: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
              s.top.slice(0, promptK).forEach((t, r) => (d[String(t.id)] = { logprob: t.logprob, rank: r + 1, decoded_token: this.model.tokenizer.tokenText(t.id) }));
              d[String(id)] = { logprob: s.logprob as number, rank: s.rank as number, decoded_token: this.model.tokenizer.tokenText(id) };
              return d;
            });
      return {
        index,
        text: echo ? promptText + genText : genText,
        logprobs,
        finish_reason: gen.stopped ? "stop" : "length",
        stop_reason: null,
        prompt_logprobs: promptLogprobs,
        ...(req.return_token_ids ? { prompt_token_ids: ids, token_ids: gen.ids } : {}),
      };
    });
    return {
      id: `cmpl-${randomUUID().replace(/-/g, "")}`,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: this.model.name,
      choices,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens, prompt_tokens_details: null },
    };
  }

  /**
   * SGLang's native `/generate`: `input_ids` (or `text`), one or a list; logprobs as
   * `(logprob, token_id, text)` tuples from `logprob_start_len` on, `top_logprobs_num`
   * alternatives. Only positions from `logprob_start_len` are computed, so scoring a few
   * positions of a long sequence is cheap (SGLang's own reason for the parameter).
   */
  private async sglangGenerate(body: unknown): Promise<unknown> {
    const req = this.parse(sglangGenerateRequestSchema, body);
    if (req.stream) throw new HttpProblem(400, "serve-model does not stream; send stream: false", "BadRequestError", "stream");
    if ((req.sampling_params?.temperature ?? 0) > 0) throw new HttpProblem(400, "serve-model decodes greedily; send temperature: 0", "BadRequestError", "sampling_params.temperature");
    let single: boolean;
    let prompts: number[][];
    if (req.input_ids !== undefined) {
      single = typeof req.input_ids[0] === "number";
      prompts = single ? [[...(req.input_ids as number[])]] : (req.input_ids as number[][]).map((x) => [...x]);
    } else if (req.text !== undefined) {
      single = typeof req.text === "string";
      prompts = (typeof req.text === "string" ? [req.text] : req.text).map((t) => this.model.encode(t, true));
    } else {
      throw new HttpProblem(400, "Either text or input_ids should be provided.");
    }
    if (prompts.length > this.maxPrompts) throw new HttpProblem(400, `batch of ${prompts.length} exceeds the maximum allowed count ${this.maxPrompts}`);
    const maxNew = req.sampling_params?.max_new_tokens ?? 128;
    const at = <T>(v: T | T[] | null | undefined, i: number, def: T): T => (v === null || v === undefined ? def : Array.isArray(v) ? (v[i] ?? def) : v);
    for (const ids of prompts) {
      this.checkIds(ids);
      if (ids.length + maxNew > this.model.maxModelLen) throw new HttpProblem(400, `The input (${ids.length} tokens) is longer than the model's context length (${this.model.maxModelLen} tokens).`);
    }
    const items = prompts.map((ids, i) => {
      const logprob = at(req.return_logprob, i, false);
      const start = at(req.logprob_start_len, i, -1);
      const k = at(req.top_logprobs_num, i, 0);
      if (k > this.maxLogprobs) throw new HttpProblem(400, `top_logprobs_num ${k} is greater than max allowed: ${this.maxLogprobs}`);
      return { ids, logprob, start: logprob ? (start < 0 ? ids.length : Math.min(start, ids.length)) : ids.length, k };
    });
    const k = Math.max(1, ...items.map((x) => x.k));
    const scored = await this.model.scoreRows(
      items.map((x) => ({ ids: x.ids, from: x.start, next: maxNew > 0 })),
      k,
    );
    const stopIds = new Set(req.sampling_params?.stop_token_ids ?? []);
    const gen =
      maxNew > 0
        ? await this.model.generate(prompts, scored.map((s) => s.next), maxNew, k, { ignoreEos: req.sampling_params?.ignore_eos ?? false, stopIds })
        : prompts.map(() => ({ ids: [] as number[], scores: [] as PositionScore[], stopped: false }));
    const withText = req.return_text_in_logprobs ?? false;
    const text = (id: number): string | null => (withText ? this.model.tokenizer.tokenText(id) : null);
    const out = items.map((x, i) => {
      const sc = scored[i] as (typeof scored)[number];
      const g = gen[i] as (typeof gen)[number];
      const tuples = (s: PositionScore | undefined): [number, number, string | null][] | null => (s ? s.top.slice(0, x.k).map((t) => [t.logprob, t.id, text(t.id)]) : null);
      const meta: Record<string, unknown> = {
        id: randomUUID().replace(/-/g, ""),
        prompt_tokens: x.ids.length,
        completion_tokens: g.ids.length,
        cached_tokens: 0,
        finish_reason: g.stopped ? { type: "stop" } : { type: "length", length: g.ids.length },
      };
      if (x.logprob) {
        const tokLp: [number | null, number, string | null][] = [];
        const topLp: ([number, number, string | null][] | null)[] = [];
        for (let t = x.start; t < x.ids.length; t++) {
          const s = sc.prompt[t];
          tokLp.push([t === 0 ? null : (s?.logprob ?? null), x.ids[t] as number, text(x.ids[t] as number)]);
          topLp.push(t === 0 || x.k === 0 ? null : tuples(s));
        }
        meta.input_token_logprobs = tokLp;
        meta.input_top_logprobs = topLp;
        meta.output_token_logprobs = g.ids.map((id, j) => [(g.scores[j] as PositionScore).logprob, id, text(id)]);
        meta.output_top_logprobs = g.scores.map((s) => (x.k === 0 ? null : tuples(s)));
      }
      return { text: this.model.tokenizer.decode(g.ids, { skipSpecialTokens: true }), output_ids: g.ids, meta_info: meta };
    });
    return single ? out[0] : out;
  }

  private promptIds(prompt: CompletionRequest["prompt"], addSpecial: boolean): number[][] {
    if (typeof prompt === "string") return [this.model.encode(prompt, addSpecial)];
    if (prompt.length > 0 && typeof prompt[0] === "number") return [[...(prompt as number[])]];
    return (prompt as (string | number[])[]).map((p) => (typeof p === "string" ? this.model.encode(p, addSpecial) : [...p]));
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const problem = err instanceof HttpProblem ? err : new HttpProblem(500, `internal error: ${errorMessage(err)}`, "InternalServerError");
    if (problem.status >= 500) this.log(`serve-model: ${problem.message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, problem.status, { error: { message: problem.message, type: problem.type, param: problem.param, code: problem.status } });
  }
}
