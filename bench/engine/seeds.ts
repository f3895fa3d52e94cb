/**
 * Recall across seeds: pools runs of bench/engine/run.ts that differ only in `--seed`, per
 * setting, and compares two settings record by record. One run's recall@1 on 100 records moves by
 * several points from seed to seed (the probes start from random scores), so "equal recall" is
 * judged on the mean over seeds, with a bootstrap interval over records for the difference.
 *
 *   node --import tsx bench/engine/seeds.ts --a "reference=f1.json,f2.json" --b "joint=f3.json,f4.json" [--mode-a reference] [--mode-b joint]
 *
 * Each file is a run.ts result (`<mode>.per_record`, or a top-level `per_record` as in
 * bench/results/engine-pos-ref3000-100.json); records are matched by id, and only records present
 * in every file count.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { createRng } from "../../src/attribution/rng.js";
import { arg, commandLine, mean, pct } from "./common.js";

const perRecordSchema = z.array(z.object({ id: z.string(), r1: z.boolean(), r3: z.boolean(), sequences: z.number().optional(), seqs: z.number().optional() }).loose());
type PerRecord = z.infer<typeof perRecordSchema>[number];

function load(file: string, mode: string): PerRecord[] {
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const block = json[mode] as { per_record?: unknown } | undefined;
  const raw = block?.per_record ?? json.per_record;
  const parsed = perRecordSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file}: no per-record results for mode "${mode}" (${parsed.error.issues[0]?.message ?? "invalid"})`);
  return parsed.data;
}

function group(spec: string, mode: string): { name: string; runs: PerRecord[][]; files: string[] } {
  const [name, list] = spec.split("=");
  if (!name || !list) throw new Error(`expected name=file1,file2: got "${spec}"`);
  const files = list.split(",");
  return { name, files, runs: files.map((f) => load(f, mode)) };
}

const a = group(arg("a", ""), arg("mode-a", "reference"));
const b = group(arg("b", ""), arg("mode-b", "joint"));
const ids = [...new Set(a.runs[0]!.map((r) => r.id))].filter((id) => [...a.runs, ...b.runs].every((run) => run.some((r) => r.id === id)));
const byId = (run: PerRecord[]) => new Map(run.map((r) => [r.id, r]));

/** Per record: the share of seeds that ranked a causal token in the top k. */
function perRecordRecall(g: { runs: PerRecord[][] }, k: "r1" | "r3"): number[] {
  const maps = g.runs.map(byId);
  return ids.map((id) => mean(maps.map((m) => (m.get(id)![k] ? 1 : 0))));
}

console.log(`${ids.length} records in every run`);
for (const g of [a, b]) {
  const seeds = g.runs.map((run, i) => {
    const m = byId(run);
    const r1 = mean(ids.map((id) => (m.get(id)!.r1 ? 1 : 0)));
    const r3 = mean(ids.map((id) => (m.get(id)!.r3 ? 1 : 0)));
    const seqs = mean(ids.map((id) => m.get(id)!.sequences ?? m.get(id)!.seqs ?? NaN));
    return `${g.files[i]}: ${pct(r1)} / ${pct(r3)}${Number.isFinite(seqs) ? `, ${seqs.toFixed(0)} sequences` : ""}`;
  });
  console.log(`${g.name}: recall@1 ${pct(mean(perRecordRecall(g, "r1")))}, recall@3 ${pct(mean(perRecordRecall(g, "r3")))} over ${g.runs.length} seed(s)`);
  for (const s of seeds) console.log(`  ${s}`);
}

// Paired bootstrap over records of the difference in mean recall (b − a).
const rng = createRng(7, "bootstrap");
for (const k of ["r1", "r3"] as const) {
  const da = perRecordRecall(a, k);
  const db = perRecordRecall(b, k);
  const diff = ids.map((_, i) => (db[i] as number) - (da[i] as number));
  const boots: number[] = [];
  for (let rep = 0; rep < 10000; rep++) {
    let s = 0;
    for (let i = 0; i < diff.length; i++) s += diff[Math.floor(rng.next() * diff.length)] as number;
    boots.push(s / diff.length);
  }
  boots.sort((x, y) => x - y);
  const lo = boots[Math.floor(0.025 * boots.length)] as number;
  const hi = boots[Math.floor(0.975 * boots.length)] as number;
  console.log(`${b.name} − ${a.name}, recall@${k.slice(1)}: ${(100 * mean(diff)).toFixed(1)} points (95% bootstrap interval over records ${(100 * lo).toFixed(1)} to ${(100 * hi).toFixed(1)})`);
}
console.log(`command: ${commandLine()}`);
