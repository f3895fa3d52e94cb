/**
 * Production faults against a real local HTTP server (a fault-injecting proxy in front of
 * serve-model): slow answers, 429 with Retry-After, 5xx and the circuit breaker, malformed and
 * truncated bodies, dropped connections, wrong token ids, bad credentials, aborts. The rule:
 * never a crash, never a silent wrong score.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOtelExporter } from "../../connectors/otel/index.js";
import { scorerEventMetrics } from "../../src/app/worker.js";
import { CircuitOpenError, ScorerHttpError, ScorerMismatchError } from "../../src/errors.js";
import { loadAttributionModel, type HttpScorer, type ScorerEvent, type ScorerExtras } from "../../src/models/endpoint.js";
import type { ScoreSequence, ScoredSequence } from "../../src/attribution/scorer.js";
import { HfTextTokenizer } from "../../src/text/tokenizer.js";
import { MODEL_DIR, endpointConfig, inputsFor, startServeModel, type RunningServeModel } from "./fixtures/endpoints.js";
import { startFaultProxy, type FaultProxy } from "./fixtures/fault-proxy.js";
import type { RunningServer } from "./fixtures/http.js";
import { freePort } from "./fixtures/otlp-receiver.js";
import { startOpenAiServer } from "./fixtures/protocol-servers.js";

const tok = HfTextTokenizer.fromDir(MODEL_DIR);
const [ids] = inputsFor(tok);
const one: ScoreSequence[] = [{ ids: ids!, positions: [3, 7, ids!.length - 1] }];

let upstream: RunningServeModel;
let proxy: FaultProxy;
let expected: ScoredSequence[];
const opened: HttpScorer[] = [];

const FAST_RETRIES = { max_attempts: 3, initial_backoff_ms: 20, max_backoff_ms: 100 };

async function connect(extra: ScorerExtras = {}, events?: ScorerEvent[]): Promise<HttpScorer> {
  const m = await loadAttributionModel(endpointConfig("vllm", proxy.url, { timeout_ms: 2_000, retry: FAST_RETRIES, max_retry_after_ms: 5_000, ...extra }), {
    ...(events ? { onEvent: (e: ScorerEvent) => events.push(e) } : {}),
  });
  const scorer = m.scorer as HttpScorer;
  opened.push(scorer);
  proxy.reset(); // the self-test's requests went through the proxy too
  return scorer;
}

beforeAll(async () => {
  upstream = await startServeModel();
  proxy = await startFaultProxy(upstream.url);
  const direct = (await loadAttributionModel(endpointConfig("vllm", upstream.url))).scorer;
  expected = await direct.score(one, { topK: 3 });
  await direct.close();
});

afterAll(async () => {
  for (const s of opened) await s.close();
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => proxy.reset());

describe("endpoint faults", () => {
  it("a slow answer times out and the retry gets the right scores", async () => {
    const scorer = await connect({ timeout_ms: 1_000 });
    proxy.script({ kind: "delay", ms: 2_500 });
    const got = await scorer.score(one, { topK: 3 });
    expect(got).toEqual(expected);
    expect(proxy.posts).toHaveLength(2);
    expect(scorer.stats.errors.timeout).toBe(1);
    expect(scorer.stats.retries).toBe(1);
  });

  it("429 with Retry-After waits as told, then succeeds", async () => {
    const scorer = await connect();
    proxy.script({ kind: "status", status: 429, retryAfter: "1" });
    const t0 = performance.now();
    const got = await scorer.score(one, { topK: 3 });
    expect(got).toEqual(expected);
    expect(proxy.posts).toHaveLength(2);
    expect(proxy.posts[1]!.at - proxy.posts[0]!.at).toBeGreaterThanOrEqual(990);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
    expect(scorer.stats.errors.rate_limited).toBe(1);
    expect(scorer.stats.breaker.consecutiveFailures).toBe(0); // 429 is not a server failure
  });

  it("a Retry-After beyond max_retry_after_ms fails at once as retryable, with the wait", async () => {
    const scorer = await connect();
    proxy.script({ kind: "status", status: 429, retryAfter: "120" });
    const err = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).status).toBe(429);
    expect((err as ScorerHttpError).retryable).toBe(true);
    expect((err as ScorerHttpError).retryAfterMs).toBe(120_000);
    expect(proxy.posts).toHaveLength(1);
  });

  it("500s are retried, then the breaker opens, rejects fast, and closes after a half-open probe", async () => {
    const events: ScorerEvent[] = [];
    const scorer = await connect({ retry: { ...FAST_RETRIES, max_attempts: 2 }, breaker: { failure_threshold: 3, cool_down_ms: 600 } }, events);
    proxy.script({ kind: "status", status: 500 }, { kind: "status", status: 500 }, { kind: "status", status: 503 });

    const a = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(ScorerHttpError);
    expect((a as ScorerHttpError).status).toBe(500);
    expect(proxy.posts).toHaveLength(2);

    const b = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(b).toBeInstanceOf(CircuitOpenError); // third failure opened it; the retry was refused
    expect(proxy.posts).toHaveLength(3);
    expect(scorer.stats.breaker.state).toBe("open");

    const t0 = performance.now();
    const c = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(c).toBeInstanceOf(CircuitOpenError);
    expect((c as CircuitOpenError).retryInMs).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(proxy.posts).toHaveLength(3); // rejected without a request

    await new Promise((r) => setTimeout(r, 650));
    const d = await scorer.score(one, { topK: 3 });
    expect(d).toEqual(expected);
    expect(scorer.stats.breaker.state).toBe("closed");
    expect(scorer.stats.breaker.opens).toBe(1);
    const moves = events.filter((e) => e.type === "breaker").map((e) => (e.type === "breaker" ? `${e.from}->${e.to}` : ""));
    expect(moves).toEqual(["closed->open", "open->half_open", "half_open->closed"]);
  });

  it("a failed half-open probe opens the breaker again", async () => {
    const scorer = await connect({ retry: { ...FAST_RETRIES, max_attempts: 1 }, breaker: { failure_threshold: 1, cool_down_ms: 300 } });
    proxy.script({ kind: "status", status: 502 });
    await expect(scorer.score(one, { topK: 3 })).rejects.toBeInstanceOf(ScorerHttpError);
    expect(scorer.stats.breaker.state).toBe("open");
    await new Promise((r) => setTimeout(r, 350));
    proxy.script({ kind: "status", status: 502 });
    await expect(scorer.score(one, { topK: 3 })).rejects.toBeInstanceOf(ScorerHttpError); // the probe
    expect(scorer.stats.breaker.state).toBe("open");
    await expect(scorer.score(one, { topK: 3 })).rejects.toBeInstanceOf(CircuitOpenError);
    expect(scorer.stats.breaker.opens).toBe(2);
  });

  it("the worker's breaker gauge on /metrics follows the breaker: closed, open, closed", async () => {
    const otel = await createOtelExporter({ prometheus: { enabled: true, port: await freePort() } }, { env: {} });
    try {
      // As src/app/worker.ts wires it: the self-test's first request records closed.
      const m = await loadAttributionModel(endpointConfig("vllm", proxy.url, { timeout_ms: 2_000, retry: { ...FAST_RETRIES, max_attempts: 1 }, breaker: { failure_threshold: 1, cool_down_ms: 300 } }), {
        onEvent: scorerEventMetrics(otel.metrics, "tiny-lm"),
      });
      const scorer = m.scorer as HttpScorer;
      opened.push(scorer);
      proxy.reset();
      /** state -> value of reagent_stream_endpoint_breaker_state{model="tiny-lm"} on a real scrape. */
      const states = async (): Promise<Record<string, number>> => {
        const text = await (await fetch(otel.prometheusUrl!)).text();
        const rows = [...text.matchAll(/^reagent_stream_endpoint_breaker_state\{([^}]*)\} (\S+)$/gm)].filter((r) => r[1]!.includes('model="tiny-lm"'));
        return Object.fromEntries(rows.map((r) => [/state="(\w+)"/.exec(r[1]!)![1]!, Number(r[2])]));
      };
      expect(await states()).toEqual({ closed: 1, open: 0, half_open: 0 });
      proxy.script({ kind: "status", status: 503 });
      await expect(scorer.score(one, { topK: 3 })).rejects.toBeInstanceOf(ScorerHttpError);
      expect(await states()).toEqual({ closed: 0, open: 1, half_open: 0 });
      await new Promise((r) => setTimeout(r, 350));
      expect(await scorer.score(one, { topK: 3 })).toEqual(expected); // the half-open probe succeeds
      expect(await states()).toEqual({ closed: 1, open: 0, half_open: 0 });
    } finally {
      await otel.shutdown();
    }
  });

  it("malformed JSON gives a clear retryable error; a retry that gets JSON succeeds", async () => {
    const scorer = await connect();
    proxy.script({ kind: "malformed" });
    expect(await scorer.score(one, { topK: 3 })).toEqual(expected);
    expect(scorer.stats.errors.malformed).toBe(1);

    proxy.script({ kind: "malformed" }, { kind: "malformed" }, { kind: "malformed" });
    const err = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).message).toMatch(/not valid JSON/);
    expect((err as ScorerHttpError).bodySnippet).toContain("<html>");
    // Still working afterwards.
    expect(await scorer.score(one, { topK: 3 })).toEqual(expected);
  });

  it("a truncated body and a dropped connection fail clearly and are retried", async () => {
    const scorer = await connect({ retry: { ...FAST_RETRIES, max_attempts: 1 } });
    proxy.script({ kind: "truncated" });
    await expect(scorer.score(one, { topK: 3 })).rejects.toThrow(/not valid JSON.*possibly truncated/);
    proxy.script({ kind: "hang-up" });
    const err = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).retryable).toBe(true);
    expect(scorer.stats.errors.network).toBe(1);

    const retrying = await connect();
    proxy.script({ kind: "truncated" }, { kind: "hang-up" });
    expect(await retrying.score(one, { topK: 3 })).toEqual(expected);
  });

  it("a body of the wrong shape is a non-retryable error naming the field", async () => {
    const scorer = await connect();
    proxy.script({ kind: "wrong-shape" });
    const err = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerHttpError);
    expect((err as ScorerHttpError).retryable).toBe(false);
    expect((err as ScorerHttpError).message).toMatch(/choices/);
    expect(proxy.posts).toHaveLength(1);
  });

  it("wrong token ids fail the call with ScorerMismatchError, never a wrong score", async () => {
    const scorer = await connect();
    proxy.script({ kind: "wrong-ids" });
    const err = await scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerMismatchError);
    expect((err as ScorerMismatchError).message).toMatch(/index 2/);
    proxy.script({ kind: "wrong-logprob-keys" });
    await expect(scorer.score(one, { topK: 3 })).rejects.toThrow(/does not list token id/);
    expect(proxy.posts).toHaveLength(2); // not retried
    expect(scorer.stats.errors.mismatch).toBe(2);
    expect(scorer.stats.breaker.consecutiveFailures).toBe(0);
  });

  it("keeps to the concurrency limit when a big batch is split into requests", async () => {
    const scorer = await connect({ max_batch: 1, max_concurrency: 2 });
    proxy.script(...Array.from({ length: 6 }, () => ({ kind: "delay" as const, ms: 150 })));
    const batch = Array.from({ length: 6 }, () => one[0]!);
    const got = await scorer.score(batch, { topK: 3 });
    expect(got).toEqual(Array.from({ length: 6 }, () => expected[0]));
    expect(proxy.posts).toHaveLength(6);
    expect(proxy.maxInFlight).toBe(2);
  });

  it("an abort stops a slow call at once, without retrying", async () => {
    const scorer = await connect();
    proxy.script({ kind: "delay", ms: 1_500 });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new DOMException("stopping", "AbortError")), 100);
    const t0 = performance.now();
    await expect(scorer.score(one, { topK: 3, signal: ctrl.signal })).rejects.toThrow(/stopping/);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(proxy.posts).toHaveLength(1);
    expect(scorer.stats.breaker.consecutiveFailures).toBe(0);
  });
});

