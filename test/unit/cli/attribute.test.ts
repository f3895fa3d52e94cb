import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { attributionResultSchema } from "../../../schemas/attribution-result.js";
import { resolveEngineConfig } from "../../../src/attribution/config.js";
import { ConfigError } from "../../../src/errors.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const PROMPT = "When my flight landed in Greece, I converted my currency and slowly fell asleep. I was staying in the capital,";
// Small settings: the test checks the command's contract, not attribution quality.
const FAST = ["--num-probes", "4", "--max-steps", "40", "--threads", "1"];

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "bin/reagent-stream.js"), "attribute", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
}

describe("reagent-stream attribute (real CLI, bundled model)", () => {
  it("--json prints a schema-valid result carrying the settings it was given", () => {
    const r = cli(["--prompt", PROMPT, "--generate", "1", "--stopping", "ensemble", "--min-steps", "10", "--patience", "20", "--aggregation", "pooled", "--seed", "7", "--json", ...FAST]);
    expect(r.status, r.stderr).toBe(0);
    const result = attributionResultSchema.parse(JSON.parse(r.stdout));
    expect(result.config).toMatchObject({
      method: { type: "reagent", mode: "joint", num_probes: 4, max_steps: 40 },
      stopping: { type: "ensemble", min_steps: 10, patience: 20 },
      aggregation: "pooled",
      seed: 7,
    });
    expect(result.completion.text).toBe(" Athens");
    expect(result.spans.length).toBeGreaterThan(0);
  });

  it("prints the heatmap, the completion and the top spans without --json", () => {
    const r = cli(["--prompt", PROMPT, "--completion", " Athens", "--mode", "reference", ...FAST]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Completion: " Athens"');
    expect(r.stdout).toContain("Top spans:");
    expect(r.stdout).toMatch(/reagent\/reference · sampler pos/);
  });

  it("refuses a joint-only setting with reference mode: exit 2, the field named, no stack trace", () => {
    const r = cli(["--prompt", "x y", "--completion", " z", "--mode", "reference", "--stopping", "ensemble"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("stopping");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("generated engine and scorer flags", () => {
  it("refuse a setting of another strategy and a bad value, naming the flag, before loading a model", () => {
    const other = cli(["--prompt", "x", "--completion", " y", "--samples", "3"]);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain("--samples is a setting of method loo, not reagent (add --method loo)");
    const bad = cli(["--prompt", "x", "--completion", " y", "--num-probes", "0"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--num-probes: Too small");
    const endpointOnly = cli(["--prompt", "x", "--completion", " y", "--max-batch", "8"]);
    expect(endpointOnly.status).toBe(2);
    expect(endpointOnly.stderr).toContain("--max-batch is a setting of type");
  });
});

describe("engine settings", () => {
  it("refuse joint-only deviations with reference mode, naming the field", () => {
    expect(() => resolveEngineConfig({ mode: "reference", stopping: "ensemble" })).toThrow(ConfigError);
    expect(() => resolveEngineConfig({ mode: "reference", check_every: 4 })).toThrow(/check_every/);
    // check_every is the per-probe rule's knob; the flat schema accepted (and ignored) it with ensemble stopping.
    expect(resolveEngineConfig({ mode: "joint", stopping: "ensemble", check_every: 4 }).stopping).toEqual({ type: "ensemble", keep_top_n: 5, top_k: 3, min_steps: 50, patience: 100 });
    expect(resolveEngineConfig({ stopping: "probe", check_every: 4 }).stopping).toMatchObject({ type: "probe", check_every: 4 });
    expect(resolveEngineConfig({ method: "loo", mode: "reference" }).stopping.type).toBe("probe");
    expect(() => resolveEngineConfig({ mode: "reference", aggregation: "pooled" })).toThrow(/aggregation/);
  });
});
