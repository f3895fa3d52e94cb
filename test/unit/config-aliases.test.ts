/** Old config names: rewritten before validation, wherever the schema sits, and remembered for `config check`. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { deprecationsOf, renamedFields, renamedFieldsOf, upgradeNames } from "../../src/config-aliases.js";
import { parseConfig } from "../../src/config-issues.js";
import { ConfigError } from "../../src/errors.js";

const sampler = z.object({ type: z.enum(["pos", "mlm"]), top_k: z.number().int().default(5) }).strict();
const engine = renamedFields(
  z.object({ sampler: sampler.prefault({ type: "pos" }), seed: z.number().int().default(1) }).strict(),
  [
    { from: "mlm_top_k", to: "sampler.top_k" },
    { from: "sampler", to: "sampler", when: (v) => typeof v === "string", map: (v) => ({ type: v }), hint: "write sampler: { type: <name> }" },
  ],
);
const scorer = renamedFields(
  z.discriminatedUnion("type", [z.object({ type: z.literal("local"), path: z.string() }).strict(), z.object({ type: z.literal("vllm"), url: z.string() }).strict()]),
  [{ from: "kind", to: "type" }],
);
const root = z.object({ engine: engine.prefault({}), scorers: z.array(scorer).default([]) }).strict();

describe("renamed fields", () => {
  it("rewrites old names anywhere in the tree, the union discriminator included, and says where (reshapes first, then moves)", () => {
    const cfg = parseConfig(root, { engine: { sampler: "mlm", mlm_top_k: 9 }, scorers: [{ type: "local", path: "m" }, { kind: "vllm", url: "http://h" }] }, { what: "reading" });
    expect(cfg).toEqual({ engine: { sampler: { type: "mlm", top_k: 9 }, seed: 1 }, scorers: [{ type: "local", path: "m" }, { type: "vllm", url: "http://h" }] });
    expect(deprecationsOf(cfg).map((d) => [d.path, d.use])).toEqual([
      ["engine.sampler", "engine.sampler"],
      ["engine.mlm_top_k", "engine.sampler.top_k"],
      ["scorers[1].kind", "scorers[1].type"],
    ]);
    expect(deprecationsOf(cfg)[0]?.message).toContain("write sampler: { type: <name> }");
  });

  it("leaves current names alone and reports nothing", () => {
    const input = { engine: { sampler: { type: "pos" } }, scorers: [{ type: "vllm", url: "u" }] };
    const up = upgradeNames(root, input);
    expect(up.data).toBe(input);
    expect(up.deprecations).toEqual([]);
    expect(deprecationsOf(parseConfig(root, input, { what: "reading" }))).toEqual([]);
  });

  it("never mutates the input", () => {
    const input = { engine: { sampler: "mlm", mlm_top_k: 3 } };
    parseConfig(root, input, { what: "reading" });
    expect(input).toEqual({ engine: { sampler: "mlm", mlm_top_k: 3 } });
  });

  it("refuses the old and the new name together, naming the old one", () => {
    expect(() => parseConfig(scorer, { kind: "vllm", type: "vllm", url: "u" }, { what: "reading", path: "scorer" })).toThrow(ConfigError);
    try {
      parseConfig(scorer, { kind: "vllm", type: "vllm", url: "u" }, { what: "reading", path: "scorer" });
    } catch (err) {
      expect((err as ConfigError).path).toBe("scorer.kind");
    }
  });

  it("is listed for docs on the schema and its wrappers", () => {
    expect(renamedFieldsOf(engine.prefault({})).map((f) => f.from)).toEqual(["mlm_top_k", "sampler"]);
  });
});
