/** Flags generated from settings schemas: names, help and defaults from the schema, values back into the schema's shape. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { engineSettingsObject, ENGINE_DEPRECATED_FIELDS } from "../../../src/attribution/config.js";
import { flagTable, inFlagTerms, settingsFromFlags, tableOptions } from "../../../src/cli/schema-flags.js";
import { parseConfig } from "../../../src/config-issues.js";
import { ConfigError } from "../../../src/errors.js";

const settings = z
  .object({
    method: z
      .discriminatedUnion("type", [
        z.object({ type: z.literal("a"), probes: z.number().int().min(1).default(4).describe("a: probes"), top_k: z.number().int().default(3).describe("k") }).strict(),
        z.object({ type: z.literal("b"), samples: z.number().int().default(1).describe("b: samples") }).strict(),
      ])
      .prefault({ type: "a" }),
    stopping: z.discriminatedUnion("type", [z.object({ type: z.literal("x"), top_k: z.number().int().default(5).describe("stop k") }).strict()]).optional(),
    retry: z.object({ max_attempts: z.number().int().default(2).describe("attempts") }).strict().prefault({}),
    seed: z.number().int().default(42).describe("Random seed"),
    mode: z.enum(["fast", "slow"]).default("fast").describe("How"),
  })
  .strict();

describe("flagTable", () => {
  const t = flagTable(settings);

  it("names flags after fields, nested objects after their object, shared names after their section", () => {
    expect(t.sections.map((s) => [s.flag, s.types, s.defaultType])).toEqual([
      ["--method", ["a", "b"], "a"],
      ["--stopping", ["x"], undefined],
    ]);
    expect(Object.fromEntries(t.flags.map((f) => [f.path.join("."), f.flag]))).toEqual({
      "method.probes": "--probes",
      "method.top_k": "--method-top-k",
      "method.samples": "--samples",
      "stopping.top_k": "--stopping-top-k",
      "retry.max_attempts": "--retry-max-attempts",
      seed: "--seed",
      mode: "--mode",
    });
  });

  it("takes help, default and choices from the schema", () => {
    const opts = Object.fromEntries(tableOptions(t).map((o) => [o.long, o]));
    expect(opts["--seed"]?.description).toBe("Random seed (default 42)");
    expect(opts["--method-top-k"]?.description).toBe("method a: k (default 3)");
    expect(opts["--mode"]?.argChoices).toEqual(["fast", "slow"]);
    expect(opts["--method"]?.argChoices).toEqual(["a", "b"]);
  });

  it("makes a setting added to the schema a flag with no other change", () => {
    const more = flagTable(settings.extend({ max_targets: z.number().int().default(64).describe("Targets") }));
    expect(more.flags.map((f) => f.flag)).toContain("--max-targets");
  });

  it("covers every current engine setting and none of the deprecated flat names", () => {
    const engine = flagTable(engineSettingsObject, { exclude: Object.keys(ENGINE_DEPRECATED_FIELDS) });
    const names = engine.flags.map((f) => f.flag);
    expect(names).toEqual(expect.arrayContaining(["--mode", "--num-probes", "--max-steps", "--keep-top-n", "--stopping-top-k", "--min-steps", "--patience", "--check-every", "--aggregation", "--seed", "--max-targets", "--sampler-top-k"]));
    expect(new Set(names).size).toBe(names.length);
    expect(engine.flags.map((f) => f.path.join("."))).not.toContain("num_probes");
  });
});

describe("settingsFromFlags", () => {
  const t = flagTable(settings);

  it("builds only what was given, in the schema's shape, with the section's default type", () => {
    expect(settingsFromFlags(t, {})).toEqual({});
    expect(settingsFromFlags(t, { probes: 8, seed: 7, retryMaxAttempts: 5 })).toEqual({ method: { type: "a", probes: 8 }, seed: 7, retry: { max_attempts: 5 } });
    expect(settingsFromFlags(t, { method: "b" })).toEqual({ method: { type: "b" } });
  });

  it("refuses a setting of another type, naming the flag that selects it", () => {
    expect(() => settingsFromFlags(t, { samples: 2 })).toThrow(/--samples is a setting of method b, not a \(add --method b\)/);
  });

  it("asks for the section when no default says which type a setting belongs to", () => {
    expect(settingsFromFlags(t, { stoppingTopK: 2 })).toEqual({ stopping: { type: "x", top_k: 2 } });
    expect(settingsFromFlags(t, { stoppingTopK: 2 }, { sectionDefault: { stopping: () => "x" } })).toEqual({ stopping: { type: "x", top_k: 2 } });
  });

  it("retells schema errors in flag terms", () => {
    let err: unknown;
    try {
      parseConfig(settings, settingsFromFlags(t, { probes: "many" }), { what: "reading" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const told = inFlagTerms(err as ConfigError, t, "reading the flags");
    expect(told.path).toBe("--probes");
    expect(told.message).toBe('reading the flags: --probes: expected number, got "many"');
  });
});
