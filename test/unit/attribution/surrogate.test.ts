import { describe, expect, it } from "vitest";
import { resolveEngineConfig } from "../../../src/attribution/config.js";
import { applyUpdate, drawReplacement } from "../../../src/attribution/reagent/probes.js";
import { DrawLog, SURROGATE_MIN_T } from "../../../src/attribution/reagent/surrogate.js";
import { createRng } from "../../../src/attribution/rng.js";
import { topNIndices } from "../../../src/attribution/vector-math.js";

/**
 * Six units; only unit 2 matters (p 0.9 kept, 0.05 replaced), unit 4 a little (×0.8 replaced),
 * the rest not at all. Slot 0 is protected (never replaced, never scored).
 */
const replaceable = [false, true, true, true, true, true, true];
function pOf(replaced: readonly boolean[]): number {
  return (replaced[2] ? 0.05 : 0.9) * (replaced[4] ? 0.8 : 1);
}

function walk(seed: number, draws: number): { log: DrawLog; z: Float64Array } {
  const rng = createRng(seed, "surrogate");
  const log = new DrawLog(replaceable);
  const z = new Float64Array(replaceable.length);
  for (let i = 0; i < draws; i++) {
    const replaced = drawReplacement(replaceable.length, replaceable, 0.3, rng);
    const p = pOf(replaced);
    log.add(replaced, p);
    applyUpdate(z, replaced, replaceable, 0.9 - p, 1e-6);
  }
  return { log, z };
}

describe("aggregation: surrogate (a Lasso over the walk's own draws)", () => {
  it("credits each feature with its own effect: the causal unit, then the weak one, then nothing", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const imp = walk(seed, 40).log.importance();
      expect(imp).toBeDefined();
      const top = topNIndices(imp as Float64Array, 2, replaceable);
      expect(top).toEqual([2, 4]);
      expect(imp?.[0]).toBe(0); // protected
      expect(Array.from(imp as Float64Array).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // Units without an effect get (almost) nothing, whatever they were co-replaced with.
      for (const k of [1, 3, 5, 6]) expect(imp?.[k] ?? 1).toBeLessThan(0.05);
    }
  });

  it("orders the second unit the same across seeds where ReAGent's z orders co-replacement noise", () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const second = (x: Float64Array) => topNIndices(x, 2, replaceable)[1];
    const bySurrogate = new Set(seeds.map((s) => second(walk(s, 40).log.importance() as Float64Array)));
    const byZ = new Set(seeds.map((s) => second(walk(s, 40).z)));
    expect(bySurrogate).toEqual(new Set([4]));
    expect(byZ.size).toBeGreaterThan(1);
  });

  it("reads the result with a noise floor: only the units with an effect keep a share, the same set under every seed", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const { log } = walk(seed, 60);
      const raw = log.importance() as Float64Array;
      const read = log.read(SURROGATE_MIN_T);
      expect(read?.significant).toBe(true);
      const imp = read?.importance as Float64Array;
      const credited = [1, 2, 3, 4, 5, 6].filter((k) => (imp[k] ?? 0) > 0);
      expect(credited).toEqual([2, 4]);
      expect(read?.belowNoise).toBe([1, 3, 5, 6].filter((k) => (raw[k] ?? 0) > 0).length);
      expect(Array.from(imp).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // The floor only removes: the credited units keep their order.
      expect(topNIndices(imp, 2, replaceable)).toEqual(topNIndices(raw, 2, replaceable));
    }
  });

  it("keeps the unfiltered weights, and says so, when nothing clears the floor", () => {
    // p barely depends on unit 3 and jitters with the draw: a weak positive weight inside the noise.
    const rng = createRng(9, "noise");
    const log = new DrawLog(replaceable);
    for (let i = 0; i < 30; i++) {
      const replaced = drawReplacement(replaceable.length, replaceable, 0.3, rng);
      log.add(replaced, 0.5 + (replaced[3] ? -0.01 : 0) + 0.2 * (rng.next() - 0.5));
    }
    const raw = log.importance();
    const read = log.read(SURROGATE_MIN_T);
    if (raw === undefined) expect(read).toBeUndefined();
    else {
      expect(read?.significant).toBe(false);
      expect(Array.from(read?.importance ?? [])).toEqual(Array.from(raw));
    }
  });

  it("says nothing (undefined) until the draws show a positive effect", () => {
    const log = new DrawLog(replaceable);
    expect(log.importance()).toBeUndefined();
    log.add([false, true, false, false, false, false, false], 0.5);
    expect(log.importance()).toBeUndefined(); // one draw
    log.add([false, false, true, false, false, false, false], 0.5);
    expect(log.importance()).toBeUndefined(); // no change in p: no positive weight
  });

  it("is a joint-mode deviation: reference mode refuses it", () => {
    expect(resolveEngineConfig({ units: "paragraph", aggregation: "surrogate" }).aggregation).toBe("surrogate");
    expect(() => resolveEngineConfig({ mode: "reference", aggregation: "surrogate" })).toThrow(/aggregation: surrogate applies to joint mode only/);
  });
});
