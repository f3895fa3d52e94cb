/**
 * Real-model attribution benchmark (issue 15): per prompt length, on the evaluation items the
 * model answers (models/eval/smollm2.jsonl, made by make-eval.ts), each method's
 *   recall@1/@3 of the causal span at token level (the value/country tokens) and at unit level
 *   (the document/paragraph holding it, ranked by the first target's importance summed per unit),
 *   sequences and wall time per record, share of records converged, seed top-3 overlap (two
 *   seeds, same record; top-3 units at unit level; "credited": over the features each seed gives a
 *   positive score, see overlapOf), recall@1 of the causal sentence, and the
 *   engine's deletion faithfulness as ln-ratios against random features of the same count.
 * Only the answer's first token is attributed (the one make-eval checked).
 *
 *   node --import tsx bench/realmodel/run.ts [--model smollm2] [--lengths 64,256] [--items 4] [--methods joint,loo,random]
 *        [--seeds 42,43] [--max-steps N] [--families needle,capital,multidoc] [--skip 0] [--threads 2] [--faithfulness 8] [--tag name]
 *
 * Methods (methods.ts, engine settings only): joint (token-level ReAGent, joint mode), loo, random
 * (tokens); segfirst (segment-first ReAGent over paragraphs, i.e. the items' documents, at the
 * engine's defaults), segfirst-u (its unit stage only: refine_top 0), segfirst-u32 / segfirst-u64
 * and segfirst-s32 / segfirst-s64 (the unit stage capped at 7 / 15 steps, ≤ 32 / 64 sequences:
 * ReAGent at ContextCite's call counts, read with pooled z / the surrogate), segfirst-p (pooled z),
 * segfirst-s2 (refining the top two units), segfirst-sent (over sentences), cc32 / cc64
 * (ContextCite-style, 32 / 64 ablations over paragraphs), loo-unit (leave-one-paragraph-out).
 * bench/realmodel/inspect.ts prints one record's units and top tokens.
 *
 * --items: records per family per length (answered items only, in file order); --skip: answered items
 * per family passed over first, so a second run measures further items.
 * The results file is rewritten after every record with `complete: false` until the run ends: a 1k/2k
 * run takes hours on a shared machine and is often cut short.
 * --max-steps: joint mode's T_max (its patience still gives unconverged targets up at 100 steps).
 * A line per record and method goes to stderr.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { causalRecallAtK, firstTargetPromptRow, tokensInSpans } from "../../src/attribution/metrics.js";
import { topNIndices } from "../../src/attribution/vector-math.js";
import { buildEngine, type BuiltEngine } from "../../src/app/engine.js";
import { loadLocalModel } from "../../src/models/local-model.js";
import { unitBoundaries } from "../../src/text/units.js";
import { arg, commandLine, mean, pct } from "../engine/common.js";
import { evalItemSchema, FAMILIES, type EvalItem } from "./items.js";
import { METHODS } from "./methods.js";


const lengths = arg("lengths", "64,256").split(",").map(Number);
const perFamily = Number(arg("items", "4"));
const skip = Number(arg("skip", "0"));
const methods = arg("methods", "joint,loo,random").split(",");
const seeds = arg("seeds", "42,43").split(",").map(Number);
const maxSteps = arg("max-steps", "");
const families = arg("families", FAMILIES.join(",")).split(",") as (typeof FAMILIES)[number][];
const threads = arg("threads", "");
/** Deletion faithfulness budget per record (0 = off); its sequences are counted apart from the method's. */
const faithBudget = Number(arg("faithfulness", "8"));
for (const m of methods) if (!METHODS[m]) throw new Error(`unknown method ${m}; known: ${Object.keys(METHODS).join(", ")}`);

