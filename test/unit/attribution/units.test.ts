import { describe, expect, it } from "vitest";
import { resolveEngineConfig, type EngineConfigInput } from "../../../src/attribution/config.js";
import { leaveOneOut, randomAttribution } from "../../../src/attribution/baselines.js";
import { contextCite } from "../../../src/attribution/context-cite.js";
import { deletionFaithfulness, topOverlap } from "../../../src/attribution/faithfulness.js";
import { tokenLayout, unitLayout } from "../../../src/attribution/features.js";
import { lasso } from "../../../src/attribution/lasso.js";
import { reagentJoint, restoreKeep, restores, restoreStabilityKey } from "../../../src/attribution/reagent/joint.js";
import { createRng } from "../../../src/attribution/rng.js";
import { UniformSampler } from "../../../src/attribution/samplers/uniform.js";
import { CountingScorer } from "../../../src/attribution/scorer.js";
import type { AttributionMethod, TargetsInput } from "../../../src/attribution/targets.js";
import { rolloutSequence } from "../../../src/attribution/sequence-view.js";
import { unitBoundaries, unitIndexAt } from "../../../src/text/units.js";
import { ToyScorer } from "../helpers/toy-scorer.js";

const V = 60;
const SPECIAL = new Set([0]);
// Token 7 anywhere before the slot makes 50 likely; 50 makes 51 likely.
const toy = new ToyScorer(V, [
  { key: 7, target: 50, bonus: 6 },
  { key: 50, target: 51, bonus: 6 },
]);

/** A 61-token prompt in six 10-token units after BOS; the key sits in unit 3 (position 34). */
const KEY_POS = 34;
const prompt = [0, ...Array.from({ length: 60 }, (_, i) => (i + 1 === KEY_POS ? 7 : 10 + (i % 37)))];
const units = Array.from({ length: 6 }, (_, u) => Array.from({ length: 10 }, (_, j) => 1 + 10 * u + j));

function input(withUnits: boolean, completion = [50, 51]): TargetsInput {
  const ids = [...prompt, ...completion];
  return {
    ids,
    promptLength: prompt.length,
    replaceable: ids.map((id) => !SPECIAL.has(id)),
    targets: completion.map((_, i) => i),
    ...(withUnits ? { units } : {}),
  };
}

async function run(method: AttributionMethod, inp: TargetsInput, cfg: EngineConfigInput, seed = 1) {
  const scorer = new CountingScorer(toy);
  const out = await method(inp, { scorer, sampler: new UniformSampler(V, SPECIAL), rng: createRng(seed, "u"), config: resolveEngineConfig({ sampler: "uniform", ...cfg }) });
  return { ...out, sequences: scorer.cost.sequencesEvaluated };
}

const argmax = (xs: ArrayLike<number>): number => Array.from(xs).indexOf(Math.max(...Array.from(xs)));

describe("feature layouts", () => {
  it("token layout: one slot per position, the identity both ways", () => {
    const l = tokenLayout(input(false));
    expect(l.slots).toBe(prompt.length + 1);
    expect(l.slotsBefore(prompt.length)).toBe(prompt.length);
    expect(l.expand([false, true, false], 4)).toEqual([false, true, false, false]);
    expect(Array.from(l.spread([0.25, 0.75], 2))).toEqual([0.25, 0.75]);
  });

  it("unit layout: a masked unit replaces all its positions; its score is shared evenly", () => {
    const l = unitLayout([[1, 2], [4]]);
    expect(l.slots).toBe(2);
    expect(l.slotsBefore(99)).toBe(2);
    expect(l.expand([true, false], 6)).toEqual([false, true, true, false, false, false]);
    expect(Array.from(l.spread([0.6, 0.4], 6))).toEqual([0, 0.3, 0.3, 0, 0.4, 0]);
  });
});

describe("unit boundaries", () => {
  const text = "First one. Second one!\nThird [doc]inside. still[/doc] tail. End";
  it("cut sentences after . ! ? and at line breaks, and at every segment and message edge", () => {
    const docStart = text.indexOf("inside");
    const docEnd = text.indexOf("[/doc]");
    const cuts = unitBoundaries(text, "sentence", [{ name: "doc", kind: "rule", start: docStart, end: docEnd }], []);
    const pieces = cuts.slice(0, -1).map((c, i) => text.slice(c, cuts[i + 1]).trim());
    expect(pieces).toEqual(["First one.", "Second one!", "Third [doc]", "inside.", "still", "[/doc] tail.", "End"]);
    expect(unitIndexAt(cuts, text.indexOf("Second"))).toBe(1);
  });

  it("message level ignores rule segments; paragraph level cuts at blank lines", () => {
    expect(unitBoundaries("a. b.", "message", [{ name: "x", kind: "rule", start: 1, end: 2 }], [])).toEqual([0, 5]);
    expect(unitBoundaries("one\n\ntwo", "paragraph", [], [])).toEqual([0, 5, 8]);
  });
});

