/**
 * Engine cost benchmark: reference vs joint mode on the same records (prompt ~60 tokens,
 * completion ~10 tokens, generated greedily by the bundled model so it is what the model says).
 * Prints model calls, sequences evaluated and wall time per record, their ratios, and the
 * first-target causal recall of each mode (the "equal recall" check).
 *
 *   node --import tsx bench/engine/run.ts [--records 100] [--offset 0] [--completion-tokens 10] [--sampler pos] [--max-steps 1000] [--check-every 1] [--tag name]
 *
 * `--offset` skips that many records of the same ordering, so one benchmark can be split across
 * processes (one per core) and the shards' per-record means averaged.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { EngineConfigInput } from "../../src/attribution/config.js";
import { causalRecallAtK, targetAgreement } from "../../src/attribution/metrics.js";
import { arg, commandLine, engineFor, loadHeldout, mean, pct, sharedModel } from "./common.js";

const n = Number(arg("records", "100"));
const offset = Number(arg("offset", "0"));
const G = Number(arg("completion-tokens", "10"));
const sampler = arg("sampler", "pos") as EngineConfigInput["sampler"];
const maxSteps = Number(arg("max-steps", "1000"));
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
console.log(`${records.length} records; prompt tokens mean ${mean(promptLens).toFixed(1)}; completion tokens ${G}; sampler ${sampler}; B=16; T_max=${maxSteps}`);

const out: Record<string, { calls: number; seqs: number; tokens: number; ms: number; r1: number; r3: number; conv: number; results: AttributionResult[] }> = {};
const modes = arg("modes", "joint,reference").split(",") as ("joint" | "reference")[];
for (const mode of modes) {
  const built = await engineFor(model, { mode, sampler, max_steps: maxSteps, check_every: checkEvery });
  const results: AttributionResult[] = [];
  const t0 = performance.now();
  for (const r of records) results.push(await built.engine.attribute({ prompt: r.prompt, completion: r.completion, completionIds: r.completionIds, context: { record_id: r.id } }));
  const ms = (performance.now() - t0) / records.length;
  out[mode] = {
    calls: mean(results.map((x) => x.cost.model_calls)),
    seqs: mean(results.map((x) => x.cost.sequences_evaluated)),
    tokens: mean(results.map((x) => x.cost.tokens_processed)),
    ms,
    r1: mean(results.map((x, i) => (causalRecallAtK(x, records[i]!.causal, 1) ? 1 : 0))),
    r3: mean(results.map((x, i) => (causalRecallAtK(x, records[i]!.causal, 3) ? 1 : 0))),
    conv: mean(results.map((x) => x.convergence.targets_converged / Math.max(1, x.convergence.targets_total))),
    results,
  };
  const o = out[mode];
  console.log(
    `${mode.padEnd(9)} per record: model calls ${o.calls.toFixed(0).padStart(7)}  sequences ${o.seqs.toFixed(0).padStart(8)}  tokens ${o.tokens.toFixed(0).padStart(9)}  wall ${(o.ms / 1000).toFixed(2).padStart(7)} s  ` +
      `targets converged ${pct(o.conv)}  first-target recall@1 ${pct(o.r1)} recall@3 ${pct(o.r3)}`,
  );
}
const j = out.joint;
const r = out.reference;
if (!j || !r) process.exit(0);
const ag = j.results.flatMap((x, i) => targetAgreement(x, r.results[i]!));
console.log(
  `reference / joint: model calls ${(r.calls / j.calls).toFixed(1)}x, sequences ${(r.seqs / j.seqs).toFixed(1)}x, tokens ${(r.tokens / j.tokens).toFixed(1)}x, wall time ${(r.ms / j.ms).toFixed(1)}x`,
);
console.log(`agreement per target (n=${ag.length}): Spearman ${mean(ag.map((a) => a.spearman)).toFixed(3)}, top-5 overlap ${pct(mean(ag.map((a) => a.top5Overlap)))}`);
console.log(`command: ${commandLine()}`);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/engine-${sampler}${arg("tag", "") ? `-${arg("tag", "")}` : ""}.json`,
  JSON.stringify(
    { command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, records: records.length, offset, completion_tokens: G, joint: { ...j, results: undefined }, reference: { ...r, results: undefined } },
    null,
    2,
  ),
);
await model.scorer.close();
