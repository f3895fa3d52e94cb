/**
 * serve-model speaks vLLM's API (and SGLang's /generate) with the shapes the reference
 * documents, gives the values the in-process scorer gives, and shuts down gracefully.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLocalModel, type LocalModel } from "../../src/models/local-model.js";
import { loadAttributionModel } from "../../src/models/endpoint.js";
import { MODEL_DIR, endpointConfig, inputsFor, startServeModel, type RunningServeModel } from "./fixtures/endpoints.js";

let served: RunningServeModel;
let local: LocalModel;
let ids: number[][];

beforeAll(async () => {
  served = await startServeModel({ maxPrompts: 8 });
  local = await loadLocalModel(MODEL_DIR, { intraOpThreads: 1 });
  ids = inputsFor(local.tokenizer);
});

afterAll(async () => {
  await served?.close();
  await local?.scorer.close();
});

interface Choice {
  index: number;
  text: string;
  logprobs: null | { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] };
  prompt_logprobs: (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] | null;
  prompt_token_ids?: number[];
  token_ids?: number[];
  finish_reason: string;
}
interface Completion {
  object: string;
  choices: Choice[];
  usage: { prompt_tokens: number; completion_tokens: number };
}
interface ErrorBody {
  error: { message: string; type: string; code: number };
}
type Tuple = [number | null, number, string | null];
interface SglangItem {
  meta_info: { input_token_logprobs: Tuple[]; input_top_logprobs: (Tuple[] | null)[]; output_top_logprobs: (Tuple[] | null)[] };
}

async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const r = await fetch(`${served.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, json: (text === "" ? undefined : JSON.parse(text)) as T };
}

describe("serve-model: identity and tokenizer routes", () => {
  it("answers /health, /version and /v1/models", async () => {
    expect((await call("GET", "/health")).status).toBe(200);
    const v = await call("GET", "/version");
    expect(v.json.version).toMatch(/\d+\.\d+/);
    const m = await call<{ object: string; data: unknown[] }>("GET", "/v1/models");
    expect(m.json.object).toBe("list");
    expect(m.json.data[0]).toMatchObject({ id: "tiny-lm", object: "model", owned_by: "reagent-stream", max_model_len: 256 });
  });

  it("tokenizes (with BOS by default, as the model was trained) and detokenizes", async () => {
    type Tok = { tokens: number[]; count: number; max_model_len: number; token_strs: string[] | null };
    const t = await call<Tok>("POST", "/tokenize", { prompt: "Hello world", return_token_strs: true });
    expect(t.json.tokens[0]).toBe(local.tokenizer.bosId);
    expect(t.json.tokens.slice(1)).toEqual(local.tokenizer.encode("Hello world").ids);
    expect(t.json.count).toBe(t.json.tokens.length);
    expect(t.json.max_model_len).toBe(256);
    expect(t.json.token_strs).toHaveLength(t.json.count);
    const plain = await call<Tok>("POST", "/tokenize", { prompt: "Hello world", add_special_tokens: false });
    expect(plain.json.tokens).toEqual(local.tokenizer.encode("Hello world").ids);
    const d = await call<{ prompt: string }>("POST", "/detokenize", { tokens: plain.json.tokens });
    expect(d.json.prompt).toBe("Hello world");
  });
});

describe("serve-model: /v1/completions scoring", () => {
  it("prompt_logprobs: one choice per id prompt, entry 0 null, the actual token with its true rank, values equal in-process", async () => {
    const prompts = ids.slice(0, 2);
    const r = await call<Completion>("POST", "/v1/completions", { model: "tiny-lm", prompt: prompts, max_tokens: 1, prompt_logprobs: 3, return_token_ids: true, temperature: 0 });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe("text_completion");
    expect(r.json.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(r.json.usage.prompt_tokens).toBe(prompts[0]!.length + prompts[1]!.length);
    for (const [i, c] of r.json.choices.entries()) {
      const p = prompts[i]!;
      const pl = c.prompt_logprobs!;
      expect(c.prompt_token_ids).toEqual(p);
      expect(c.token_ids).toHaveLength(1);
      expect(pl).toHaveLength(p.length);
      expect(pl[0]).toBeNull();
      const positions = Array.from({ length: p.length - 1 }, (_, j) => j + 1);
      const [want] = await local.scorer.score([{ ids: p, positions }], { topK: 3 });
      for (const pos of positions) {
        const entry = pl[pos]!;
        const actual = entry[String(p[pos])]!;
        const w = want!.positions[pos - 1]!;
        expect(actual.logprob).toBe(w.logprob);
        expect(actual.rank).toBeGreaterThanOrEqual(1);
        const top = Object.entries(entry)
          .filter(([, v]) => v.rank <= 3)
          .sort((a, b) => a[1].rank - b[1].rank);
        expect(top.map(([id]) => Number(id))).toEqual(w.topK);
        expect(Object.keys(entry).length).toBe(w.topK.includes(p[pos]!) ? 3 : 4);
        expect(actual.rank <= 3).toBe(w.topK.includes(p[pos]!));
        expect(typeof actual.decoded_token).toBe("string");
      }
    }
  });

  it("echo + logprobs with max_tokens 0: legacy arrays over the prompt only, first entry null", async () => {
    const p = ids[0]!;
    const r = await call<Completion>("POST", "/v1/completions", { prompt: p, echo: true, logprobs: 2, max_tokens: 0 });
    expect(r.status).toBe(200);
    const lp = r.json.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(p.length);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs[0]).toBeNull();
    expect(lp.text_offset[0]).toBe(0);
    for (let i = 1; i < p.length; i++) {
      expect(lp.text_offset[i]).toBeGreaterThanOrEqual(lp.text_offset[i - 1]!);
      expect(Object.keys(lp.top_logprobs[i]!).length).toBeLessThanOrEqual(3);
      expect(lp.token_logprobs[i]).toBeLessThanOrEqual(0);
    }
    expect(r.json.usage.completion_tokens).toBe(0);
    expect(r.json.choices[0]!.text).toBe(local.tokenizer.decode(p));
    const asIds = await call<Completion>("POST", "/v1/completions", { prompt: [p], echo: true, logprobs: 2, max_tokens: 0, return_tokens_as_token_ids: true });
    const lp2 = asIds.json.choices[0]!.logprobs!;
    expect(lp2.tokens).toEqual(p.map((id) => `token_id:${id}`));
    for (const d of lp2.top_logprobs.slice(1)) for (const k of Object.keys(d!)) expect(k).toMatch(/^token_id:\d+$/);
  });

  it("text prompts (a list) get BOS, and greedy generation matches the in-process model", async () => {
    const texts = ["Once upon a time", "The weather today"];
    const r = await call<Completion>("POST", "/v1/completions", { prompt: texts, max_tokens: 4, return_token_ids: true });
    expect(r.json.choices).toHaveLength(2);
    for (const [i, c] of r.json.choices.entries()) {
      const p = [local.tokenizer.bosId!, ...local.tokenizer.encode(texts[i]!).ids];
      expect(c.prompt_token_ids).toEqual(p);
      const want = await local.scorer.generate(p, 4, new Set([local.tokenizer.eosId!]));
      // Like vLLM, the EOS that stopped generation is in token_ids (not in the text).
      expect(c.finish_reason === "stop" ? c.token_ids!.slice(0, -1) : c.token_ids).toEqual(want);
      if (c.finish_reason === "stop") expect(c.token_ids!.at(-1)).toBe(local.tokenizer.eosId);
      expect(c.text).toBe(local.tokenizer.decode(want, { skipSpecialTokens: true }));
      expect(c.prompt_logprobs).toBeNull();
      expect(["length", "stop"]).toContain(c.finish_reason);
    }
  });

  it("rejects what vLLM rejects, with vLLM's error shape", async () => {
    const p = ids[0]!;
    const cases: [unknown, number, RegExp][] = [
      [{ prompt: p, max_tokens: 1, prompt_logprobs: 21 }, 400, /greater than max allowed: 20/],
      [{ prompt: p, max_tokens: 1, logprobs: 30 }, 400, /greater than max allowed/],
      [{ prompt: p, max_tokens: 0 }, 400, /max_tokens must be at least 1/],
      [{ prompt: p, stream: true }, 400, /does not stream/],
      [{ prompt: p, temperature: 0.7 }, 400, /greedily/],
      [{ prompt: [p.concat(99999)], max_tokens: 1 }, 400, /out of vocabulary/],
      [{ prompt: Array.from({ length: 300 }, () => 5), max_tokens: 1 }, 400, /maximum context length is 256/],
      [{ prompt: Array.from({ length: 9 }, () => p), max_tokens: 1 }, 400, /exceeds the maximum allowed count 8/],
      [{ model: "other", prompt: p }, 404, /does not exist/],
      [{ prompt: 42 }, 400, /prompt/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await call<ErrorBody>("POST", "/v1/completions", body);
      expect(r.status).toBe(status);
      expect(r.json.error.message).toMatch(msg);
      expect(r.json.error.code).toBe(status);
      expect(typeof r.json.error.type).toBe("string");
    }
    expect((await call("POST", "/v1/completions", "{not json")).status).toBe(400);
    expect((await call("GET", "/v1/completions")).status).toBe(405);
    expect((await call("GET", "/nope")).status).toBe(404);
  });
});

describe("serve-model: SGLang /generate", () => {
  it("returns (logprob, id, text) tuples from logprob_start_len, equal to in-process values", async () => {
    const p = ids[1]!;
    const L = p.length - 4;
    const single = await call<SglangItem>("POST", "/generate", { input_ids: p, sampling_params: { max_new_tokens: 0 }, return_logprob: true, logprob_start_len: L, top_logprobs_num: 3 });
    expect(Array.isArray(single.json)).toBe(false);
    const meta = single.json.meta_info;
    expect(meta.input_token_logprobs).toHaveLength(p.length - L);
    expect(meta.input_token_logprobs.map((t) => t[1])).toEqual(p.slice(L));
    const positions = Array.from({ length: p.length - L }, (_, j) => L + j);
    const [want] = await local.scorer.score([{ ids: p, positions }], { topK: 3 });
    positions.forEach((pos, j) => {
      expect(meta.input_token_logprobs[j]![0]).toBe(want!.positions[j]!.logprob);
      expect(meta.input_top_logprobs[j]!.map((t) => t[1])).toEqual(want!.positions[j]!.topK);
    });
    const batch = await call<SglangItem[]>("POST", "/generate", { input_ids: [p, ids[0]], sampling_params: { max_new_tokens: 1 }, return_logprob: true, logprob_start_len: [0, 2], top_logprobs_num: 2 });
    expect(batch.json).toHaveLength(2);
    expect(batch.json[0]!.meta_info.input_token_logprobs[0]![0]).toBeNull();
    expect(batch.json[1]!.meta_info.input_token_logprobs).toHaveLength(ids[0]!.length - 2);
    expect(batch.json[0]!.meta_info.output_top_logprobs[0]).toHaveLength(2);
  });
});

describe("reagent-stream serve-model (CLI process)", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("serves, passes check-model, and on SIGTERM finishes the request in flight before exiting", async () => {
    child = spawn(process.execPath, ["bin/reagent-stream.js", "serve-model", "--model", MODEL_DIR, "--port", "0", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child!.once("exit", () => reject(new Error("serve-model exited early")));
      createInterface({ input: child!.stdout! }).on("line", (line) => {
        const m = /on (http:\/\/\S+)$/.exec(line);
        if (m) resolve(m[1]!);
      });
    });

    const check = spawn(process.execPath, ["bin/reagent-stream.js", "check-model", "--model", `vllm+${url}/tiny-lm`, "--tokenizer", MODEL_DIR], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    check.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const checkCode = await new Promise<number | null>((resolve) => check.once("exit", resolve));
    expect(checkCode).toBe(0);
    expect(out).toMatch(/detected serve-model/);
    expect(out).toMatch(/result: ready/);

    // A request big enough to still be running when SIGTERM arrives.
    const prompts = Array.from({ length: 200 }, (_, i) => ids[i % ids.length]!);
    const inFlight = fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: prompts, max_tokens: 1, prompt_logprobs: 5 }),
    });
    let answered = false;
    void inFlight.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(answered).toBe(false); // still running when the signal comes
    child.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: unknown[] };
    expect(body.choices).toHaveLength(200);
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe("serve-model: optional bearer token (issue 16, item 5)", () => {
  it("with a key, refuses requests without it (401) and serves the scorer that sends it", async () => {
    const guarded = await startServeModel({ apiKey: "t0ken-for-tests" });
    try {
      expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
      expect((await fetch(`${guarded.url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/v1/models`, { headers: { authorization: "Bearer wrong-token-xxxx" } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/v1/models`, { headers: { authorization: "Bearer t0ken-for-tests" } })).status).toBe(200);
      process.env.REAGENT_TEST_SERVE_KEY = "t0ken-for-tests";
      const m = await loadAttributionModel(endpointConfig("vllm", guarded.url, { model: "tiny-lm", api_key_env: "REAGENT_TEST_SERVE_KEY" }));
      try {
        const [row] = await m.scorer.score([{ ids: ids[0]!, positions: [1, 2] }], { topK: 1 });
        expect(row?.positions.map((p) => p.position)).toEqual([1, 2]);
      } finally {
        await m.close();
      }
      await expect(loadAttributionModel(endpointConfig("vllm", guarded.url, { model: "tiny-lm" }))).rejects.toThrow(/401/);
    } finally {
      await guarded.close();
    }
  });
});