describe("segment-first ReAGent (units, then tokens inside the top unit)", () => {
  const cfg: EngineConfigInput = { units: { type: "segment", refine_top: 1 }, method: { type: "reagent", num_probes: 4, max_steps: 200 }, stopping: "restore", aggregation: "pooled" };

  it("ranks the unit holding the key first and refines to the key token", async () => {
    let unitHits = 0;
    let tokenHits = 0;
    for (let seed = 0; seed < 5; seed++) {
      const out = await run(reagentJoint, input(true), cfg, seed);
      expect(out.units?.refined).toHaveLength(1);
      if (argmax(out.units?.scores ?? []) === 3) unitHits++;
      const row = out.targets[0]!.importance;
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      if (argmax(row) === KEY_POS) tokenHits++;
    }
    expect(unitHits).toBe(5);
    expect(tokenHits).toBeGreaterThanOrEqual(4);
  });

  it("costs fewer sequences than the same rule over every token", async () => {
    // Every knob written out: at unit level `stopping: restore` alone takes the unit defaults.
    const same: EngineConfigInput = { ...cfg, stopping: { type: "restore", keep_top_n: 5, restore: 0.5, stable_ranks: 0, min_steps: 10, patience: 100 } };
    const segment = await run(reagentJoint, input(true), same, 3);
    const tokens = await run(reagentJoint, input(false), { ...same, units: "token" }, 3);
    expect(segment.sequences).toBeLessThan(tokens.sequences);
  });

  it("runs the token refinement within refine_max_steps; the record's convergence is the unit ranking's", async () => {
    const capped = await run(reagentJoint, input(true), { ...cfg, units: { type: "segment", refine_top: 1, refine_max_steps: 2 } }, 3);
    const free = await run(reagentJoint, input(true), { ...cfg, units: { type: "segment", refine_top: 1, refine_max_steps: 0 } }, 3);
    expect(capped.sequences).toBeLessThan(free.sequences);
    expect(argmax(capped.units?.scores ?? [])).toBe(3);
    const t = capped.targets[0]!;
    expect(t.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // At its budget the refinement checks once more (as at T_max): here it passes, so no warning.
    expect(capped.warnings.some((w) => /refine_max_steps/.test(w))).toBe(false);
    // The unit stage is the same run with refine_top 0 (same seed): its convergence is the record's.
    const unitsOnly = await run(reagentJoint, input(true), { ...cfg, units: { type: "segment", refine_top: 0 } }, 3);
    expect(capped.targets.map((x) => x.converged)).toEqual(unitsOnly.targets.map((x) => x.converged));
    expect(capped.targets.some((x) => x.converged)).toBe(true);
  });

  it("aggregation: surrogate runs through the loop: the key unit first at a 7-step budget, units without an effect at exactly 0", async () => {
    const capped: EngineConfigInput = { ...cfg, method: { type: "reagent", num_probes: 4, max_steps: 7 }, units: { type: "segment", refine_top: 0 } };
    for (let seed = 0; seed < 3; seed++) {
      // One target: 51 depends on the completion token 50, not on the prompt.
      const surrogate = await run(reagentJoint, input(true, [50]), { ...capped, aggregation: "surrogate" }, seed);
      const pooled = await run(reagentJoint, input(true, [50]), capped, seed);
      const scores = surrogate.units?.scores ?? [];
      expect(argmax(scores)).toBe(3);
      // The Lasso's zero weights (softmax of z is never exactly 0): the surrogate, not z, ranked.
      expect(scores.filter((x) => x === 0).length).toBeGreaterThan(0);
      expect((pooled.units?.scores ?? []).some((x) => x === 0)).toBe(false);
      // Same walk, same calls.
      expect(surrogate.sequences).toBe(pooled.sequences);
    }
  });

  it("spreads unit shares evenly when refine_top is 0, and never credits completion tokens", async () => {
    const out = await run(reagentJoint, input(true), { ...cfg, units: { type: "segment", refine_top: 0 } });
    const row = out.targets[1]!.importance;
    expect(row[prompt.length]).toBe(0); // the completion token before target 1 is not a feature here
    expect(row[KEY_POS]).toBeCloseTo(row[KEY_POS - 1] as number, 12);
  });
});

describe("the restore stopping rule", () => {
  it("passes when the kept features recover the share of log-evidence, relative to the target's own p_orig", () => {
    // p_orig 0.012, no prompt 0.0001: half the log-gain is sqrt(0.012 * 0.0001) ≈ 0.0011.
    expect(restores(Math.log(0.002), 0.012, 0.0001, 0.5)).toBe(true);
    expect(restores(Math.log(0.0005), 0.012, 0.0001, 0.5)).toBe(false);
    // A target the prompt does not move has nothing to explain.
    expect(restores(Math.log(1e-9), 0.3, 0.29, 0.5)).toBe(true);
    expect(restores(null, 0.3, 0.01, 0.5)).toBe(false);
  });

  it("stops joint mode at token level once the top features are stable and restore", async () => {
    const out = await run(reagentJoint, input(false), { method: { type: "reagent", num_probes: 8, max_steps: 300 }, stopping: "restore" });
    expect(out.targets.every((t) => t.converged)).toBe(true);
    expect(argmax(out.targets[0]!.importance)).toBe(KEY_POS);
    expect(out.targets[0]!.steps).toBeLessThan(300);
  });

  it("keeps fewer features than there are, so a check over a handful of units tests something", () => {
    const rule = resolveEngineConfig({ stopping: { type: "restore", keep_top_n: 5 } }).stopping;
    expect(restoreKeep(rule, 5)).toBe(4);
    expect(restoreKeep(rule, 12)).toBe(5);
    expect(restoreKeep(rule, 1)).toBe(1);
    expect(restoreKeep(rule, 1000)).toBe(100); // keep_fraction 0.1
  });

  it("with stable_ranks, the order of the top features must hold, not just the kept set", () => {
    const replaceable = [true, true, true, true, true];
    const a = restoreStabilityKey(Float64Array.from([5, 4, 3, 2, 1]), replaceable, 5, 0);
    const b = restoreStabilityKey(Float64Array.from([4, 5, 3, 2, 1]), replaceable, 5, 0);
    expect(a).toBe(b); // the top-5 set of 5 units never changes
    expect(restoreStabilityKey(Float64Array.from([5, 4, 3, 2, 1]), replaceable, 5, 3)).not.toBe(restoreStabilityKey(Float64Array.from([4, 5, 3, 2, 1]), replaceable, 5, 3));
    expect(restoreStabilityKey(Float64Array.from([5, 4, 3, 2, 1]), replaceable, 2, 3)).toBe(restoreStabilityKey(Float64Array.from([5, 4, 3, 1, 2]), replaceable, 2, 3));
  });

  it("unit level defaults: the top-3 order holds, 2 units kept, 90% restored, checks from step 20", async () => {
    const cfg = resolveEngineConfig({ units: "segment" });
    expect(cfg.stopping).toMatchObject({ type: "restore", keep_top_n: 2, restore: 0.9, stable_ranks: 3, min_steps: 20, patience: 60 });
    // A restore rule written with one knob keeps the unit defaults for the others.
    expect(resolveEngineConfig({ units: "paragraph", stopping: { type: "restore", stable_steps: 7 } }).stopping).toMatchObject({ keep_top_n: 2, restore: 0.9, stable_ranks: 3, stable_steps: 7 });
    expect(resolveEngineConfig({ units: "paragraph", stopping: "restore" }).stopping).toEqual(cfg.stopping);
    expect(resolveEngineConfig({ stopping: "restore" }).stopping).toMatchObject({ keep_top_n: 5, restore: 0.5, stable_ranks: 0 });
    const out = await run(reagentJoint, input(true), { units: { type: "segment", refine_top: 0 } });
    expect(out.targets[0]!.converged).toBe(true);
    expect(out.targets[0]!.steps).toBeGreaterThanOrEqual(20);
    expect(argmax(out.units!.scores)).toBe(3); // the key's unit
  });

  it("with restore 0, stops on stability alone without check sequences", async () => {
    const withChecks = await run(reagentJoint, input(false), { method: { type: "reagent", num_probes: 8 }, stopping: { type: "restore", restore: 0.5 } });
    const stableOnly = await run(reagentJoint, input(false), { method: { type: "reagent", num_probes: 8 }, stopping: { type: "restore", restore: 0 } });
    expect(stableOnly.targets.every((t) => t.converged)).toBe(true);
    // Every sequence is an update (8 per step) plus the unperturbed pass.
    expect((stableOnly.sequences - 1) % 8).toBe(0);
    expect(withChecks.sequences - 1).toBeGreaterThan(0);
  });
});

describe("baselines on units", () => {
  it("leave-one-unit-out: one sequence per unit, the key's unit first", async () => {
    const out = await run(leaveOneOut, input(true), { method: "loo" });
    expect(out.sequences).toBe(1 + units.length);
    expect(argmax(out.units?.scores ?? [])).toBe(3);
    expect(out.targets[0]!.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });

  it("ContextCite-style: 1 + ablations sequences, the key's unit first", async () => {
    const out = await run(contextCite, input(true), { method: { type: "context_cite", ablations: 32 } });
    expect(out.sequences).toBe(1 + 32);
    expect(argmax(out.units?.scores ?? [])).toBe(3);
    expect(out.targets[0]!.converged).toBe(true);
  });

  it("ContextCite-style at token level ablates prompt tokens only and finds the key", async () => {
    const out = await run(contextCite, input(false), { method: { type: "context_cite", ablations: 64 } });
    expect(argmax(out.targets[0]!.importance)).toBe(KEY_POS);
    expect(out.targets[1]!.importance[prompt.length]).toBe(0);
  });

  it("random: a distribution over units, spread over their tokens", async () => {
    const out = await run(randomAttribution, input(true), { method: "random" });
    expect(out.targets[0]!.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(out.units?.scores).toHaveLength(units.length);
  });
});

describe("Lasso surrogate", () => {
  it("recovers a sparse linear signal and zeroes the rest", () => {
    const rng = createRng(3);
    const x = Array.from({ length: 64 }, () => Array.from({ length: 8 }, () => (rng.next() < 0.5 ? 1 : 0)));
    const y = x.map((r) => 3 * (r[2] as number) - 1 * (r[5] as number) + 0.5);
    const fit = lasso(x, y, 0.01);
    expect(fit.weights[2]).toBeCloseTo(3, 1);
    expect(fit.weights[5]).toBeCloseTo(-1, 1);
    for (const j of [0, 1, 3, 4, 6, 7]) expect(Math.abs(fit.weights[j] as number)).toBeLessThan(0.05);
    expect(fit.intercept).toBeCloseTo(0.5, 1);
  });
});

describe("per-record deletion faithfulness", () => {
  const inp = input(true);
  const base = { ids: inp.ids, promptLength: inp.promptLength, features: units, targets: [{ index: 0, pOriginal: 0 }] };

  async function faith(importance: number[], budget = 8) {
    const scorer = new CountingScorer(toy);
    const [orig] = await scorer.score([{ ids: inp.ids, positions: [prompt.length] }], { topK: 1 });
    const pOriginal = Math.exp(orig!.positions[0]!.logprob!);
    const before = scorer.cost.sequencesEvaluated;
    const f = await deletionFaithfulness(
      { ...base, importance, targets: [{ index: 0, pOriginal }] },
      { type: "deletion", budget, top_fraction: 0.1, seed_check: false },
      { scorer, sampler: new UniformSampler(V, SPECIAL), rng: createRng(1), samplerContext: { originalIds: inp.ids } },
    );
    return { f, spent: scorer.cost.sequencesEvaluated - before };
  }

  it("scores an attribution that found the key above random, within its budget", async () => {
    const good = prompt.map((_, i) => (i === KEY_POS ? 0.9 : 0.1 / 60));
    const { f, spent } = await faith(good);
    expect(spent).toBe(8);
    expect(f.faithfulness_sequences).toBe(8);
    expect(f.comprehensiveness).toBeGreaterThan(0.5);
    expect(f.comprehensiveness_ln_ratio).toBeGreaterThan(0);
    expect(f.sufficiency_ln_ratio).toBeGreaterThan(0);
  });

  it("scores an attribution that missed it at or below random", async () => {
    const bad = prompt.map((_, i) => (i === 5 ? 0.9 : 0.1 / 60));
    const { f } = await faith(bad);
    expect(f.comprehensiveness).toBeLessThan(0.5);
    expect(f.comprehensiveness_ln_ratio).toBeLessThanOrEqual(0);
  });

  it("seed top-3 overlap counts shared top positions", () => {
    expect(topOverlap([3, 2, 1, 0], [3, 2, 0, 1], [true, true, true, true])).toBeCloseTo(2 / 3, 12);
    expect(topOverlap([0, 9, 8, 7], [0, 7, 8, 9], [false, true, true, true])).toBe(1);
  });

  it("sums to one over the prompt at unit level through the rollout", async () => {
    const out = await run(reagentJoint, input(true), { units: "segment", method: { type: "reagent", num_probes: 4 }, stopping: "restore" });
    const seq = rolloutSequence(prompt.length, out.targets);
    expect(seq.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });
});
