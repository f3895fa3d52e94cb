/**
 * Regenerates deploy/samples/demo-records.jsonl: sample "logged" calls whose completions are
 * what the bundled model actually says (greedy), so the demo attributes real model behaviour.
 * Run after retraining the bundled model: node --import tsx deploy/samples/make-demo-records.ts
 */
import { writeFileSync } from "node:fs";
import { AttributionEngine } from "../../src/attribution/engine.js";
import { UniformSampler } from "../../src/attribution/samplers/uniform.js";
import { BUNDLED_LM_DIR } from "../../src/cli/engine-factory.js";
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
    prompt: "After the long drive across Peru, we parked the van and ate a late dinner. (The waiter kept talking about football.) The next morning we walked around the capital,",
    maxNew: 1,
  },
  {
    id: "rag-codes",
    prompt: "Context: [doc 1] The code of Alpha is 7421. [doc 2] The code of Bravo is 3318. [doc 3] The code of Delta is 5096. Question: what is the code of Bravo? Answer:",
    maxNew: 3,
  },
  {
    id: "rag-cities",
    prompt: "Context: [doc 1] Mara lives in Oslo. [doc 2] Tomas lives in Lima. [doc 3] Ines lives in Cairo. Question: where does Ines live? Answer:",
    maxNew: 2,
  },
  {
    id: "chat-capital",
    prompt: [
      { role: "system", content: "Answer with one word." },
      { role: "user", content: "When my flight landed in Japan, I slept for a day. I was staying in the capital," },
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
