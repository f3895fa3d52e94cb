/**
 * One evaluation item, one method, one seed: what the engine ranked, to read a miss of
 * bench/realmodel/run.ts by eye. Prints the units' scores (which were refined, which one holds the
 * causal span) and the top prompt tokens of the first target, with the causal tokens marked.
 *
 *   node --import tsx bench/realmodel/inspect.ts --id needle-1024-0 [--method segfirst] [--seed 42] [--top 12] [--threads 2]
 *
 * Methods are run.ts's (engine settings only); this tool prints prompt text, so it is for the
 * synthetic evaluation items, never for production records.
 */
import { readFileSync } from "node:fs";
import { firstTargetPromptRow, tokensInSpans } from "../../src/attribution/metrics.js";
import { topNIndices } from "../../src/attribution/vector-math.js";
import { buildEngine } from "../../src/app/engine.js";
import { loadLocalModel } from "../../src/models/local-model.js";
import { arg } from "../engine/common.js";
import { evalItemSchema } from "./items.js";
import { METHODS } from "./methods.js";

const id = arg("id", "needle-1024-0");
const method = arg("method", "segfirst");
const spec = METHODS[method];
if (!spec) throw new Error(`unknown method ${method}; known: ${Object.keys(METHODS).join(", ")}`);
const line = readFileSync(arg("eval", "models/eval/smollm2.jsonl"), "utf8")
  .split("\n")
  .find((l) => l.includes(`"id":"${id}"`));
if (!line) throw new Error(`no item ${id} in the evaluation set`);
const item = evalItemSchema.parse(JSON.parse(line));
const threads = arg("threads", "");
const model = await loadLocalModel(arg("model", "smollm2"), threads ? { intraOpThreads: Number(threads) } : {});
const { engine } = await buildEngine({ model, engine: { ...spec.cfg, seed: Number(arg("seed", "42")), max_targets: 1 } });
const first = model.tokenizer.encode(item.completion).ids.slice(0, 1);
const res = await engine.attribute({ prompt: item.prompt, completion: model.tokenizer.decode(first), completionIds: first, context: { record_id: item.id } });

const causalUnit = item.units[item.causal_unit];
console.log(`${item.id} (${res.prompt.tokens.length} tokens) · ${method} · ${res.cost.sequences_evaluated} sequences · converged ${res.convergence.converged}`);
for (const w of res.warnings) console.log(`  warning: ${w}`);
console.log("units (score, refined, text start):");
for (const u of res.units) {
  const holds = causalUnit !== undefined && u.start < causalUnit.end && causalUnit.start < u.end;
  console.log(`  ${u.score.toFixed(4)} ${u.refined ? "refined" : "       "} ${holds ? "causal " : "       "} ${JSON.stringify(item.prompt.slice(u.start, Math.min(u.end, u.start + 60)))}`);
}
const row = firstTargetPromptRow(res);
const causal = tokensInSpans(res, item.causal);
const top = topNIndices(row, Number(arg("top", "12")), res.prompt.tokens.map((t) => !t.protected));
console.log(`top prompt tokens of the first target (* = in a causal span: ${item.causal.map((c) => JSON.stringify(c.text)).join(", ")}):`);
for (const i of top) {
  const t = res.prompt.tokens[i]!;
  console.log(`  ${causal.has(i) ? "*" : " "} ${(row[i] ?? 0).toFixed(4)} ${JSON.stringify(item.prompt.slice(t.start, t.end))} @${t.start}`);
}
for (const i of causal) if (!top.includes(i)) console.log(`  * ${(row[i] ?? 0).toFixed(4)} ${JSON.stringify(item.prompt.slice(res.prompt.tokens[i]!.start, res.prompt.tokens[i]!.end))} (outside the top)`);
