/**
 * Seconds per scored sequence of a local ONNX model at several prompt lengths: the unit cost of
 * every attribution method (a record costs `sequences × this`). Each length scores `--sequences`
 * perturbed copies of one real-text sequence in the engine's own batches (OnnxScorer groups rows
 * up to its token budget), reading 8 completion positions per row, as joint mode does.
 *
 *   node --import tsx bench/realmodel/cost.ts [--model smollm2] [--lengths 64,256,1024,2048] [--sequences 16] [--threads 2] [--max-batch-tokens N]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { loadLocalModel } from "../../src/models/local-model.js";
import { arg, commandLine } from "../engine/common.js";
import { fillerText } from "./filler.js";

const dir = arg("model", "smollm2");
const lengths = arg("lengths", "64,256,1024,2048").split(",").map(Number);
const nSeq = Number(arg("sequences", "16"));
const threads = arg("threads", "");
const mbt = arg("max-batch-tokens", "");
const model = await loadLocalModel(dir, { ...(threads ? { intraOpThreads: Number(threads) } : {}), ...(mbt ? { maxBatchTokens: Number(mbt) } : {}) });
const tok = model.tokenizer;
const base = tok.encode(fillerText(7, 4 * Math.max(...lengths))).ids;
const rows: Record<string, { seconds_per_sequence: number; cpu_seconds_per_sequence: number; sequences: number; wall_s: number; rss_peak_mb: number }> = {};
console.log(`model ${model.scorer.info.id}; ${nSeq} sequences per length; 8 scored positions per sequence; rows × width per pass ≤ ${mbt || "16384 (default)"}`);
for (const L of lengths) {
  const ids = base.slice(0, L);
  // Perturb 10% of the positions per copy, so no two rows are identical (as in attribution).
  const batch = Array.from({ length: nSeq }, (_, r) => ({
    ids: ids.map((id, i) => ((i * 7919 + r * 104729) % 10 === 0 ? (id + r + 1) % tok.size : id)),
    positions: Array.from({ length: 8 }, (_, j) => L - 8 + j),
  }));
  await model.scorer.score(batch.slice(0, 1), { topK: 5 }); // warm-up: first run allocates
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await model.scorer.score(batch, { topK: 5 });
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  // CPU seconds (all threads) depend far less on other processes' load than wall time does.
  const cpu = (cu.user + cu.system) / 1e6;
  const rss = process.resourceUsage().maxRSS / 1024;
  rows[String(L)] = { seconds_per_sequence: wall / nSeq, cpu_seconds_per_sequence: cpu / nSeq, sequences: nSeq, wall_s: wall, rss_peak_mb: Math.round(rss) };
  console.log(`${String(L).padStart(5)} tokens: ${(wall / nSeq).toFixed(3)} s per sequence wall, ${(cpu / nSeq).toFixed(3)} CPU-s (${nSeq} sequences in ${wall.toFixed(1)} s); peak RSS ${rss.toFixed(0)} MB; load average ${loadavg()[0]?.toFixed(1)}`);
}
console.log(`command: ${commandLine()}`);
mkdirSync("bench/results", { recursive: true });
const tag = arg("tag", dir.replace(/[^A-Za-z0-9-]+/g, "_").replace(/^_+/, ""));
writeFileSync(`bench/results/realmodel-cost-${tag}.json`, JSON.stringify({ command: commandLine(), date: new Date().toISOString(), model: model.scorer.info.id, lengths: rows }, null, 2) + "\n");
await model.scorer.close();
