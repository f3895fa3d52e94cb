import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { deprecationsOf } from "../../../src/config-aliases.js";
import { CONFIG_SECTIONS, configWarnings, generatedFiles, parseWorkerConfig, workerConfigSchema } from "../../../src/app/config.js";
import { parseConfigText, substituteEnv } from "../../../src/app/config-loader.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const MARKER = "# reagent-stream config";

const minimal = `
source: { type: file, path: logs.jsonl }
scorer: { type: local, path: models/tiny-lm }
sinks: [{ type: jsonl, path: out.jsonl }]
`;

function configError(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseWorkerConfig(text, "test.yaml", env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("config loading", () => {
  it("fills defaults for a minimal file", () => {
    const c = parseWorkerConfig(minimal, "t", {});
    expect(c.sampling.rate).toBe(0.01);
    expect(c.pipeline.concurrency).toBe(1);
    expect(c.engine.method).toMatchObject({ type: "reagent", mode: "joint" });
    expect(c.mapping.preset).toBe("auto");
  });

  it("substitutes ${ENV}, ${ENV:-default} and ${ENV-default}, typing whole-value numbers", () => {
    const issues: { path: string; message: string }[] = [];
    const out = substituteEnv(
      { a: "${A}", b: "${B:-9092}", c: "x-${A}-${C-d}", d: "$${A}", e: ["${E:-true}"], f: "${EMPTY:-fallback}", g: "${EMPTY-kept}" },
      { A: "1", EMPTY: "" },
      issues,
    );
    expect(out).toEqual({ a: 1, b: 9092, c: "x-1-d", d: "${A}", e: [true], f: "fallback", g: "" });
    expect(issues).toEqual([]);
    const c = parseWorkerConfig(`${minimal}\npipeline: { concurrency: "\${WORKERS:-3}" }\n`, "t", {});
    expect(c.pipeline.concurrency).toBe(3);
  });

  it("names an unset variable and the field it is in", () => {
    const e = configError(`${minimal}\nsampling: { seed: "\${SEED}" }\n`);
    expect(e.path).toBe("sampling.seed");
    expect(e.message).toMatch(/SEED is not set/);
  });

  it("names the bad field and what was expected", () => {
    const e = configError(`${minimal}\npipeline: { concurrency: many }\n`);
    expect(e.code).toBe("config_invalid");
    expect(e.path).toBe("pipeline.concurrency");
    expect(e.expected).toBe("number");
    expect(e.message).toMatch(/pipeline\.concurrency: expected number, got "many"/);
  });

  it("paths into lists use [i]", () => {
    const e = configError(`source: { type: file, path: x }\nscorer: { type: local, path: m }\nsinks: [{ type: jsonl, path: a }, { type: jsonl }]\n`);
    expect(e.path).toBe("sinks[1].path");
  });

  it("rejects unknown keys with a did-you-mean hint", () => {
    const e = configError(`${minimal}\nsampling: { rat: 0.5 }\n`);
    expect(e.path).toBe("sampling.rat");
    expect(e.message).toMatch(/unknown field "rat" \(did you mean "rate"\?\)/);
    const top = configError(`${minimal}\nsink: []\n`);
    expect(top.message).toMatch(/did you mean "sinks"/);
  });

  it("lists the valid component types for an unknown one", () => {
    const e = configError(`source: { type: kafak }\n`);
    expect(e.path).toBe("source.type");
    expect(e.message).toMatch(/did you mean "kafka"/);
    expect(e.expected).toBe("one of kafka, file, stdin");
  });

  it("checks cross-field rules", () => {
    expect(configError(`source: { type: kafka, brokers: b:9092, topics: [t], group_id: g }\nscorer: { type: local, path: m }\nsinks: [{ type: jsonl, path: o }]\n`).path).toBe("dead_letter");
    expect(configError(`source: { type: file, path: x }\nsinks: [{ type: jsonl, path: o }]\n`).path).toBe("scorer");
    expect(configError(`source: { type: file, path: x }\nscorer: { type: local, path: m }\n`).path).toBe("sinks");
    expect(configError(`${minimal}\ndead_letter: { type: kafka, topic: dlq }\n`).path).toBe("dead_letter.brokers");
    expect(() => parseWorkerConfig(`source: { type: stdin }\npipeline: { attribution: "off" }\n`, "t", {})).not.toThrow();
  });

  it("warns about valid but dubious settings", () => {
    const c = parseWorkerConfig(
      `source: { type: kafka, brokers: b, topics: [t], group_id: g, heartbeat_interval_ms: 20000 }\nsampling: { rate: 1 }\nscorer: { type: local, path: m }\nsinks: [{ type: jsonl, path: o }]\ndead_letter: { type: jsonl, path: d }\nengine: { method: { type: reagent, max_steps: 9000 } }\npipeline: { drain_timeout_ms: 60000 }\n`,
      "t",
      {},
    );
    expect(configWarnings(c)).toHaveLength(5);
    expect(configWarnings(parseWorkerConfig(minimal, "t", {}))).toEqual([]);
  });

  it("reads deprecated names with a warning that config check prints and the worker logs", () => {
    const c = parseWorkerConfig(`source: { type: file, path: x }\nscorer: { kind: local, path: m }\nsinks: [{ type: jsonl, path: o }]\n`, "t", {});
    expect(c.scorer).toEqual({ type: "local", path: "m" });
    expect(configWarnings(c)).toEqual(["scorer.kind is deprecated: use scorer.type (the old form still works in this release)"]);
  });

  it("names the engine's flat 0.1 settings it lifted into their sections", () => {
    const c = parseWorkerConfig(`source: { type: file, path: x }\nscorer: { type: local, path: m }\nsinks: [{ type: jsonl, path: o }]\nengine: { num_probes: 4, mlm_top_k: 3, sampler: mlm }\n`, "t", {});
    expect(c.engine.method).toMatchObject({ type: "reagent", num_probes: 4 });
    expect(configWarnings(c)).toEqual([
      "engine.num_probes is deprecated: use engine.method.num_probes (the old form still works in this release)",
      "engine.mlm_top_k is deprecated: use engine.sampler.top_k (sampler: {type: mlm}) (the old form still works in this release)",
    ]);
  });

  it("reports YAML syntax errors with a position", () => {
    const e = configError("source: [unclosed\n");
    expect(e.message).toMatch(/not valid YAML \(line \d+, column \d+\)/);
  });

  it("reports every problem at once", () => {
    const e = configError(`source: { type: file }\nsampling: { rate: 2 }\n`);
    expect((e.details.issues as unknown[]).length).toBeGreaterThanOrEqual(2);
  });

  it("accepts the sinks engineer's stores and the OTel section", () => {
    const text = `source: { type: file, path: x }\nscorer: { type: local, path: m }\nsinks: [{ type: duckdb, path: x.duckdb }, { type: clickhouse, url: "http://ch:8123", database: audit }]\notel: { enabled: false }\n`;
    const c = parseWorkerConfig(text, "t", {});
    expect(c.sinks.map((s) => s.type)).toEqual(["duckdb", "clickhouse"]);
  });
});

describe("generated docs and schemas", () => {
  it("docs/config.md, schemas/config.schema.json and schemas/llm-log-record.schema.json are up to date (npm run config:docs)", () => {
    for (const f of generatedFiles(ROOT)) {
      const committed = readFileSync(f.path, "utf8");
      expect(committed, `${f.path} is stale: run npm run config:docs`).toBe(f.content);
    }
  });

  it("documents every top-level key and every source, sink and dead-letter type", () => {
    const keys = Object.keys(workerConfigSchema.shape);
    const documented = new Set(CONFIG_SECTIONS.map((s) => s.key.replace("[]", "")));
    for (const k of keys) expect(documented.has(k), `no docs section for ${k}`).toBe(true);
    const md = readFileSync(join(ROOT, "docs/config.md"), "utf8");
    for (const s of CONFIG_SECTIONS) expect(md).toContain(`<a id="${s.id}"></a>`);
  });
});

describe("example configs", () => {
  const files = readdirSync(join(ROOT, "deploy/config")).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"));

  it("there are example configs", () => {
    expect(files).toEqual(expect.arrayContaining(["example.yaml", "demo.yaml"]));
  });

  it.each(files)("deploy/config/%s is valid", (f) => {
    const text = readFileSync(join(ROOT, "deploy/config", f), "utf8");
    expect(text.startsWith(MARKER)).toBe(true);
    // Examples teach the current names: no deprecated ones.
    expect(deprecationsOf(parseWorkerConfig(text, f, {}))).toEqual([]);
  });

  const mdFiles = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const blocks = mdFiles.flatMap((f) => {
    const text = readFileSync(join(ROOT, f), "utf8");
    return [...text.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "").filter((b) => b.startsWith(MARKER)).map((b, i) => [`${f} block ${i + 1}`, b] as const);
  });

  it.each(blocks)("%s is valid", (_name, text) => {
    expect(deprecationsOf(parseWorkerConfig(text, _name, {}))).toEqual([]);
  });

  it.each(CONFIG_SECTIONS.filter((s) => s.example !== undefined).map((s) => [s.id, s] as const))("the %s example in docs/config.md is valid", (_id, s) => {
    const doc = parseYaml(s.example ?? "") as Record<string, unknown>;
    const key = s.key.replace("[]", "");
    const value = s.key.endsWith("[]") ? (doc[key] as unknown[])[0] : doc[key];
    const r = parseConfigText(JSON.stringify(value), s.schema, { env: {} });
    expect(r).toBeDefined();
    expect(deprecationsOf(r)).toEqual([]);
  });
});
