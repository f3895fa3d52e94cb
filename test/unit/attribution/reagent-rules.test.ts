import { describe, expect, it } from "vitest";
import { ProbeSet, aggregateProbes, applyUpdate, drawReplacement, stoppingReplacement } from "../../../src/attribution/reagent/probes.js";
import { createRng } from "../../../src/attribution/rng.js";

describe("update rule (reference/reagent.md §2.4)", () => {
  it("adds 2·atanh(d) to replaced positions and subtracts it from kept ones", () => {
    const z = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
    applyUpdate(z, [true, false, true, false], [true, true, true, true], 0.5, 1e-6);
    const up = 2 * Math.atanh(0.5);
    [0.1 + up, 0.2 - up, 0.3 + up, 0.4 - up].forEach((v, i) => expect(z[i]).toBeCloseTo(v, 12));
  });

  it("flips direction when replacing raised the target's probability (d < 0)", () => {
    const z = new Float64Array(2);
    applyUpdate(z, [true, false], [true, true], -0.2, 1e-6);
    expect(z[0]).toBeLessThan(0);
    expect(z[1]).toBeGreaterThan(0);
  });

  it("equals logit((d+1)/2), the original's form", () => {
    for (const d of [-0.9, -0.3, 0, 0.42, 0.99]) {
      const z = new Float64Array(1);
      applyUpdate(z, [true], [true], d, 1e-6);
      const p = (d + 1) / 2;
      expect(z[0]).toBeCloseTo(Math.log(p / (1 - p)), 10);
    }
  });

  it("clamps |d| = 1 so scores stay finite (documented deviation)", () => {
    const z = new Float64Array(3);
    applyUpdate(z, [true, false, true], [true, true, true], 1, 1e-6);
    applyUpdate(z, [true, false, false], [true, true, true], -1, 1e-6);
    for (const v of z) expect(Number.isFinite(v)).toBe(true);
    expect(z[0]).toBeCloseTo(0, 6);
    expect(z[1]).toBeCloseTo(0, 6);
    expect(z[2]).toBeCloseTo(2 * 2 * Math.atanh(1 - 1e-6), 6);
  });

  it("never touches protected positions", () => {
    const z = Float64Array.from([0.5, 0.5]);
    applyUpdate(z, [true, true], [false, true], 0.7, 1e-6);
    expect(z[0]).toBe(0.5);
  });
});

describe("replacement draws", () => {
  it("replaces each replaceable position with probability r and never a protected one", () => {
    const rng = createRng(1);
    const replaceable = Array.from({ length: 200 }, (_, i) => i % 10 !== 0);
    let hits = 0;
    let total = 0;
    for (let k = 0; k < 200; k++) {
      const m = drawReplacement(200, replaceable, 0.3, rng);
      m.forEach((v, i) => {
        if (!replaceable[i]) expect(v).toBe(false);
        else {
          total++;
          if (v) hits++;
        }
      });
    }
    expect(hits / total).toBeGreaterThan(0.28);
    expect(hits / total).toBeLessThan(0.32);
  });
});

describe("stopping rule (§2.6)", () => {
  it("keeps the top-n replaceable positions and replaces all others", () => {
    const z = Float64Array.from([5, 1, 4, 3, 2, 9]);
    const { replace } = stoppingReplacement(z, [true, true, true, true, true, false], 2);
    // Position 5 is protected: never replaced, not counted among the kept n.
    expect(replace).toEqual([false, true, false, true, true, false]);
  });

  it("replaces nothing when the context is no longer than n", () => {
    const z = Float64Array.from([0.3, 0.1, 0.2]);
    expect(stoppingReplacement(z, [true, true, true], 5).replace).toEqual([false, false, false]);
    expect(stoppingReplacement(z, [true, true, true], 3).replace).toEqual([false, false, false]);
  });

  it("breaks ties by position so the keep set is deterministic", () => {
    const z = Float64Array.from([1, 1, 1, 1]);
    expect(stoppingReplacement(z, [true, true, true, true], 2).replace).toEqual([false, false, true, true]);
  });
});

