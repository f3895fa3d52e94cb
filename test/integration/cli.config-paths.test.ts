/**
 * Paths in a worker config, through the real CLI: relative paths resolve against the config
 * file's directory (the CLI runs with another working directory), `config check` names every
 * input that does not exist, and the DuckDB and JSONL sinks create their parent directories.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli } from "./fixtures/cli.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("config paths", () => {
  const dir = mkdtempSync(join(tmpdir(), "reagent-config-paths-"));
  const confDir = join(dir, "conf");
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(confDir, { recursive: true });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("run resolves relative paths against the config file and sinks create their directories", async () => {
    writeFileSync(join(dir, "data/logs.jsonl"), `${JSON.stringify({ id: "p-1", prompt: "When my flight landed in Greece, I was staying in the capital,", completion: " Athens" })}\n`);
    const cfg = join(confDir, "worker.yaml");
    writeFileSync(
      cfg,
      [
        "source: { type: file, path: ../data/logs.jsonl, progress: off }",
        "mapping: { preset: flat }",
        "sampling: { rate: 1 }",
        `scorer: { type: local, path: ${relative(confDir, join(ROOT, "models/tiny-lm"))} }`,
        "engine: { method: reagent, sampler: uniform, num_probes: 4, max_steps: 30, max_targets: 2 }",
        "sinks:",
        "  - { type: duckdb, path: out/new/dir/store.duckdb }",
        "  - { type: jsonl, path: out/other/results.jsonl }",
        "dead_letter: { type: jsonl, path: out/dl/dead.jsonl }",
        "logging: { level: warn }",
        "",
      ].join("\n"),
    );
    // The CLI's working directory is the repository root, not the config's directory.
    const r = await runCli(["run", "--config", cfg, "--summary", "none"], cleanEnv({}));
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(confDir, "out/new/dir/store.duckdb"))).toBe(true);
    expect(existsSync(join(confDir, "out/other/results.jsonl"))).toBe(true);
    expect(existsSync(join(ROOT, "out/new"))).toBe(false);
  });

  it("config check reports each missing input file or directory and exits 2", async () => {
    writeFileSync(join(dir, "data/not-a-dir"), "x");
    const cfg = join(confDir, "missing.yaml");
    writeFileSync(
      cfg,
      [
        "source: { type: file, path: [../data/logs.jsonl, ../data/nope.jsonl] }",
        "scorer: { type: local, path: ../data/not-a-dir }",
        "engine: { sampler: mlm, mlm_model: ../no-mlm }",
        "sinks: [{ type: duckdb, path: out/never/created.duckdb }]",
        "",
      ].join("\n"),
    );
    const r = await runCli(["config", "check", cfg], cleanEnv({}));
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain(`source.path[1]: ${join(dir, "data/nope.jsonl")} does not exist`);
    expect(r.stderr).toContain(`scorer.path: ${join(dir, "data/not-a-dir")} is not a directory`);
    expect(r.stderr).toContain(`engine.mlm_model: ${join(dir, "no-mlm")} does not exist (expected an existing directory)`);
    expect(r.stderr).toContain("3 missing inputs");
    expect(r.stderr).not.toContain("source.path[0]");
    expect(r.stderr).not.toContain("sinks");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("config check passes the bundled demo config (its paths are relative to deploy/config/)", async () => {
    const r = await runCli(["config", "check", "--quiet", join(ROOT, "deploy/config/demo.yaml")], cleanEnv({}));
    expect(r.code, r.stderr).toBe(0);
  });
});
