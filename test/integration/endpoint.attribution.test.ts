/**
 * Attribution through an endpoint equals in-process attribution for the same model, record and
 * seed: the HTTP path changes where the model runs, never the result.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttributionEngine, type AttributionModel, type AttributeRequest } from "../../src/attribution/engine.js";
import type { EngineConfigInput } from "../../src/attribution/config.js";
import { createSampler } from "../../src/attribution/samplers/index.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { ScorerMismatchError } from "../../src/errors.js";
import { loadAttributionModel, type LoadedModel } from "../../src/models/endpoint.js";
import { loadLocalModel, type LocalModel } from "../../src/models/local-model.js";
import { MODEL_DIR, endpointConfig, startServeModel, type RunningServeModel } from "./fixtures/endpoints.js";
import type { RunningServer } from "./fixtures/http.js";
import { startOpenAiServer, startTgiServer } from "./fixtures/protocol-servers.js";

const RECORDS: AttributeRequest[] = [
  { prompt: "Question: what is the capital of France? Think about the map of Europe. Answer:", completion: " Paris is", context: { record_id: "rec-1" } },
  { prompt: "She opened the window, and the cold morning air filled the quiet room. Then she", completion: " closed it", context: { record_id: "rec-2" } },
];

function engineFor(model: AttributionModel, cfg: EngineConfigInput): AttributionEngine {
  const vocabSize = Math.min(model.tokenizer.size, model.scorer.capabilities.vocabSize ?? model.tokenizer.size);
  const sampler = createSampler("uniform", { tokenizer: model.tokenizer, vocabSize });
  return new AttributionEngine(model, sampler, cfg);
}

const SETTINGS: EngineConfigInput = { sampler: "uniform", num_probes: 4, max_steps: 30, seed: 7 };

let local: LocalModel;
let vllm: RunningServeModel;
let openai: RunningServer;
let tgi: RunningServer;
const endpoints: LoadedModel[] = [];
const reference = new Map<string, AttributionResult>();

beforeAll(async () => {
  local = await loadLocalModel(MODEL_DIR, { intraOpThreads: 1 });
  vllm = await startServeModel();
  openai = await startOpenAiServer(vllm.model, { apiKey: "sk-attr" });
  tgi = await startTgiServer(vllm.model, { addsBos: true });
});

afterAll(async () => {
  for (const m of endpoints) await m.close();
  await Promise.all([openai?.close(), tgi?.close()]);
  await vllm?.close();
  await local?.scorer.close();
});

async function inProcess(mode: "joint" | "reference", rec: AttributeRequest): Promise<AttributionResult> {
  const key = `${mode}:${rec.context?.record_id ?? ""}`;
  let r = reference.get(key);
  if (!r) {
    r = await engineFor(local, { ...SETTINGS, mode }).attribute(rec);
    reference.set(key, r);
  }
  return r;
}

function expectSameAttribution(a: AttributionResult, b: AttributionResult): void {
  expect(a.prompt.tokens.map((t) => t.id)).toEqual(b.prompt.tokens.map((t) => t.id));
  expect(a.targets.length).toBe(b.targets.length);
  a.targets.forEach((t, i) => {
    const u = b.targets[i]!;
    expect(t.token_id).toBe(u.token_id);
    expect(Math.abs(t.p_original - u.p_original)).toBeLessThan(1e-9);
    expect(t.steps).toBe(u.steps);
    expect(t.probes_converged).toBe(u.probes_converged);
    expect(t.importance.length).toBe(u.importance.length);
    t.importance.forEach((x, j) => expect(Math.abs(x - u.importance[j]!)).toBeLessThanOrEqual(1e-6));
  });
  expect(a.sequence.importance.length).toBe(b.sequence.importance.length);
  expect(a.cost.sequences_evaluated).toBe(b.cost.sequences_evaluated);
  expect(a.cost.tokens_processed).toBe(b.cost.tokens_processed);
}

// Every protocol on the first record; both records (and both modes) through vLLM.
const cases: { name: string; mode: "joint" | "reference"; records: AttributeRequest[]; connect: () => Promise<LoadedModel> }[] = [
  { name: "vllm prompt_logprobs", mode: "joint", records: RECORDS, connect: () => loadAttributionModel(endpointConfig("vllm", vllm.url)) },
  { name: "vllm prompt_logprobs", mode: "reference", records: RECORDS.slice(0, 1), connect: () => loadAttributionModel(endpointConfig("vllm", vllm.url)) },
  { name: "vllm echo", mode: "joint", records: RECORDS.slice(0, 1), connect: () => loadAttributionModel(endpointConfig("vllm-echo", vllm.url)) },
  { name: "sglang", mode: "joint", records: RECORDS.slice(0, 1), connect: () => loadAttributionModel(endpointConfig("sglang", vllm.url)) },
  {
    name: "openai legacy",
    mode: "joint",
    records: RECORDS.slice(0, 1),
    connect: () => loadAttributionModel(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key: "sk-attr" })),
  },
];

describe("attribution through an endpoint equals in-process attribution", () => {
  for (const c of cases) {
    it(`${c.name}, ${c.mode} mode`, async () => {
      const m = await c.connect();
      endpoints.push(m);
      expect(m.addBos).toBe(local.addBos);
      for (const rec of c.records) {
        const want = await inProcess(c.mode, rec);
        const got = await engineFor(m, { ...SETTINGS, mode: c.mode }).attribute(rec);
        expectSameAttribution(got, want);
        expect(got.model.kind).toBe(m.scorer.info.kind);
      }
    });
  }

  it("greedy generation through every kind (openai: token strings mapped back to ids) equals in-process generation", async () => {
    const prompt = engineFor(local, SETTINGS).prepare({ prompt: RECORDS[1]!.prompt, completion: " x" });
    const ids = prompt.input.ids.slice(0, prompt.input.promptLength);
    const stop = new Set([local.tokenizer.eosId!]);
    const want = await local.scorer.generate(ids, 5, stop);
    expect(want.length).toBeGreaterThan(0);
    for (const cfg of [
      endpointConfig("vllm", vllm.url),
      endpointConfig("vllm-echo", vllm.url),
      endpointConfig("sglang", vllm.url),
      endpointConfig("tgi", tgi.url),
      endpointConfig("openai", openai.url, { model: "tiny-lm", api_key: "sk-attr" }),
    ]) {
      const m = await loadAttributionModel(cfg);
      endpoints.push(m);
      expect(await m.scorer.generate!(ids, 5, stop), cfg.type).toEqual(want);
    }
  });

  it("tgi: perturbations whose text would re-tokenise differently are refused when scored, and redrawn by the engine, which then equals in-process drawing the same way", async () => {
    const m = await loadAttributionModel(endpointConfig("tgi", tgi.url, { tgi_top_k: "bound" }));
    endpoints.push(m);
    const rec = RECORDS[0]!;
    const engine = engineFor(m, { ...SETTINGS, mode: "joint" });
    const prepared = engine.prepare(rec);
    // A uniform replacement that merges with its neighbour in text: TGI would score another sequence, so it is refused.
    const ids = prepared.input.ids;
    let bad: number[] | undefined;
    for (let id = 0; id < local.tokenizer.size && !bad; id++) {
      const cand = [...ids.slice(0, 3), id, ...ids.slice(4)];
      if (!local.tokenizer.specialIds.has(id) && !m.scorer.acceptsIds!(cand)) bad = cand;
    }
    expect(bad).toBeDefined();
    await expect(m.scorer.score([{ ids: bad!, positions: [bad!.length - 1] }], { topK: 3 })).rejects.toBeInstanceOf(ScorerMismatchError);
    // The engine draws only sequences TGI can receive, and says so in the result.
    const got = await engine.attribute(rec);
    expect(got.sampler_description).toMatch(/redrawn until the text re-tokenises/);
    // In-process with the same rule draws the same perturbations: the same result.
    const sameRule = { ...local, scorer: { info: local.scorer.info, capabilities: local.scorer.capabilities, score: local.scorer.score.bind(local.scorer), close: () => Promise.resolve(), acceptsIds: (x: readonly number[]) => m.scorer.acceptsIds!(x) } };
    expectSameAttribution(got, await engineFor(sameRule, { ...SETTINGS, mode: "joint" }).attribute(rec));
  });
});
