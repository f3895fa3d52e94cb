import { describe, expect, it } from "vitest";
import { RecordSampler, sampleUnit } from "../../../src/pipeline/sampling/sampler.js";
import { samplingConfigSchema } from "../../../src/pipeline/sampling/config.js";
import { record } from "./helpers.js";

const ids = Array.from({ length: 20_000 }, (_, i) => `rec-${i}`);

describe("RecordSampler: deterministic hash sampling", () => {
  it("gives the same decision for the same record in any sampler instance (a replay picks the same records)", () => {
    const a = new RecordSampler({ rate: 0.1 });
    const b = new RecordSampler({ rate: 0.1 });
    const picked = ids.filter((id) => a.decide(record({ id })).sampled);
    expect(ids.filter((id) => b.decide(record({ id })).sampled)).toEqual(picked);
    // …and independent of everything but the key.
    expect(ids.filter((id) => a.decide(record({ id, prompt: "other", model: "m" })).sampled)).toEqual(picked);
  });

  it("samples close to the configured rate", () => {
    for (const rate of [0.01, 0.1, 0.5]) {
      const s = new RecordSampler({ rate });
      const n = ids.filter((id) => s.decide(record({ id })).sampled).length;
      expect(Math.abs(n / ids.length - rate)).toBeLessThan(0.01 + rate * 0.1);
    }
  });

  it("nests samples: a lower rate picks a subset of a higher one; the seed draws another sample", () => {
    const lo = new Set(ids.filter((id) => new RecordSampler({ rate: 0.05 }).decide(record({ id })).sampled));
    const hi = new Set(ids.filter((id) => new RecordSampler({ rate: 0.2 }).decide(record({ id })).sampled));
    for (const id of lo) expect(hi.has(id)).toBe(true);
    const other = new Set(ids.filter((id) => new RecordSampler({ rate: 0.05, seed: "x" }).decide(record({ id })).sampled));
    expect([...lo].filter((id) => other.has(id)).length).toBeLessThan(lo.size * 0.2);
  });

  it("rate 0 and 1 are exact", () => {
    expect(new RecordSampler({ rate: 0 }).decide(record()).sampled).toBe(false);
    expect(new RecordSampler({ rate: 1 }).decide(record()).sampled).toBe(true);
    expect(sampleUnit("a")).toBeGreaterThanOrEqual(0);
    expect(sampleUnit("a")).toBeLessThan(1);
  });

  it("samples whole sessions or traces with key session_id/trace_id (falling back to id)", () => {
    const s = new RecordSampler({ rate: 0.3, key: "session_id" });
    for (let k = 0; k < 50; k++) {
      const sess = `s-${k}`;
      const d = new Set(Array.from({ length: 5 }, (_, i) => s.decide(record({ id: `${sess}-${i}`, session_id: sess })).sampled));
      expect(d.size).toBe(1);
    }
    expect(s.keyOf(record({ id: "x" }))).toBe("x");
  });

  it("applies per-tenant over per-model over the default rate, with reasons", () => {
    const s = new RecordSampler({ rate: 0, per_model: { "gpt-4*": 1 }, per_tenant: { acme: 0 } });
    expect(s.decide(record({ model: "gpt-4o" }))).toEqual({ sampled: true, reason: "rate:model", priority: 0 });
    expect(s.decide(record({ model: "gpt-4o", tenant_id: "acme" }))).toEqual({ sampled: false, reason: "rate:tenant", priority: 0 });
    expect(s.decide(record({ model: "claude" }))).toEqual({ sampled: false, reason: "rate", priority: 0 });
  });
});

describe("RecordSampler: rules", () => {
  const s = new RecordSampler({
    rate: 0,
    rules: [
      { name: "too_long", action: "never", when: { prompt_chars: { min: 1000 } } },
      { name: "flagged", action: "always", when: { tags_any: ["flagged", "complaint"] } },
      { name: "prod_only_rate", action: "rate", rate: 1, when: { metadata: { env: "prod", score: { gte: 0.5 } } } },
      { name: "unsure", action: "always", priority: 50, when: { completion_logprob: { min_below: -5 } } },
      { name: "vip", action: "always", when: { tenants: ["vip"], tags_all: ["a", "b"] } },
    ],
  });

  it("checks rules in order; the first match decides", () => {
    expect(s.decide(record({ tags: ["flagged"], prompt: "x".repeat(2000) })).reason).toBe("rule:too_long");
    expect(s.decide(record({ tags: ["complaint"] }))).toEqual({ sampled: true, reason: "rule:flagged", priority: 10 });
  });

  it("matches metadata equality and numeric predicates", () => {
    expect(s.decide(record({ metadata: { env: "prod", score: 0.7 } })).reason).toBe("rule:prod_only_rate");
    expect(s.decide(record({ metadata: { env: "prod", score: "0.9" } })).sampled).toBe(true);
    expect(s.decide(record({ metadata: { env: "prod", score: 0.1 } })).reason).toBe("rate");
    expect(s.decide(record({ metadata: { env: "dev", score: 0.9 } })).reason).toBe("rate");
  });

  it("matches low logged logprobs, and never a record logged without them", () => {
    expect(s.decide(record({ completion: { text: " a b", logprobs: [-0.1, -7] } }))).toEqual({ sampled: true, reason: "rule:unsure", priority: 50 });
    expect(s.decide(record({ completion: { text: " a b", logprobs: [-0.1, -0.2] } })).reason).toBe("rate");
    expect(s.decide(record({ completion: { text: " a b" } })).reason).toBe("rate");
  });

  it("requires every condition of a rule", () => {
    expect(s.decide(record({ tenant_id: "vip", tags: ["a", "b"] })).reason).toBe("rule:vip");
    expect(s.decide(record({ tenant_id: "vip", tags: ["a"] })).reason).toBe("rate");
  });

  it("rejects inconsistent rules at config time", () => {
    expect(samplingConfigSchema.safeParse({ rules: [{ name: "r", action: "rate", when: {} }] }).success).toBe(false);
    expect(samplingConfigSchema.safeParse({ rules: [{ name: "r", action: "always", rate: 0.5 }] }).success).toBe(false);
    expect(samplingConfigSchema.safeParse({ rules: [{ name: "r", action: "never" }, { name: "r", action: "always" }] }).success).toBe(false);
    expect(samplingConfigSchema.safeParse({ rules: [{ name: "r", action: "never", when: { metadata: { k: { matches: "(" } } } }] }).success).toBe(false);
    expect(samplingConfigSchema.safeParse({ budget: {} }).success).toBe(false);
  });
});
