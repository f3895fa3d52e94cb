/**
 * Start-up: server detection, the self-test report, and refusing what cannot work (servers
 * that cannot score, wrong kind, wrong model, wrong tokenizer, TGI without prefill logprobs).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, ScorerMismatchError, ScorerUnsupportedError } from "../../src/errors.js";
import { formatSelfTestReport, loadAttributionModel, type LoadedModel } from "../../src/models/endpoint.js";
import { endpointConfig, startServeModel, type RunningServeModel } from "./fixtures/endpoints.js";
import type { RunningServer } from "./fixtures/http.js";
import { startOllamaLikeServer, startTgiServer } from "./fixtures/protocol-servers.js";

let served: RunningServeModel;
let tgiNoPrefill: RunningServer;
let tgi: RunningServer;
let ollama: RunningServer;
const loaded: LoadedModel[] = [];

beforeAll(async () => {
  served = await startServeModel();
  tgiNoPrefill = await startTgiServer(served.model, { prefillLogprobs: false });
  tgi = await startTgiServer(served.model, { addsBos: true });
  ollama = await startOllamaLikeServer();
});

afterAll(async () => {
  for (const m of loaded) await m.close();
  await Promise.all([tgiNoPrefill?.close(), tgi?.close(), ollama?.close()]);
  await served?.close();
});

describe("start-up self-test", () => {
  it("detects serve-model, checks the invariants and lists the engine features", async () => {
    let printed = "";
    const m = await loadAttributionModel(endpointConfig("vllm", served.url), { log: (t) => (printed += t) });
    loaded.push(m);
    const r = m.report!;
    expect(r.ok).toBe(true);
    expect(r.detectedKind).toBe("serve-model");
    expect(r.model).toBe("tiny-lm");
    expect(r.maxModelLen).toBe(256);
    expect(r.checks.every((c) => c.ok)).toBe(true);
    expect(r.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(["server kind", "tokenizer agrees with the server", "scores a fixed input", "logprobs are <= 0 and present", "top-k is sorted and complete", "actual token in top-k or ranked below it", "next-token slot"]),
    );
    expect(r.features.find((f) => f.name.startsWith("top-k for the stopping check"))?.support).toBe("yes");
    expect(r.features.find((f) => f.name === "actual token rank")?.support).toBe("yes");
    expect(printed).toBe(formatSelfTestReport(r));
    expect(printed).toMatch(/result: ready/);
    expect(m.addBos).toBe(true);
    expect(m.scorer.capabilities.maxSequenceLength).toBe(256);
    expect(m.scorer.capabilities.vocabSize).toBe(4096);
  });

  it("reports TGI's missing prompt top-k as a partial feature and detects the BOS it adds", async () => {
    const m = await loadAttributionModel(endpointConfig("tgi", tgi.url, { tgi_top_k: "bound" }));
    loaded.push(m);
    expect(m.report!.ok).toBe(true);
    expect(m.report!.detectedKind).toBe("tgi");
    expect(m.report!.checks.find((c) => c.name === "BOS")?.detail).toMatch(/prepends BOS/);
    expect(m.report!.features.find((f) => f.name.startsWith("top-k for the stopping check"))?.support).toBe("partial");
    expect(m.scorer.capabilities.topKAtPromptPositions).toBe(false);
    expect(m.scorer.info.id).toMatch(/^tgi\+topk-bound:/);
    expect(m.scorer.info.notes?.[0]).toMatch(/probability bound/);
  });

  it("refuses TGI started without --enable-prefill-logprobs", async () => {
    const err = await loadAttributionModel(endpointConfig("tgi", tgiNoPrefill.url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerUnsupportedError);
    expect((err as Error).message).toMatch(/--enable-prefill-logprobs/);
  });

  it("refuses TGI when add_bos: false contradicts the BOS it adds", async () => {
    await expect(loadAttributionModel(endpointConfig("tgi", tgi.url, { add_bos: false }))).rejects.toBeInstanceOf(ScorerMismatchError);
  });

  it("refuses a server that cannot score a given continuation, saying what works", async () => {
    const err = await loadAttributionModel(endpointConfig("vllm", ollama.url, { model: "llama3" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerUnsupportedError);
    expect((err as Error).message).toMatch(/Ollama cannot score a given continuation/);
    expect((err as Error).message).toMatch(/vLLM/);
  });

  it("refuses a kind the server does not speak, and a model it does not serve", async () => {
    const kind = await loadAttributionModel(endpointConfig("tgi", served.url)).catch((e: unknown) => e);
    expect(kind).toBeInstanceOf(ConfigError);
    expect((kind as Error).message).toMatch(/looks like serve-model/);
    const model = await loadAttributionModel(endpointConfig("vllm", served.url, { model: "llama-70b" })).catch((e: unknown) => e);
    expect(model).toBeInstanceOf(ConfigError);
    expect((model as Error).message).toMatch(/lists tiny-lm/);
  });

  it("fails when the local tokenizer is not the server's; with self_test: warn it starts and says why", async () => {
    const err = await loadAttributionModel(endpointConfig("vllm", served.url, { tokenizer: "models/tiny-mlm" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScorerMismatchError);
    expect((err as Error).message).toMatch(/tokenizer agrees with the server failed/);
    const m = await loadAttributionModel(endpointConfig("vllm", served.url, { tokenizer: "models/tiny-mlm", self_test: "warn" }));
    loaded.push(m);
    expect(m.report!.ok).toBe(false);
    expect(formatSelfTestReport(m.report!)).toMatch(/FAIL {2}tokenizer agrees with the server/);
  });

  it("accepts a --model string plus --tokenizer", async () => {
    const m = await loadAttributionModel(`sglang+${served.url}/tiny-lm`, { tokenizer: "models/tiny-lm" });
    loaded.push(m);
    expect(m.source).toBe("endpoint");
    expect(m.scorer.info.kind).toBe("sglang");
    expect(m.report!.ok).toBe(true);
  });
});
