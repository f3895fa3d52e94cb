/**
 * The real model, SmolLM2-135M-Instruct built by models/smollm2/build.sh, through the same
 * paths a user takes (`--model smollm2`): the Node scorer against torch's log-probabilities
 * recorded at build time, the chat template, BOS, the logit_positions export, the Scorer
 * conformance suite, and one attribution. Skipped, with the reason in its name, when the model
 * is not built (it is a ~2 min offline build that needs a 5.7 GB venv; see docs/models.md).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEngine } from "../../src/app/engine.js";
import { causalRecallAtK } from "../../src/attribution/metrics.js";
import { loadAttributionModel, type LoadedModel } from "../../src/models/endpoint.js";
import { resolveModelDir } from "../../src/models/local-model.js";
import { evalItemSchema, makeItem } from "../../bench/realmodel/items.js";
import { runScorerConformance } from "../conformance/scorer.js";

const DIR = resolveModelDir("smollm2");
const built = existsSync(join(DIR, "model.onnx")) && existsSync(join(DIR, "build-checks.json"));
const SKIP = `SmolLM2 not built at ${DIR}: run bash models/smollm2/build.sh (or set REAGENT_MODELS_DIR)`;

interface Reference {
  text: string;
  ids: number[];
  logprobs: number[];
  next_top5: number[];
  next_top5_logprobs: number[];
  next_token_text: string;
}

if (!built) {
  describe.skip(`SmolLM2 real model (${SKIP})`, () => {
    it("runs when built", () => undefined);
  });
} else {
  const ref = (JSON.parse(readFileSync(join(DIR, "build-checks.json"), "utf8")) as { reference: Reference }).reference;

  describe("SmolLM2 real model (--model smollm2)", () => {
    let model: LoadedModel;
    beforeAll(async () => {
      model = await loadAttributionModel("smollm2");
    });
    afterAll(async () => {
      await model?.close();
    });

    it("takes no BOS (tokenizer_config add_bos_token: false) and renders ChatML as transformers does", () => {
      expect(model.addBos).toBe(false);
      const rendered = model.chatTemplate.render([{ role: "user", content: "What is the capital of France? Answer in one word." }], { addGenerationPrompt: true });
      // transformers' template adds the default system prompt; the reference text was built without it.
      expect(rendered.text.endsWith(ref.text)).toBe(true);
      expect(model.tokenizer.encode(ref.text).ids).toEqual(ref.ids);
    });

    it("scores as torch does: every slot's log-probability and the next-token top-5", async () => {
      const n = ref.ids.length;
      const positions = Array.from({ length: n }, (_, i) => i + 1); // slot n: the next token
      const [got] = await model.scorer.score([{ ids: ref.ids, positions }], { topK: 5 });
      const lps = got!.positions.slice(0, n - 1).map((p) => p.logprob as number);
      const maxDiff = Math.max(...lps.map((x, i) => Math.abs(x - (ref.logprobs[i] as number))));
      expect(maxDiff).toBeLessThan(2e-3);
      const next = got!.positions[n - 1]!;
      expect(next.logprob).toBeNull();
      expect(next.topK).toEqual(ref.next_top5);
      next.topKLogprobs.forEach((x, i) => expect(x).toBeCloseTo(ref.next_top5_logprobs[i] as number, 2));
      expect(model.tokenizer.tokenText(next.topK[0]!)).toBe(ref.next_token_text);
    });

    it("gathers only the asked positions: a subset scores the same as the full set, padded rows as alone", async () => {
      const n = ref.ids.length;
      const [all] = await model.scorer.score([{ ids: ref.ids, positions: Array.from({ length: n - 1 }, (_, i) => i + 1) }], { topK: 3 });
      const short = ref.ids.slice(0, 9);
      const [sub, padded] = await model.scorer.score(
        [
          { ids: ref.ids, positions: [n - 1, 3] },
          { ids: short, positions: [8, 2] },
        ],
        { topK: 3 },
      );
      expect(sub!.positions[0]!.logprob).toBeCloseTo(all!.positions[n - 2]!.logprob!, 4);
      expect(sub!.positions[1]!.logprob).toBeCloseTo(all!.positions[2]!.logprob!, 4);
      expect(padded!.positions[1]!.logprob).toBeCloseTo(all!.positions[1]!.logprob as number, 4);
    });

    it("attributes a needle item: leave-one-out puts the copied value in the top 3", async () => {
      // The first 64-token needle item of the evaluation set (bench/realmodel/make-eval.ts), rebuilt from its seed.
      const item = makeItem("needle", 64, 0, 15, (t) => model.tokenizer.encode(t).ids.length);
      const built = await buildEngine({ model, engine: { method: "loo" } });
      const res = await built.engine.attribute({ prompt: item.prompt, completion: item.completion, context: { record_id: item.id } });
      expect(res.targets[0]!.p_original).toBeGreaterThan(0.2);
      expect(causalRecallAtK(res, item.causal.slice(0, 1), 3)).toBe(true);
    });

    it("segment-first on a 256-token capital item: converged, the country's paragraph above every distractor", { timeout: 600_000 }, async () => {
      // The item the token-level stopping defaults got wrong at unit level (a distractor first after 14 steps).
      const item = evalItemSchema.parse(JSON.parse(readFileSync("models/eval/smollm2.jsonl", "utf8").split("\n").find((l) => l.includes('"id":"capital-256-0"')) as string));
      const built = await buildEngine({ model, engine: { method: "reagent", mode: "joint", units: "paragraph", seed: 42, max_targets: 1 } });
      const first = model.tokenizer.encode(item.completion).ids.slice(0, 1);
      const res = await built.engine.attribute({ prompt: item.prompt, completion: model.tokenizer.decode(first), completionIds: first, context: { record_id: item.id } });
      expect(res.unit_level).toBe("paragraph");
      expect(res.convergence.converged).toBe(true);
      expect(res.config.stopping).toMatchObject({ type: "restore", stable_ranks: 3 });
      // Documents only (the closing cue paragraph is a unit too, but not a document of the item).
      const scoreOf = (d: { start: number; end: number }): number => res.units.filter((u) => u.start < d.end && d.start < u.end).reduce((s, u) => s + u.score, 0);
      const docs = item.units.map(scoreOf);
      const causal = docs[item.causal_unit] as number;
      expect(docs.every((s, k) => k === item.causal_unit || s < causal)).toBe(true);
      expect(res.cost.sequences_evaluated).toBeLessThan(400);
    });

    it("the unit stage at ContextCite's 32 calls with aggregation: surrogate puts the country's paragraph first on the same item", { timeout: 300_000 }, async () => {
      // With pooled z at this budget the order of the paragraphs is co-replacement noise (docs/benchmarks.md, "Equal calls").
      const item = evalItemSchema.parse(JSON.parse(readFileSync("models/eval/smollm2.jsonl", "utf8").split("\n").find((l) => l.includes('"id":"capital-256-0"')) as string));
      const built = await buildEngine({
        model,
        engine: { method: { type: "reagent", mode: "joint", max_steps: 7 }, units: { type: "paragraph", refine_top: 0 }, aggregation: "surrogate", seed: 42, max_targets: 1 },
      });
      const first = model.tokenizer.encode(item.completion).ids.slice(0, 1);
      const res = await built.engine.attribute({ prompt: item.prompt, completion: model.tokenizer.decode(first), completionIds: first, context: { record_id: item.id } });
      expect(res.config.aggregation).toBe("surrogate");
      expect(res.cost.sequences_evaluated).toBeLessThanOrEqual(32);
      const scoreOf = (d: { start: number; end: number }): number => res.units.filter((u) => u.start < d.end && d.start < u.end).reduce((s, u) => s + u.score, 0);
      const docs = item.units.map(scoreOf);
      const causal = docs[item.causal_unit] as number;
      expect(docs.every((s, k) => k === item.causal_unit || s < causal)).toBe(true);
    });
  });

  const tok = (await import("../../src/text/tokenizer.js")).HfTextTokenizer.fromDir(DIR);
  runScorerConformance({
    name: "onnx (smollm2, logit_positions export)",
    newScorer: async () => (await loadAttributionModel("smollm2")).scorer,
    inputs: ["The quick brown fox jumps over the lazy dog near the river bank.", "Question: what is the capital of France? Answer: Paris.", "She opened the window, and the morning air filled the quiet room."].map((t) => tok.encode(t).ids),
  });
}
