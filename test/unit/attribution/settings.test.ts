import { describe, expect, it } from "vitest";
import { configHash, deprecatedEngineFields, resolveEngineConfig, type EngineConfig, type EngineConfigInput } from "../../../src/attribution/config.js";
import { ConfigError } from "../../../src/errors.js";

describe("engine settings as per-strategy sections", () => {
  it("accept a section as its type name or as an object with that strategy's knobs", () => {
    const short = resolveEngineConfig({ method: "loo", sampler: "self" });
    expect(short.method).toEqual({ type: "loo", samples: 1 });
    expect(short.sampler).toEqual({ type: "self", top_k: 5 });
    const full = resolveEngineConfig({ method: { type: "reagent", num_probes: 4 }, sampler: { type: "mlm", top_k: 2 }, stopping: { type: "restore", restore: 0.3 } });
    expect(full.method).toMatchObject({ type: "reagent", mode: "joint", num_probes: 4, max_steps: 3000 });
    expect(full.sampler).toEqual({ type: "mlm", top_k: 2 });
    expect(full.stopping).toMatchObject({ type: "restore", restore: 0.3, keep_fraction: 0.1 });
    expect(full.units).toEqual({ type: "token" });
    expect(full.faithfulness).toEqual({ type: "off" });
  });

  it("refuse a knob of another strategy and an unknown type, naming the field", () => {
    expect(() => resolveEngineConfig({ method: { type: "loo", num_probes: 4 } as unknown as EngineConfigInput["method"] })).toThrow(/method.num_probes: unknown field/);
    expect(() => resolveEngineConfig({ sampler: "bert" as "pos" })).toThrow(/sampler.type: .*expected one of pos, uniform, mlm, self/);
    expect(() => resolveEngineConfig({ units: { type: "sentence", refine_top: 1 }, method: "loo" })).toThrow(/refine_top applies to method reagent only/);
    expect(() => resolveEngineConfig({ method: { type: "reagent", mode: "reference" }, units: "sentence" })).toThrow(/units: sentence applies to joint mode only/);
  });

  it("resolve defaults that depend on the method: the stopping rule and refine_top", () => {
    expect(resolveEngineConfig({ units: "segment" }).units).toEqual({ type: "segment", refine_top: 1, refine_max_steps: 20 });
    expect(resolveEngineConfig({ units: "segment", method: "context_cite" }).units).toEqual({ type: "segment", refine_top: 0, refine_max_steps: 20 });
    expect(resolveEngineConfig({ method: "context_cite" }).method).toEqual({ type: "context_cite", ablations: 64, keep_prob: 0.5, lasso_alpha: 0.01 });
  });

  it("read unit-level walks with the surrogate by default, token-level ones as published", () => {
    expect(resolveEngineConfig({ units: "paragraph" }).aggregation).toBe("surrogate");
    expect(resolveEngineConfig({}).aggregation).toBe("probes");
    expect(resolveEngineConfig({ units: "paragraph", aggregation: "pooled" }).aggregation).toBe("pooled");
    expect(resolveEngineConfig({ units: "paragraph", method: "context_cite" }).aggregation).toBe("probes");
  });

  it("keep the 0.1 flat names working, lifted into their sections, and name them as deprecated", () => {
    const legacy = { mode: "joint", num_probes: 8, max_steps: 300, keep_top_n: 4, stopping_top_k: 2, min_steps: 10, sampler: "mlm", mlm_top_k: 3 } as const;
    const cfg = resolveEngineConfig(legacy);
    expect(cfg.method).toMatchObject({ type: "reagent", mode: "joint", num_probes: 8, max_steps: 300 });
    expect(cfg.stopping).toEqual({ type: "ensemble", keep_top_n: 4, top_k: 2, min_steps: 10, patience: 20 });
    expect(cfg.sampler).toEqual({ type: "mlm", top_k: 3 });
    expect(deprecatedEngineFields(legacy).map((d) => d.field)).toEqual(["mode", "num_probes", "max_steps", "keep_top_n", "stopping_top_k", "min_steps", "mlm_top_k"]);
    expect(deprecatedEngineFields({ method: "reagent", sampler: "pos" })).toEqual([]);
    expect(resolveEngineConfig({ method: "loo", loo_samples: 3 }).method).toEqual({ type: "loo", samples: 3 });
  });

  it("refuse a knob set both under its old flat name and in its section", () => {
    expect(() => resolveEngineConfig({ num_probes: 8, method: { type: "reagent", num_probes: 4 } })).toThrow(ConfigError);
    expect(() => resolveEngineConfig({ keep_top_n: 8, stopping: { type: "ensemble", keep_top_n: 4 } })).toThrow(/keep_top_n.*set both/);
  });

  it("resolve to a fixed point: a result's config re-parses to itself", () => {
    for (const input of [{}, { method: "loo" }, { units: "sentence", stopping: "restore", faithfulness: "deletion" }, { method: { type: "reagent", mode: "reference" } }] as EngineConfigInput[]) {
      const cfg = resolveEngineConfig(input);
      expect(resolveEngineConfig(cfg)).toEqual(cfg);
    }
  });

  it("hash settings expressible in 0.1 exactly as 0.1 did, so attribution ids do not move", () => {
    // Values computed with the flat schema of 0.1 (commit 0d1e2cb) for the same inputs.
    const before: [EngineConfigInput, string][] = [
      [{}, "da55ed9196f97584"],
      [{ mode: "reference" }, "d8b02d4688a3339d"],
      [{ method: "loo", loo_samples: 2 }, "cbbff8b855ed046b"],
      [{ method: "random" }, "3eb1b8221a057d25"],
      [{ sampler: "mlm", mlm_top_k: 3 }, "195e6b2543c17fbb"],
      [{ sampler: "self", self_top_k: 4, num_probes: 8, max_steps: 300 }, "005abec3c3ed74a4"],
      [{ stopping: "probe", check_every: 3 }, "1a1a0ccfa8204bbc"],
      [{ aggregation: "pooled", min_steps: 30, patience: 90 }, "1877c2450fd709ee"],
      [{ sampler: "uniform", num_probes: 4, max_steps: 50, seed: 42, max_targets: 8 }, "65d3d4e2980b48e4"],
    ];
    for (const [input, hash] of before) expect(configHash(resolveEngineConfig(input), { scorer: "onnx:x" })).toBe(hash);
    // The same settings written as sections hash the same.
    expect(configHash(resolveEngineConfig({ method: { type: "reagent", mode: "reference" } }), { scorer: "onnx:x" })).toBe("d8b02d4688a3339d");
    // New strategies hash their sections.
    expect(configHash(resolveEngineConfig({ units: "sentence" }), { scorer: "onnx:x" })).not.toBe("da55ed9196f97584");
  });

  it("hashes a knob 0.1 did not have, even on a strategy 0.1 had, instead of dropping it", () => {
    const base = resolveEngineConfig({});
    expect(configHash(base, { scorer: "onnx:x" })).toBe("da55ed9196f97584");
    // A knob added to an old strategy later (stand-ins for a future field on method, stopping, sampler).
    const withKnob = (section: "method" | "stopping" | "sampler") => ({ ...base, [section]: { ...base[section], future_knob: 2 } }) as unknown as EngineConfig;
    const hashes = new Set([configHash(base), ...(["method", "stopping", "sampler"] as const).map((s) => configHash(withKnob(s)))]);
    expect(hashes.size).toBe(4);
    // Two values of the new knob hash apart too.
    const other = { ...base, method: { ...base.method, future_knob: 3 } } as unknown as EngineConfig;
    expect(configHash(other)).not.toBe(configHash(withKnob("method")));
  });
});