const all = readFileSync(arg("eval", "models/eval/smollm2.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => evalItemSchema.parse(JSON.parse(l)));
const model = await loadLocalModel(arg("model", "smollm2"), threads ? { intraOpThreads: Number(threads) } : {});
const tok = model.tokenizer;

/** The first target's token importance summed over the tokens overlapping character range `u`. */
function rangeScore(res: AttributionResult, row: ArrayLike<number>, u: { start: number; end: number }): number {
  return res.prompt.tokens.reduce((s, t, i) => (t.end > t.start && t.start < u.end && u.start < t.end && !t.protected ? s + (row[i] ?? 0) : s), 0);
}

/** Unit ranks from the first target's token importance summed over each unit's tokens. */
function unitRecall(res: AttributionResult, item: EvalItem, k: number): boolean {
  const row = firstTargetPromptRow(res);
  const scores = item.units.map((u) => rangeScore(res, row, u));
  return topNIndices(scores, k).includes(item.causal_unit);
}

/**
 * Recall@k of the causal span among the causal unit's own tokens, when segment-first refined that
 * unit (null otherwise: an unrefined unit shares its score evenly, so ranks inside it are ties).
 * Separates "the refinement found the value inside the right document" from the global token
 * rank, where the question's tokens compete with it.
 */
function tokenRecallInUnit(res: AttributionResult, item: EvalItem, k: number): boolean | null {
  const u = item.units[item.causal_unit];
  if (!u || !res.units.some((x) => x.refined && x.start < u.end && u.start < x.end)) return null;
  const row = firstTargetPromptRow(res);
  const mask = res.prompt.tokens.map((t) => !t.protected && t.start < u.end && u.start < t.end);
  const want = tokensInSpans(res, item.causal.slice(0, 1));
  return topNIndices(row, k, mask).some((i) => want.has(i));
}

/** Whether the causal sentence outranks every other sentence of the context (the item's units; same sentence cuts as the engine's units). */
function sentenceAt1(res: AttributionResult, item: EvalItem): boolean {
  const row = firstTargetPromptRow(res);
  const cuts = unitBoundaries(item.prompt, "sentence", [], []);
  const c = item.causal_sentence;
  let best: { start: number; end: number } | undefined;
  let bestScore = -Infinity;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const r = { start: cuts[k] as number, end: cuts[k + 1] as number };
    if (!item.units.some((u) => u.start < r.end && r.start < u.end)) continue;
    const sc = rangeScore(res, row, r);
    if (sc > bestScore) {
      bestScore = sc;
      best = r;
    }
  }
  return best !== undefined && best.start < c.end && c.start < best.end;
}

/** Features' scores: units at unit level (their tokens share one score), else prompt tokens (protected ones masked). */
function featureScores(res: AttributionResult): { scores: ArrayLike<number>; mask?: boolean[] } {
  if (res.units.length > 0) return { scores: res.units.map((u) => u.score) };
  return { scores: firstTargetPromptRow(res), mask: res.prompt.tokens.map((t) => !t.protected) };
}

/** Top-3 features, ties (zeros included) broken by position. */
function top3(res: AttributionResult): number[] {
  const { scores, mask } = featureScores(res);
  return topNIndices(scores, 3, mask);
}

/** The top-3 features with a positive score: fewer when the method credits fewer (the surrogate's noise floor). */
function top3Credited(res: AttributionResult): number[] {
  const { scores } = featureScores(res);
  return top3(res).filter((i) => (scores[i] ?? 0) > 0);
}

/**
 * Overlap of two seeds' top-3 sets, |A ∩ B| / 3; `credited`: over the features each seed gives a
 * positive score, |A ∩ B| / max(|A|, |B|), so two seeds that both credit the same two units
 * and nothing else agree fully instead of on whichever zero comes first by position.
 */
function overlapOf(a: readonly number[], b: readonly number[], credited: boolean): number {
  const hits = a.filter((i) => b.includes(i)).length;
  return credited ? hits / Math.max(a.length, b.length, 1) : hits / 3;
}

type Row = {
  id: string;
  family: string;
  prompt_tokens: number;
  features: number;
  sequences: number;
  faithfulness_sequences: number;
  wall_s: number;
  converged: boolean;
  tok_r1: boolean;
  /** Token recall@1 / @3 inside the causal unit when it was refined (null when it was not). */
  tok_in_unit_r1: boolean | null;
  tok_in_unit_r3: boolean | null;
  tok_r3: boolean;
  unit_r1: boolean;
  unit_r3: boolean;
  sent_r1: boolean;
  seed_top3_overlap: number | null;
  /** Overlap of the top-3 features each seed credits with a positive score (overlapOf). */
  seed_top3_overlap_credited: number | null;
  /** Whether both seeds rank the same feature first. */
  seed_top1_agree: boolean | null;
  /** Each seed's top-3 features (unit or token indices), for reading what the overlap misses. */
  top3_by_seed: number[][];
  faithfulness: Record<string, number> | null;
};
const engines = new Map<string, BuiltEngine>();
async function engineFor(method: string, seed: number): Promise<BuiltEngine> {
  const key = `${method}@${seed}`;
  let e = engines.get(key);
  if (!e) {
    const spec = METHODS[method]!;
    const steps = maxSteps && spec.cfg.method === "reagent" ? { max_steps: Number(maxSteps) } : {};
    // Faithfulness on the first seed's run only (the second run is there for the seed overlap).
    const faithfulness = faithBudget > 0 && seed === seeds[0] ? { type: "deletion" as const, budget: faithBudget } : ("off" as const);
    e = await buildEngine({ model, engine: { ...spec.cfg, ...steps, seed, max_targets: 1, faithfulness } });
    engines.set(key, e);
  }
  return e;
}

const startLoad = loadavg()[0];
/** Rewrites the results file; `complete` false while methods or lengths are still to run. */
function writeResults(complete: boolean): void {
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    `bench/results/realmodel${arg("tag", "") ? `-${arg("tag", "")}` : ""}.json`,
    JSON.stringify({ command: commandLine(), date: new Date().toISOString(), complete, model: model.scorer.info.id, load_average_start: startLoad, summary, per_record: perRecord }, null, 2) + "\n",
  );
}

