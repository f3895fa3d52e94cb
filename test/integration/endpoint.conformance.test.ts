/**
 * Every HTTP scorer against the Scorer conformance suite, each talking to a real local server:
 * serve-model for vLLM (prompt_logprobs and echo paths), and protocol fixtures backed by the
 * same ONNX model for SGLang, TGI and OpenAI legacy completions.
 */
import { afterAll, beforeAll } from "vitest";
import { loadAttributionModel } from "../../src/models/endpoint.js";
import type { Scorer } from "../../src/attribution/scorer.js";
import { HfTextTokenizer } from "../../src/text/tokenizer.js";
import { runScorerConformance } from "../conformance/scorer.js";
import { MODEL_DIR, endpointConfig, inputsFor, startServeModel, type RunningServeModel } from "./fixtures/endpoints.js";
import type { RunningServer } from "./fixtures/http.js";
import { startOpenAiServer, startTgiServer } from "./fixtures/protocol-servers.js";

const tok = HfTextTokenizer.fromDir(MODEL_DIR);
const inputs = inputsFor(tok);
const API_KEY = "sk-test-conformance-0123456789";

let vllm: RunningServeModel;
let tgi: RunningServer;
let openai: RunningServer;

beforeAll(async () => {
  vllm = await startServeModel();
  tgi = await startTgiServer(vllm.model, { addsBos: true });
  openai = await startOpenAiServer(vllm.model, { apiKey: API_KEY });
});

afterAll(async () => {
  await Promise.all([tgi?.close(), openai?.close()]);
  await vllm?.close();
});

async function scorerFor(cfg: Parameters<typeof loadAttributionModel>[0], env?: Record<string, string>): Promise<Scorer> {
  const m = await loadAttributionModel(cfg, env === undefined ? {} : { env });
  if (m.report && !m.report.ok) throw new Error(`self-test failed:\n${JSON.stringify(m.report.checks, null, 2)}`);
  return m.scorer;
}

runScorerConformance({ name: "vllm prompt_logprobs (serve-model)", inputs, newScorer: () => scorerFor(endpointConfig("vllm", vllm.url)) });

runScorerConformance({ name: "vllm echo + logprobs (serve-model)", inputs, newScorer: () => scorerFor(endpointConfig("vllm-echo", vllm.url)) });

runScorerConformance({ name: "sglang /generate (serve-model)", inputs, newScorer: () => scorerFor(endpointConfig("sglang", vllm.url)) });

runScorerConformance({
  name: "openai legacy completions echo + logprobs (fixture)",
  inputs,
  newScorer: () => scorerFor(endpointConfig("openai", openai.url, { model: "tiny-lm", api_key_env: "TEST_OPENAI_KEY" }), { TEST_OPENAI_KEY: API_KEY }),
});

runScorerConformance({
  name: "tgi /generate, top-k by next-token probes (fixture)",
  inputs,
  firstPosition: 2,
  newScorer: () => scorerFor(endpointConfig("tgi", tgi.url, { tgi_top_k: "probe" })),
});

runScorerConformance({
  name: "tgi /generate, top-k by probability bound (fixture)",
  inputs,
  skip: [
    {
      reason: "bound mode has no ranked top-k list: it lists only the actual token, and only when p > 1/(k+1) proves it is in the top-k",
      tests: ["top-k sorted and containing the argmax"],
    },
  ],
  newScorer: () => scorerFor(endpointConfig("tgi", tgi.url, { tgi_top_k: "bound" })),
});
