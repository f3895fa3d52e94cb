/**
 * Regenerates deploy/samples/demo-records.jsonl: sample "logged" calls whose completions are
 * what the bundled model actually says (greedy), so the demo attributes real model behaviour.
 * Run after retraining the bundled model: node --import tsx deploy/samples/make-demo-records.ts
 */
import { writeFileSync } from "node:fs";
import { AttributionEngine } from "../../src/attribution/engine.js";
import { UniformSampler } from "../../src/attribution/samplers/uniform.js";
import { BUNDLED_LM_DIR } from "../../src/app/engine.js";
import { DEMO_RECORDS } from "../../src/cli/commands/demo.js";
import { loadLocalModel } from "../../src/models/local-model.js";
import type { ChatMessage } from "../../src/text/chat-template.js";

const prompts: { id: string; prompt: string | ChatMessage[]; maxNew: number }[] = [
  {
    id: "longra-greece",
    prompt:
      "When my flight landed in Greece, I converted my currency and slowly fell asleep. (I had a terrifying dream about my grandmother, but that's a story for another time). I was staying in the capital,",
    maxNew: 1,
  },
  {
    id: "longra-peru",
    prompt: "It was my first time in Peru, and everything felt new. (I was reading a long novel about whales at the time.) I rented a small flat in the capital of the country,",
    maxNew: 1,
  },
  {
    id: "rag-codes",
    prompt: "Context: [doc 1] The code of Alpha is 7421. [doc 2] The code of Bravo is 3318. [doc 3] The code of Delta is 5096. Question: what is the code of Bravo? Answer:",
    maxNew: 3,
  },
  {
    id: "rag-cities",
    prompt: "Context: [doc 1] City of Whiskey: Chennai. [doc 2] The city of Onyx is Bergen. [doc 3] The listed city of Atlas is Auckland. Question: Please give the city of Onyx. Answer:",
    maxNew: 2,
  },
  {
    id: "chat-owner",
    prompt: [
      { role: "system", content: "Context: [doc 1] Owner of Lynx: Nora. [doc 2] Owner of Epsilon: Peter." },
      { role: "user", content: "Question: What is the owner of Lynx? Answer:" },
    ],
    maxNew: 1,
  },
  {
    id: "free-text",
    prompt: "The old library was quiet in the evening, and the",
    maxNew: 8,
  },
];

const model = await loadLocalModel(BUNDLED_LM_DIR);
const engine = new AttributionEngine(model, new UniformSampler(model.tokenizer.size, model.tokenizer.specialIds), { sampler: "uniform" });
const stop = new Set([model.tokenizer.eosId, model.tokenizer.padId].filter((x): x is number => x !== undefined));
const lines: string[] = [];
for (const p of prompts) {
  const prepared = engine.prepare({ prompt: p.prompt, completion: " " });
  const ids = await model.scorer.generate(prepared.input.ids.slice(0, prepared.input.promptLength), p.maxNew, stop);
  const completion = model.tokenizer.decode(ids);
  lines.push(JSON.stringify({ id: p.id, prompt: p.prompt, completion }));
  console.log(p.id, JSON.stringify(completion));
}
writeFileSync(DEMO_RECORDS, lines.join("\n") + "\n");
await model.scorer.close();