const fmtLn = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? "n/a" : v.toFixed(2));

const summary: Record<string, Record<string, Record<string, number>>> = {};
const perRecord: Record<string, Record<string, Row[]>> = {};
console.log(`model ${model.scorer.info.id}; methods ${methods.join(", ")}; seeds ${seeds.join(", ")}${maxSteps ? `; joint T_max ${maxSteps}` : ""}; load average ${loadavg()[0]?.toFixed(1)}`);
for (const L of lengths) {
  const answered = all.filter((i) => i.target_tokens === L && i.answered);
  const items = families.flatMap((f) => answered.filter((i) => i.family === f).slice(skip, skip + perFamily));
  // Unit recall of a blind guess: k of the item's units.
  const chance = (k: number): number => mean(items.map((i) => Math.min(k, i.units.length) / i.units.length));
  console.log(
    `\n== ${L} tokens: ${answered.length}/${all.filter((i) => i.target_tokens === L).length} items answered; ${items.length} records (${perFamily} per family${skip ? `, after ${skip}` : ""}); units per record ${mean(items.map((i) => i.units.length)).toFixed(1)} (chance unit r@1 ${pct(chance(1))}, r@3 ${pct(chance(3))})`,
  );
  (summary[String(L)] ??= {}).chance = { unit_recall_at_1: chance(1), unit_recall_at_3: chance(3), records: items.length };
  for (const method of methods) {
    const rows: Row[] = [];
    (perRecord[String(L)] ??= {})[method] = rows; // filled record by record, so a cut run keeps its records
    for (const item of items) {
      const first = tok.encode(item.completion).ids.slice(0, 1);
      const req = { prompt: item.prompt, completion: tok.decode(first), completionIds: first, context: { record_id: item.id } };
      const t0 = performance.now();
      const res = await (await engineFor(method, seeds[0] as number)).engine.attribute(req);
      const wall = (performance.now() - t0) / 1000;
      let overlap: number | null = null;
      let overlapCredited: number | null = null;
      let top1: boolean | null = null;
      const tops = [top3(res)];
      const credited = [top3Credited(res)];
      if (METHODS[method]!.seeded && seeds.length > 1) {
        const res2 = await (await engineFor(method, seeds[1] as number)).engine.attribute(req);
        tops.push(top3(res2));
        credited.push(top3Credited(res2));
        overlap = overlapOf(tops[0] as number[], tops[1] as number[], false);
        overlapCredited = overlapOf(credited[0] as number[], credited[1] as number[], true);
        top1 = tops[0]?.[0] === tops[1]?.[0];
      }
      const row: Row = {
        id: item.id,
        family: item.family,
        prompt_tokens: res.prompt.tokens.length,
        features: res.units.length > 0 ? res.units.length : res.prompt.tokens.filter((t) => !t.protected).length,
        // The engine's counter includes the faithfulness check; the method's cost is the rest.
        sequences: res.cost.sequences_evaluated - (res.faithfulness?.faithfulness_sequences ?? 0),
        faithfulness_sequences: res.faithfulness?.faithfulness_sequences ?? 0,
        wall_s: wall,
        converged: res.convergence.converged,
        tok_r1: causalRecallAtK(res, item.causal.slice(0, 1), 1),
        tok_r3: causalRecallAtK(res, item.causal.slice(0, 1), 3),
        tok_in_unit_r1: tokenRecallInUnit(res, item, 1),
        tok_in_unit_r3: tokenRecallInUnit(res, item, 3),
        unit_r1: unitRecall(res, item, 1),
        unit_r3: unitRecall(res, item, 3),
        sent_r1: sentenceAt1(res, item),
        seed_top3_overlap: overlap,
        seed_top3_overlap_credited: overlapCredited,
        seed_top1_agree: top1,
        top3_by_seed: tops,
        faithfulness: res.faithfulness,
      };
      rows.push(row);
      writeResults(false);
      console.error(
        `  ${method} ${item.id}: ${row.sequences} sequences, ${wall.toFixed(1)} s, ${row.converged ? "converged" : "not converged"}; token ${row.tok_r1 ? "@1" : row.tok_r3 ? "@3" : "miss"}${row.tok_in_unit_r1 === null ? "" : ` (inside the causal unit ${row.tok_in_unit_r1 ? "@1" : row.tok_in_unit_r3 ? "@3" : "miss"})`}, unit ${row.unit_r1 ? "@1" : row.unit_r3 ? "@3" : "miss"}, sentence ${row.sent_r1 ? "@1" : "miss"}; ${row.features} features; faithfulness ln-ratio ${fmtLn(row.faithfulness?.comprehensiveness_ln_ratio)} / ${fmtLn(row.faithfulness?.sufficiency_ln_ratio)}${overlap === null ? "" : `; seed top-3 overlap ${overlap.toFixed(2)} (credited ${(overlapCredited ?? NaN).toFixed(2)}), top-1 ${top1 ? "agrees" : "differs"} (${tops.map((t) => t.join(",")).join(" / ")})`}`,
      );
    }
    const b = (f: (r: Row) => boolean): number => mean(rows.map((r) => (f(r) ? 1 : 0)));
    const s = {
      records: rows.length,
      token_recall_at_1: b((r) => r.tok_r1),
      token_recall_at_3: b((r) => r.tok_r3),
      // Over the records whose causal unit was refined (NaN when none was).
      token_in_unit_recall_at_1: mean(rows.filter((r) => r.tok_in_unit_r1 !== null).map((r) => (r.tok_in_unit_r1 ? 1 : 0))),
      token_in_unit_recall_at_3: mean(rows.filter((r) => r.tok_in_unit_r3 !== null).map((r) => (r.tok_in_unit_r3 ? 1 : 0))),
      causal_unit_refined: b((r) => r.tok_in_unit_r1 !== null),
      unit_recall_at_1: b((r) => r.unit_r1),
      unit_recall_at_3: b((r) => r.unit_r3),
      sentence_recall_at_1: b((r) => r.sent_r1),
      features_per_record: mean(rows.map((r) => r.features)),
      sequences_per_record: mean(rows.map((r) => r.sequences)),
      wall_s_per_record: mean(rows.map((r) => r.wall_s)),
      converged: b((r) => r.converged),
      seed_top3_overlap: mean(rows.map((r) => r.seed_top3_overlap ?? NaN)),
      seed_top3_overlap_credited: mean(rows.map((r) => r.seed_top3_overlap_credited ?? NaN)),
      seed_top1_agreement: mean(rows.map((r) => (r.seed_top1_agree === null ? NaN : r.seed_top1_agree ? 1 : 0))),
      comprehensiveness_ln_ratio: mean(rows.map((r) => r.faithfulness?.comprehensiveness_ln_ratio ?? NaN)),
      sufficiency_ln_ratio: mean(rows.map((r) => r.faithfulness?.sufficiency_ln_ratio ?? NaN)),
    };
    (summary[String(L)] ??= {})[method] = s;
    writeResults(false);
    console.log(
      `${method.padEnd(13)} token r@1 ${pct(s.token_recall_at_1).padStart(6)} r@3 ${pct(s.token_recall_at_3).padStart(6)}${s.causal_unit_refined > 0 ? ` (inside the causal unit, refined on ${pct(s.causal_unit_refined)}: r@1 ${pct(s.token_in_unit_recall_at_1)} r@3 ${pct(s.token_in_unit_recall_at_3)})` : ""} | unit r@1 ${pct(s.unit_recall_at_1).padStart(6)} r@3 ${pct(s.unit_recall_at_3).padStart(6)} | sentence r@1 ${pct(s.sentence_recall_at_1).padStart(6)} | ${s.features_per_record.toFixed(0)} features | ` +
        `sequences ${s.sequences_per_record.toFixed(0).padStart(6)}  wall ${s.wall_s_per_record.toFixed(1).padStart(6)} s | converged ${pct(s.converged).padStart(6)} | seed top-3 overlap ${Number.isNaN(s.seed_top3_overlap) ? "   n/a" : `${s.seed_top3_overlap.toFixed(2)} (credited ${s.seed_top3_overlap_credited.toFixed(2)})`}, top-1 agreement ${Number.isNaN(s.seed_top1_agreement) ? "n/a" : pct(s.seed_top1_agreement)} | faithfulness ln-ratio vs random: comprehensiveness ${fmtLn(s.comprehensiveness_ln_ratio)}, sufficiency ${fmtLn(s.sufficiency_ln_ratio)} (${faithBudget} sequences)`,
    );
  }
}
writeResults(true);
console.log(`command: ${commandLine()}`);
for (const e of engines.values()) await e.close();
await model.scorer.close();
