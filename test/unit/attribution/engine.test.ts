import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributionResultJsonSchema, attributionResultSchema } from "../../../schemas/attribution-result.js";
import { buildEngine, type BuiltEngine } from "../../../src/app/engine.js";
import { loadLocalModel, type LocalModel } from "../../../src/models/local-model.js";
import { InputRejectedError } from "../../../src/errors.js";
import { simpleChatTemplate } from "../../../src/text/chat-template.js";

// Real onnxruntime sessions over the bundled model; small settings keep it fast.
const small = { num_probes: 4, max_steps: 40, sampler: "uniform" as const };
let model: LocalModel;
let joint: BuiltEngine;

beforeAll(async () => {
  model = await loadLocalModel("models/tiny-lm", { intraOpThreads: 1 });
  joint = await buildEngine({ model, engine: { ...small, mode: "joint" }, segments: [{ name: "context", start: "<doc>", end: "</doc>", include_markers: false }] });
});
afterAll(async () => {
  await model.scorer.close();
});

const prompt = "Context: <doc>The code of Bravo is 3318.</doc> Question: what is the code of Bravo? Answer:";

describe("AttributionEngine on the bundled ONNX model", () => {
  it("returns a result that validates against the published schema", async () => {
    const r = await joint.engine.attribute({ prompt, completion: " 3318" });
    expect(() => attributionResultSchema.parse(r)).not.toThrow();
    expect(r.method).toBe("reagent");
    expect(r.mode).toBe("joint");
    expect(r.sampler).toBe("uniform");
    expect(r.cost.sequences_evaluated).toBeGreaterThan(0);
    expect(r.prompt.tokens[0]!.special).toBe(true); // BOS
    expect(r.sequence.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(r.spans.length).toBeGreaterThan(0);
    for (const s of r.spans) expect(r.prompt.text.slice(s.start, s.end)).toBe(s.text);
    expect(r.segments.find((s) => s.name === "context")?.kind).toBe("rule");
  });

  it("protects BOS and chat-template tokens: never replaced, zero importance", async () => {
    // The default "Role: content" template, so there is scaffolding text to protect.
    const chat = await buildEngine({ model: { ...model, chatTemplate: simpleChatTemplate() }, engine: { ...small, mode: "joint" } });
    const r = await chat.engine.attribute({
      prompt: [
        { role: "system", content: "Answer briefly." },
        { role: "user", content: "I was staying in the capital of Greece," },
      ],
      completion: " Athens",
    });
    const template = r.prompt.tokens.map((t, i) => ({ t, i })).filter(({ t }) => t.segment === "template");
    expect(template.length).toBeGreaterThan(0);
    for (const { t, i } of template) {
      expect(t.protected).toBe(true);
      expect(r.targets[0]!.importance[i]).toBe(0);
    }
    expect(r.targets[0]!.importance[0]).toBe(0);
    expect(r.segments.map((s) => s.name)).toEqual(expect.arrayContaining(["system", "user"]));
    const roles = r.segments.filter((s) => s.kind === "role");
    expect(roles.reduce((a, s) => a + s.share, 0)).toBeCloseTo(1, 6);
  });

  it("gives the same result and attribution id for the same record, seed and settings", async () => {
    const a = await joint.engine.attribute({ prompt, completion: " 3318", context: { record_id: "rec-1" } });
    const b = await joint.engine.attribute({ prompt, completion: " 3318", context: { record_id: "rec-1" } });
    expect(a.attribution_id).toBe(b.attribution_id);
    expect(a.targets).toEqual(b.targets);
    const other = await buildEngine({ model, engine: { ...small, seed: 7 } });
    const c = await other.engine.attribute({ prompt, completion: " 3318", context: { record_id: "rec-1" } });
    expect(c.attribution_id).not.toBe(a.attribution_id);
    expect(c.config_hash).not.toBe(a.config_hash);
  });

  it("keys the attribution id by tenant too: one record id in two tenants is two attributions (issue 16, item 4)", async () => {
    const ctx = (tenant_id?: string) => ({ record_id: "rec-1", ...(tenant_id === undefined ? {} : { tenant_id }) });
    const none = await joint.engine.attribute({ prompt, completion: " 3318", context: ctx() });
    const a = await joint.engine.attribute({ prompt, completion: " 3318", context: ctx("tenant-a") });
    const b = await joint.engine.attribute({ prompt, completion: " 3318", context: ctx("tenant-b") });
    expect(new Set([none.attribution_id, a.attribution_id, b.attribution_id]).size).toBe(3);
    expect(joint.engine.attributionId("rec-1", "tenant-a")).toBe(a.attribution_id);
    // Records without a tenant keep the id they always had (stores written before stay deduplicated).
    const legacy = createHash("sha256").update(`rec-1\u0000${joint.engine.configHash}`).digest("hex").slice(0, 32);
    expect(none.attribution_id).toBe(legacy);
    expect(joint.engine.attributionId("rec-1", "")).toBe(legacy);
    const tenantA = createHash("sha256").update(`tenant-a\u0000rec-1\u0000${joint.engine.configHash}`).digest("hex").slice(0, 32);
    expect(a.attribution_id).toBe(tenantA);
  });

  it.each(["reference", "joint"] as const)("%s mode attributes every completion token over its own context", async (mode) => {
    const built = await buildEngine({ model, engine: { ...small, mode } });
    const r = await built.engine.attribute({ prompt: "The old library was quiet in the evening, and the", completion: " room was dark" });
    expect(r.targets.length).toBe(r.completion.tokens.length);
    r.targets.forEach((t) => {
      expect(t.importance.length).toBe(r.prompt.tokens.length + t.index);
      expect(t.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    });
  });

  it("uses logged completion ids as given", async () => {
    const ids = model.tokenizer.encode(" 3318").ids;
    const r = await joint.engine.attribute({ prompt, completion: " 3318", completionIds: ids });
    expect(r.completion.tokens.map((t) => t.id)).toEqual(ids);
  });

  it("refuses an empty completion and out-of-vocabulary ids with a clear error", async () => {
    await expect(joint.engine.attribute({ prompt, completion: "" })).rejects.toThrow(InputRejectedError);
    await expect(joint.engine.attribute({ prompt, completion: "x", completionIds: [999_999] })).rejects.toThrow(/outside the model's vocabulary/);
  });

  it("runs the baselines through the same contract", async () => {
    for (const method of ["loo", "random"] as const) {
      const built = await buildEngine({ model, engine: { ...small, method } });
      const r = await built.engine.attribute({ prompt, completion: " 3318" });
      expect(r.method).toBe(method);
      expect(r.mode).toBeNull();
      expect(() => attributionResultSchema.parse(r)).not.toThrow();
    }
  });
});

describe("published JSON Schema", () => {
  it("is up to date with the zod result schema (regenerate: npm run config:docs)", () => {
    const path = resolve(import.meta.dirname, "../../../schemas/attribution-result.schema.json");
    expect(readFileSync(path, "utf8")).toBe(`${JSON.stringify(attributionResultJsonSchema(), null, 2)}\n`);
  });
});
