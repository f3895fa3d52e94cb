/**
 * Generate the real-model evaluation set and mark which items the model answers: an item is
 * answered when the model's greedy first completion token equals the gold completion's first
 * token. Writes every candidate (with `answered`) to models/eval/smollm2.jsonl and prints the
 * counts per family and prompt length.
 *
 *   node --import tsx bench/realmodel/make-eval.ts [--model smollm2] [--counts 64:24,256:24,1024:12,2048:4] [--seed 15] [--threads 2] [--out models/eval/smollm2.jsonl] [--tag name]
 *
 * The candidates depend only on the seed and the tokenizer (lengths are counted in the model's
 * tokens); `answered` depends on the model. The file is rewritten after every family and
 * length, and an item already in it with the same prompt and model is not scored again, so an
 * interrupted run resumes, and lengths can be added by separate runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadLocalModel } from "../../src/models/local-model.js";
import { arg, commandLine } from "../engine/common.js";
import { evalItemSchema, FAMILIES, makeItem, type EvalItem } from "./items.js";

const counts = arg("counts", "64:24,256:24,1024:12,2048:4")
  .split(",")
  .map((x) => x.split(":").map(Number) as [number, number]);
const seed = Number(arg("seed", "15"));
const outPath = arg("out", "models/eval/smollm2.jsonl");
const threads = arg("threads", "");
const model = await loadLocalModel(arg("model", "smollm2"), threads ? { intraOpThreads: Number(threads) } : {});
const tok = model.tokenizer;
const bos = model.addBos && tok.bosId !== undefined ? [tok.bosId] : [];
const countTokens = (t: string): number => bos.length + tok.encode(t).ids.length;

// Items already marked by this model (same prompt): kept as they are.
const known = new Map<string, EvalItem>();
if (existsSync(outPath)) {
  for (const line of readFileSync(outPath, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const it = evalItemSchema.parse(JSON.parse(line));
    if (it.answered !== undefined && it.model === model.scorer.info.id) known.set(it.id, it);
  }
}
const items = new Map<string, EvalItem>(known);
const save = (): void => {
  mkdirSync(dirname(outPath), { recursive: true });
  const sorted = [...items.values()].sort((a, b) => a.target_tokens - b.target_tokens || FAMILIES.indexOf(a.family) - FAMILIES.indexOf(b.family) || Number(a.id.split("-").pop()) - Number(b.id.split("-").pop()));
  writeFileSync(outPath, sorted.map((i) => JSON.stringify(i)).join("\n") + "\n");
};
const table: Record<string, Record<string, { candidates: number; answered: number; mean_prompt_tokens: number }>> = {};
const t0 = performance.now();
for (const [len, n] of counts) {
  for (const family of FAMILIES) {
    const cands = Array.from({ length: n }, (_, i) => makeItem(family, len, i, seed, countTokens));
    const todo = cands.filter((c) => known.get(c.id)?.prompt !== c.prompt);
    const seqs = todo.map((c) => {
      const ids = [...bos, ...tok.encode(c.prompt).ids];
      return { ids, positions: [ids.length] };
    });
    const scored = await model.scorer.score(seqs, { topK: 1 });
    todo.forEach((c, i) => {
      const gold = tok.encode(c.completion).ids[0];
      const got = scored[i]?.positions[0]?.topK[0];
      items.set(c.id, { ...c, answered: got !== undefined && got === gold, greedy_first_token: got === undefined ? "" : tok.tokenText(got), model: model.scorer.info.id });
    });
    save();
    const ok = cands.filter((c) => items.get(c.id)?.answered).length;
    const mean = cands.reduce((s, c) => s + c.prompt_tokens, 0) / cands.length;
    (table[String(len)] ??= {})[family] = { candidates: n, answered: ok, mean_prompt_tokens: Math.round(mean) };
    console.log(`${String(len).padStart(5)} tokens ${family.padEnd(8)}: ${ok}/${n} answered (prompt tokens mean ${mean.toFixed(0)}) [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
  }
}
console.log(`${outPath}: ${items.size} items, ${[...items.values()].filter((i) => i.answered).length} answered`);
console.log(`command: ${commandLine()}`);
mkdirSync("bench/results", { recursive: true });
writeFileSync(`bench/results/realmodel-eval${arg("tag", "") ? `-${arg("tag", "")}` : ""}.json`, JSON.stringify({ command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, seed, counts: table }, null, 2) + "\n");
await model.scorer.close();