describe("credentials", () => {
  const KEY = "sk-live-SECRET-abcdef0123456789";
  let openai: RunningServer;
  beforeAll(async () => {
    openai = await startOpenAiServer(upstream.model, { apiKey: KEY });
  });
  afterAll(async () => {
    await openai?.close();
  });

  it("are sent from the environment and work", async () => {
    const m = await loadAttributionModel(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key_env: "MY_SCORER_KEY" }), { env: { MY_SCORER_KEY: KEY } });
    opened.push(m.scorer as HttpScorer);
    expect(m.report?.ok).toBe(true);
    expect(JSON.stringify(m.report)).not.toContain(KEY);
  });

  it("a wrong key fails with a 401 whose message and body snippet never show the key", async () => {
    const WRONG = "sk-wrong-0000TOPSECRET9999";
    const err = await loadAttributionModel(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key: WRONG, self_test: "fail" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerMismatchError); // the self-test refuses to start
    expect(JSON.stringify((err as ScorerMismatchError).toJSON())).not.toContain(WRONG);
    expect((err as Error).message).toMatch(/401/);

    const m = await loadAttributionModel(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key: WRONG, self_test: "off" }));
    opened.push(m.scorer as HttpScorer);
    const e2 = await m.scorer.score(one, { topK: 3 }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ScorerHttpError);
    const h = e2 as ScorerHttpError;
    expect(h.status).toBe(401);
    expect(h.retryable).toBe(false);
    expect(h.bodySnippet).toContain("[redacted]");
    for (const text of [h.message, h.bodySnippet ?? "", JSON.stringify(h.toJSON())]) expect(text).not.toContain(WRONG);
  });

  it("a missing api_key_env variable is a config error at start-up", async () => {
    await expect(loadAttributionModel(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key_env: "NOT_SET_ANYWHERE" }), { env: {} })).rejects.toThrow(/NOT_SET_ANYWHERE/);
  });
});
