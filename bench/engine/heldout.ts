/**
 * Ground-truth recall on held-out synthetic items (models/eval/heldout.jsonl: LongRA-style
 * agreement and RAG copy items whose causal prompt tokens are known by construction), for every
 * method and mode, plus per-target agreement between joint and reference mode.
 *
 *   node --import tsx bench/engine/heldout.ts [--per-task N] [--limit N] [--sampler pos] [--max-steps 1000] [--num-probes 16] [--methods a,b]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { EngineConfigInput } from "../../src/attribution/config.js";
import { causalRecallAtK, targetAgreement } from "../../src/attribution/metrics.js";
import { arg, commandLine, engineFor, loadHeldout, mean, pct, sharedModel } from "./common.js";

const limit = Number(arg("limit", "1000000"));
const sampler = arg("sampler", "pos") as EngineConfigInput["sampler"];
const maxSteps = Number(arg("max-steps", "1000"));
const numProbes = Number(arg("num-probes", "16"));
const methods: { name: string; cfg: EngineConfigInput }[] = [
  { name: "reagent/joint", cfg: { method: "reagent", mode: "joint" } },
  { name: "reagent/reference", cfg: { method: "reagent", mode: "reference" } },
  { name: "loo", cfg: { method: "loo" } },
  { name: "random", cfg: { method: "random" } },
];
const only = arg("methods", methods.map((m) => m.name).join(",")).split(",");

const perTask = Number(arg("per-task", "0"));
const all = loadHeldout();
const items = (perTask > 0 ? [...new Set(all.map((i) => i.task))].flatMap((t) => all.filter((i) => i.task === t).slice(0, perTask)) : all).slice(0, limit);
const model = await sharedModel();
const results = new Map<string, AttributionResult[]>();
const rows: Record<string, unknown>[] = [];
console.log(`held-out items: ${items.length} (${[...new Set(items.map((i) => i.task))].join(", ")}); sampler ${sampler}; B=${numProbes}; T_max=${maxSteps}`);
for (const m of methods.filter((x) => only.includes(x.name))) {
  const built = await engineFor(model, { ...m.cfg, sampler, max_steps: maxSteps, num_probes: numProbes, max_targets: 1 });
  const rs: AttributionResult[] = [];
  const t0 = performance.now();
  for (const it of items) rs.push(await built.engine.attribute({ prompt: it.prompt, completion: it.completion, context: { record_id: it.id } }));
  const secs = (performance.now() - t0) / 1000;
  results.set(m.name, rs);
  for (const task of ["all", ...new Set(items.map((i) => i.task))]) {
    const idx = items.map((it, i) => ({ it, i })).filter(({ it }) => task === "all" || it.task === task);
    const r1 = mean(idx.map(({ it, i }) => (causalRecallAtK(rs[i] as AttributionResult, it.causal, 1) ? 1 : 0)));
    const r3 = mean(idx.map(({ it, i }) => (causalRecallAtK(rs[i] as AttributionResult, it.causal, 3) ? 1 : 0)));
    const conv = mean(idx.map(({ i }) => ((rs[i] as AttributionResult).convergence.converged ? 1 : 0)));
    const seqs = mean(idx.map(({ i }) => (rs[i] as AttributionResult).cost.sequences_evaluated));
    rows.push({ method: m.name, task, n: idx.length, recall_at_1: r1, recall_at_3: r3, converged: conv, sequences_per_item: seqs });
    console.log(
      `${m.name.padEnd(18)} ${task.padEnd(7)} n=${String(idx.length).padEnd(4)} recall@1 ${pct(r1).padStart(6)}  recall@3 ${pct(r3).padStart(6)}  converged ${pct(conv).padStart(6)}  sequences/item ${seqs.toFixed(0).padStart(6)}`,
    );
  }
  console.log(`${m.name}: ${secs.toFixed(1)} s for ${items.length} items`);
}
const joint = results.get("reagent/joint");
const ref = results.get("reagent/reference");
let agreement: { targets: number; spearman: number; top5_overlap: number } | undefined;
if (joint && ref) {
  const ag = joint.flatMap((r, i) => targetAgreement(r, ref[i] as AttributionResult));
  agreement = { targets: ag.length, spearman: mean(ag.map((a) => a.spearman)), top5_overlap: mean(ag.map((a) => a.top5Overlap)) };
  console.log(`joint vs reference, per target: n=${ag.length} mean Spearman ${agreement.spearman.toFixed(3)}, mean top-5 overlap ${pct(agreement.top5_overlap)}`);
}
mkdirSync("bench/results", { recursive: true });
const file = `bench/results/heldout-${sampler}.json`;
writeFileSync(file, JSON.stringify({ command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, rows, agreement }, null, 2));
console.log(`command: ${commandLine()}\nwritten: ${file}`);
await model.scorer.close();
