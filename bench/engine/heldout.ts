/**
 * Ground-truth recall on held-out synthetic items (models/eval/heldout.jsonl: LongRA-style
 * agreement and RAG copy items whose causal prompt tokens are known by construction), for every
 * method and mode, plus per-target agreement between joint and reference mode.
 *
 *   node --import tsx bench/engine/heldout.ts [--per-task N] [--offset N] [--limit N] [--sampler pos] [--max-steps 1000] [--num-probes 16] [--methods a,b]
 *     [--replacing-ratio r] [--keep-top-n n] [--check-every c] [--stopping probe|ensemble] [--min-steps S] [--patience S] [--aggregation probes|pooled] [--tag name] [--save dir]
 *
 * `--save dir` writes each method's results as JSONL so runs made in separate processes (one per
 * core) can be compared afterwards with bench/engine/agreement.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { EngineConfigInput, SamplerId } from "../../src/attribution/config.js";
import { causalRecallAtK, targetAgreement } from "../../src/attribution/metrics.js";
import { arg, commandLine, engineFor, loadHeldout, mean, pct, sharedModel } from "./common.js";

const limit = Number(arg("limit", "1000000"));
const sampler = arg("sampler", "pos") as SamplerId;
const maxSteps = Number(arg("max-steps", "1000"));
const numProbes = Number(arg("num-probes", "16"));
const methods: { name: string; cfg: EngineConfigInput }[] = [
  { name: "reagent/joint", cfg: { method: "reagent", mode: "joint" } },
  { name: "reagent/reference", cfg: { method: "reagent", mode: "reference" } },
  // A second reference run with another seed: how much two runs of the published method agree.
  { name: "reagent/reference@seed43", cfg: { method: "reagent", mode: "reference", seed: 43 } },
  { name: "reagent/joint@seed43", cfg: { method: "reagent", mode: "joint", seed: 43 } },
  { name: "loo", cfg: { method: "loo" } },
  { name: "random", cfg: { method: "random" } },
];
const only = arg("methods", "reagent/joint,reagent/reference,loo,random").split(",");

const perTask = Number(arg("per-task", "0"));
const all = loadHeldout();
// `--offset`/`--limit` take a slice of that ordering, so one run can be split across processes (one per core).
const offset = Number(arg("offset", "0"));
const items = (perTask > 0 ? [...new Set(all.map((i) => i.task))].flatMap((t) => all.filter((i) => i.task === t).slice(0, perTask)) : all).slice(offset, offset + limit);
const model = await sharedModel();
const results = new Map<string, AttributionResult[]>();
const rows: Record<string, unknown>[] = [];
console.log(`held-out items: ${items.length} (${[...new Set(items.map((i) => i.task))].join(", ")}); sampler ${sampler}; B=${numProbes}; T_max=${maxSteps}`);
for (const m of methods.filter((x) => only.includes(x.name))) {
  const extra: EngineConfigInput = {
    ...(arg("replacing-ratio", "") ? { replacing_ratio: Number(arg("replacing-ratio", "")) } : {}),
    ...(arg("keep-top-n", "") ? { keep_top_n: Number(arg("keep-top-n", "")) } : {}),
  };
  // Joint-mode-only settings (the config refuses them with reference mode).
  if (m.cfg.mode === "joint") {
    if (arg("check-every", "")) extra.check_every = Number(arg("check-every", ""));
    if (arg("stopping", "")) extra.stopping = arg("stopping", "") as EngineConfigInput["stopping"];
    if (arg("min-steps", "")) extra.min_steps = Number(arg("min-steps", ""));
    if (arg("patience", "")) extra.patience = Number(arg("patience", ""));
    if (arg("aggregation", "")) extra.aggregation = arg("aggregation", "") as EngineConfigInput["aggregation"];
  }
  const built = await engineFor(model, { ...m.cfg, ...extra, sampler, max_steps: maxSteps, num_probes: numProbes, max_targets: 1 });
  const rs: AttributionResult[] = [];
  const t0 = performance.now();
  for (const it of items) rs.push(await built.engine.attribute({ prompt: it.prompt, completion: it.completion, context: { record_id: it.id } }));
  const secs = (performance.now() - t0) / 1000;
  results.set(m.name, rs);
  const saveDir = arg("save", "");
  if (saveDir) {
    mkdirSync(saveDir, { recursive: true });
    const f = `${saveDir}/heldout-${sampler}${arg("tag", "") ? `-${arg("tag", "")}` : ""}-${m.name.replace(/[/@]/g, "_")}.jsonl`;
    writeFileSync(f, rs.map((r) => JSON.stringify(r)).join("\n") + "\n");
    console.log(`saved: ${f}`);
  }
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
const agreement: Record<string, { targets: number; spearman: number; top5_overlap: number }> = {};
for (const [a, b] of [
  ["reagent/joint", "reagent/reference"],
  ["reagent/reference", "reagent/reference@seed43"],
  ["reagent/joint", "reagent/joint@seed43"],
  ["reagent/joint@seed43", "reagent/reference"],
] as const) {
  const ra = results.get(a);
  const rb = results.get(b);
  if (!ra || !rb) continue;
  const ag = ra.flatMap((r, i) => targetAgreement(r, rb[i] as AttributionResult));
  agreement[`${a} vs ${b}`] = { targets: ag.length, spearman: mean(ag.map((x) => x.spearman)), top5_overlap: mean(ag.map((x) => x.top5Overlap)) };
  console.log(`${a} vs ${b}, per target: n=${ag.length} mean Spearman ${mean(ag.map((x) => x.spearman)).toFixed(3)}, mean top-5 overlap ${pct(mean(ag.map((x) => x.top5Overlap)))}`);
}
mkdirSync("bench/results", { recursive: true });
const file = `bench/results/heldout-${sampler}${arg("tag", "") ? `-${arg("tag", "")}` : ""}.json`;
writeFileSync(file, JSON.stringify({ command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, rows, agreement }, null, 2));
console.log(`command: ${commandLine()}\nwritten: ${file}`);
await model.scorer.close();