describe("aggregation (§2.7)", () => {
  it("averages softmax(z) over the probes that stopped", () => {
    const set = new ProbeSet(3, [true, true, true], 2, createRng(3));
    set.z[0]!.set([10, 0, 0]);
    set.z[1]!.set([0, 10, 0]);
    set.stopped[0] = true;
    const agg = aggregateProbes(set);
    expect(agg.converged).toBe(true);
    expect(agg.probesConverged).toBe(1);
    expect(agg.importance[0]).toBeGreaterThan(0.99);
  });

  it("falls back to the mean over all probes with converged=false instead of NaN", () => {
    const set = new ProbeSet(3, [true, true, true], 2, createRng(3));
    set.z[0]!.set([10, 0, 0]);
    set.z[1]!.set([0, 10, 0]);
    const agg = aggregateProbes(set);
    expect(agg.converged).toBe(false);
    expect(agg.importance.every((v) => Number.isFinite(v))).toBe(true);
    expect(agg.importance[0]).toBeCloseTo(0.5, 3);
    expect(agg.importance[1]).toBeCloseTo(0.5, 3);
  });

  it("gives protected positions zero and still sums to 1", () => {
    const set = new ProbeSet(4, [false, true, true, false], 3, createRng(9));
    set.stopped.fill(true);
    const agg = aggregateProbes(set);
    expect(agg.importance[0]).toBe(0);
    expect(agg.importance[3]).toBe(0);
    expect(agg.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it("pooled: softmax of the mean z over the converged probes, i.e. one walk carrying all their updates", () => {
    const set = new ProbeSet(3, [true, true, true], 3, createRng(4));
    set.z[0]!.set([4, 0, 3]);
    set.z[1]!.set([0, 4, 3]);
    set.z[2]!.set([0, 0, 90]); // not converged: left out, as in the published aggregation
    set.stopped[0] = true;
    set.stopped[1] = true;
    const agg = aggregateProbes(set, "pooled");
    // mean z = [2, 2, 3]: position 2 wins although it tops neither probe (mean of softmax would rank it last).
    const e = [Math.exp(2), Math.exp(2), Math.exp(3)];
    const sum = e[0]! + e[1]! + e[2]!;
    e.forEach((v, i) => expect(agg.importance[i]).toBeCloseTo(v / sum, 12));
    expect(aggregateProbes(set, "probes").importance[2]).toBeLessThan(agg.importance[2]!);
    expect(agg.probesConverged).toBe(2);
  });

  it("pooled: equals one probe that received every probe's updates (the rule is additive)", () => {
    const rng = createRng(11);
    const set = new ProbeSet(5, [false, true, true, true, true], 4, createRng(12));
    const one = new Float64Array(5);
    for (const z of set.z) for (let i = 0; i < 5; i++) one[i] = (one[i] as number) + (z[i] as number) / 4;
    for (let step = 0; step < 30; step++) {
      for (let b = 0; b < 4; b++) {
        const mask = drawReplacement(5, set.replaceable, 0.3, rng);
        const d = rng.next() - 0.3;
        applyUpdate(set.z[b]!, mask, set.replaceable, d, 1e-6);
        // The same update scaled by 1/B applied to the single walk.
        const tmp = new Float64Array(5);
        applyUpdate(tmp, mask, set.replaceable, d, 1e-6);
        for (let i = 0; i < 5; i++) one[i] = (one[i] as number) + (tmp[i] as number) / 4;
      }
    }
    set.stopped.fill(true);
    const agg = aggregateProbes(set, "pooled");
    const want = [0, ...[1, 2, 3, 4].map((i) => Math.exp(one[i]!))];
    const sum = want.reduce((a, b) => a + b, 0);
    want.forEach((v, i) => expect(agg.importance[i]).toBeCloseTo(v / sum, 9));
    expect(agg.importance[0]).toBe(0);
  });
});
