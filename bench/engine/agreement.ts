/**
 * Per-target agreement between two saved runs of bench/engine/heldout.ts (`--save dir`), joined on
 * record id: mean Spearman correlation and top-5 overlap over the items both runs attributed, and
 * each run's ground-truth recall@1/@3 on exactly those items.
 *
 *   node --import tsx bench/engine/agreement.ts <a.jsonl> <b.jsonl>
 */
import { readFileSync } from "node:fs";
import { attributionResultSchema, type AttributionResult } from "../../schemas/attribution-result.js";
import { causalRecallAtK, targetAgreement } from "../../src/attribution/metrics.js";
import { commandLine, loadHeldout, mean, pct } from "./common.js";

function load(path: string): Map<string, AttributionResult> {
  const rows = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => attributionResultSchema.parse(JSON.parse(l)));
  return new Map(rows.map((r) => [r.context.record_id ?? r.attribution_id, r]));
}

const [fa, fb] = process.argv.slice(2);
if (!fa || !fb) {
  console.error("usage: agreement.ts <a.jsonl> <b.jsonl>");
  process.exit(2);
}
const a = load(fa);
const b = load(fb);
const common = [...a.keys()].filter((k) => b.has(k));
const ag = common.flatMap((k) => targetAgreement(a.get(k)!, b.get(k)!));
console.log(`${fa} vs ${fb}: items ${common.length}, targets ${ag.length}, mean Spearman ${mean(ag.map((x) => x.spearman)).toFixed(3)}, mean top-5 overlap ${pct(mean(ag.map((x) => x.top5Overlap)))}`);
const causal = new Map(loadHeldout().map((it) => [it.id, it.causal]));
for (const [name, run] of [[fa, a], [fb, b]] as const) {
  const scored = common.filter((k) => causal.has(k));
  const at = (k: number) => mean(scored.map((id) => (causalRecallAtK(run.get(id)!, causal.get(id)!, k) ? 1 : 0)));
  console.log(`${name}: recall@1 ${pct(at(1))}, recall@3 ${pct(at(3))} on these ${scored.length} items`);
}
console.log(`command: ${commandLine()}`);
