/**
 * Engine cost benchmark: reference vs joint mode on the same records (prompt ~60 tokens,
 * completion ~10 tokens, generated greedily by the bundled model so it is what the model says).
 * Prints model calls, sequences evaluated and wall time per record, their ratios, and the
 * first-target causal recall of each mode (the "equal recall" check).
 *
 *   node --import tsx bench/engine/run.ts [--records 100] [--offset 0] [--completion-tokens 10] [--sampler pos] [--max-steps 3000] [--check-every 1] [--stopping probe|ensemble] [--min-steps S] [--patience S] [--aggregation probes|pooled] [--joint-num-probes B] [--seed N] [--tag name]
 *
 * Reference mode's default T_max is 3000 (inseq's); `--max-steps` lowers it for both modes (joint
 * mode's default stops every target by its patience, 100 steps, so it is unaffected above that).
 * A line per record and mode goes to stderr (`!` marks a target that did not converge).
 *
 * `--offset` skips that many records of the same ordering, so one benchmark can be split across
 * processes (one per core) and the shards' per-record means averaged.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { EngineConfigInput, SamplerId } from "../../src/attribution/config.js";
import { causalRecallAtK, targetAgreement } from "../../src/attribution/metrics.js";
import { arg, commandLine, engineFor, loadHeldout, mean, pct, sharedModel } from "./common.js";

const n = Number(arg("records", "100"));
const offset = Number(arg("offset", "0"));
const G = Number(arg("completion-tokens", "10"));
const sampler = arg("sampler", "pos") as SamplerId;
const maxSteps = Number(arg("max-steps", "3000")); // the engine's default T_max
const seed = Number(arg("seed", "42"));
const checkEvery = Number(arg("check-every", "1"));
const model = await sharedModel();
const tok = model.tokenizer;

// Records: held-out prompts (longest first, to get ~60-token prompts) with a G-token greedy continuation.
const items = loadHeldout()
  .map((it) => ({ it, len: tok.encode(it.prompt).ids.length }))
  .sort((a, b) => Math.abs(a.len - 60) - Math.abs(b.len - 60))
  .slice(offset, offset + n)
  .map((x) => x.it);
const base = await engineFor(model, { sampler: "uniform" });
const records: { id: string; prompt: string; completion: string; completionIds: number[]; causal: { start: number; end: number }[] }[] = [];
for (const it of items) {
  const p = base.engine.prepare({ prompt: it.prompt, completion: " " });
  const ids = await model.scorer.generate(p.input.ids.slice(0, p.input.promptLength), G);
  records.push({ id: it.id, prompt: it.prompt, completion: tok.decode(ids), completionIds: ids, causal: it.causal });
}
const promptLens = records.map((r) => tok.encode(r.prompt).ids.length);
const jointProbes = arg("joint-num-probes", "");
console.log(
  `${records.length} records; prompt tokens mean ${mean(promptLens).toFixed(1)}; completion tokens ${G}; sampler ${sampler}; B=16${jointProbes ? ` (joint: ${jointProbes})` : ""}; T_max=${maxSteps}`,
);

type ModeName = "joint" | "reference" | "reference@seed43";
type PerRecord = { id: string; sequences: number; calls: number; r1: boolean; r3: boolean };
const out: Record<string, { calls: number; seqs: number; tokens: number; ms: number; r1: number; r3: number; conv: number; results: AttributionResult[]; per_record: PerRecord[] }> = {};
// `reference@seed43` is reference mode under another seed: how much two runs of the published method agree.
const modes = arg("modes", "joint,reference").split(",") as ModeName[];
const engines = new Map<ModeName, Awaited<ReturnType<typeof engineFor>>>();
for (const mode of modes) {
  const base = mode === "reference@seed43" ? { mode: "reference" as const, seed: 43 } : { mode, seed };
  // The stopping-rule flags and `--joint-num-probes` apply to joint mode only (reference mode runs the published rule, B 16).
  const jointOnly: EngineConfigInput =
    mode === "joint"
      ? {
          check_every: checkEvery,
          ...(arg("stopping", "") ? { stopping: arg("stopping", "") as EngineConfigInput["stopping"] } : {}),
          ...(arg("min-steps", "") ? { min_steps: Number(arg("min-steps", "")) } : {}),
          ...(arg("patience", "") ? { patience: Number(arg("patience", "")) } : {}),
          ...(jointProbes ? { num_probes: Number(jointProbes) } : {}),
          ...(arg("aggregation", "") ? { aggregation: arg("aggregation", "") as EngineConfigInput["aggregation"] } : {}),
        }
      : {};
  engines.set(mode, await engineFor(model, { ...base, ...jointOnly, sampler, max_steps: maxSteps }));
}
// Modes alternate record by record, so load from elsewhere on a shared machine hits them alike.
const results = new Map<ModeName, AttributionResult[]>(modes.map((m) => [m, []]));
const elapsed = new Map<ModeName, number>(modes.map((m) => [m, 0]));
for (const [i, r] of records.entries()) {
  for (const mode of modes) {
    const t0 = performance.now();
    const res = await engines.get(mode)!.engine.attribute({ prompt: r.prompt, completion: r.completion, completionIds: r.completionIds, context: { record_id: r.id } });
    const ms = performance.now() - t0;
    results.get(mode)!.push(res);
    elapsed.set(mode, elapsed.get(mode)! + ms);
    // Per-record progress on stderr: reference mode at T_max 3000 can take minutes on one record.
    const steps = res.targets.map((t) => `${t.steps}${t.converged ? "" : "!"}`).join(" ");
    const hit = causalRecallAtK(res, r.causal, 1) ? "@1" : causalRecallAtK(res, r.causal, 3) ? "@3" : "miss";
    console.error(`  ${mode} record ${offset + i}: ${res.cost.sequences_evaluated} sequences, ${res.cost.model_calls} calls, ${(ms / 1000).toFixed(1)} s; steps per target ${steps}; causal ${hit}`);
  }
}
for (const mode of modes) {
  const rs = results.get(mode)!;
  // Per record, so runs under other seeds can be paired record by record (bench/engine/seeds.ts).
  const perRecord: PerRecord[] = rs.map((x, i) => ({
    id: records[i]!.id,
    sequences: x.cost.sequences_evaluated,
    calls: x.cost.model_calls,
    r1: causalRecallAtK(x, records[i]!.causal, 1),
    r3: causalRecallAtK(x, records[i]!.causal, 3),
  }));
  out[mode] = {
    calls: mean(rs.map((x) => x.cost.model_calls)),
    seqs: mean(rs.map((x) => x.cost.sequences_evaluated)),
    tokens: mean(rs.map((x) => x.cost.tokens_processed)),
    ms: elapsed.get(mode)! / records.length,
    r1: mean(perRecord.map((p) => (p.r1 ? 1 : 0))),
    r3: mean(perRecord.map((p) => (p.r3 ? 1 : 0))),
    conv: mean(rs.map((x) => x.convergence.targets_converged / Math.max(1, x.convergence.targets_total))),
    results: rs,
    per_record: perRecord,
  };
  const o = out[mode];
  console.log(
    `${mode.padEnd(9)} per record: model calls ${o.calls.toFixed(0).padStart(7)}  sequences ${o.seqs.toFixed(0).padStart(8)}  tokens ${o.tokens.toFixed(0).padStart(9)}  wall ${(o.ms / 1000).toFixed(2).padStart(7)} s  ` +
      `targets converged ${pct(o.conv)}  first-target recall@1 ${pct(o.r1)} recall@3 ${pct(o.r3)}`,
  );
}
const agreementRows: Record<string, { targets: number; spearman: number; top5_overlap: number }> = {};
for (const [a, b] of [
  ["joint", "reference"],
  ["reference", "reference@seed43"],
  ["joint", "reference@seed43"],
] as const) {
  const ra = out[a]?.results;
  const rb = out[b]?.results;
  if (!ra || !rb) continue;
  const ag = ra.flatMap((x, i) => targetAgreement(x, rb[i]!));
  agreementRows[`${a} vs ${b}`] = { targets: ag.length, spearman: mean(ag.map((x) => x.spearman)), top5_overlap: mean(ag.map((x) => x.top5Overlap)) };
  console.log(`agreement per target, ${a} vs ${b} (n=${ag.length}): Spearman ${mean(ag.map((x) => x.spearman)).toFixed(3)}, top-5 overlap ${pct(mean(ag.map((x) => x.top5Overlap)))}`);
}
const j = out.joint;
const r = out.reference;
if (j && r) {
  console.log(
    `reference / joint: model calls ${(r.calls / j.calls).toFixed(1)}x, sequences ${(r.seqs / j.seqs).toFixed(1)}x, tokens ${(r.tokens / j.tokens).toFixed(1)}x, wall time ${(r.ms / j.ms).toFixed(1)}x`,
  );
}
console.log(`command: ${commandLine()}`);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/engine-${sampler}${arg("tag", "") ? `-${arg("tag", "")}` : ""}.json`,
  JSON.stringify(
    { command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, records: records.length, offset, completion_tokens: G, seed, max_steps: maxSteps, ...(j ? { joint: { ...j, results: undefined } } : {}), ...(r ? { reference: { ...r, results: undefined } } : {}), ...(out["reference@seed43"] ? { reference_seed43: { ...out["reference@seed43"], results: undefined } } : {}), agreement: agreementRows },
    null,
    2,
  ),
);
await model.scorer.close();
