/**
 * Replay progress and logs of `run` through the real CLI: without a terminal, one summary line
 * per interval counting records attributed (not lines read) and JSON logs; on a terminal (a real
 * pseudo-terminal from util-linux `script`), a bar redrawn in place, text logs that never share a
 * line with the bar, and JSON again when asked with --log-format json.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli } from "./fixtures/cli.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CLEAR = "\r\x1b[2K";
const PROMPTS = ["When my flight landed in Greece, I was staying in the capital,", "The river that flows through Paris is the", "Water boils at a temperature of one hundred degrees", "The largest planet in the solar system is"];

/** The CLI on a pseudo-terminal: everything it writes (stdout and stderr) as the terminal saw it. */
function runOnTty(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, join(ROOT, "bin/reagent-stream.js"), ...args].map((a) => `'${a}'`).join(" ");
  return new Promise((res, rej) => {
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("error", rej);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

describe("run: progress and logs", () => {
  const dir = mkdtempSync(join(tmpdir(), "reagent-progress-"));
  const cfg = join(dir, "worker.yaml");
  beforeAll(() => {
    writeFileSync(join(dir, "logs.jsonl"), PROMPTS.map((p, i) => JSON.stringify({ id: `p-${i}`, prompt: p, completion: " yes" })).join("\n") + "\n");
    writeFileSync(
      cfg,
      [
        "source: { type: file, path: logs.jsonl, progress_interval_ms: 200 }",
        "mapping: { preset: flat }",
        "sampling: { rate: 1 }",
        `scorer: { type: local, path: ${JSON.stringify(join(ROOT, "models/tiny-lm"))} }`,
        "engine: { method: reagent, sampler: uniform, num_probes: 4, max_steps: 30, max_targets: 2 }",
        "sinks: [{ type: jsonl, path: out/results.jsonl }]",
        "dead_letter: { type: jsonl, path: out/dl.jsonl }",
        "logging: { level: info }",
        "",
      ].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("without a terminal: periodic summary lines counting records attributed, and JSON logs", async () => {
    const r = await runCli(["run", "--config", cfg, "--summary", "none"], cleanEnv({}));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    const progress = lines.filter((l) => l.startsWith(`${join(dir, "logs.jsonl")} `));
    expect(progress.length, r.stderr).toBeGreaterThan(0);
    for (const l of progress) expect(l).toMatch(/ attributed \d+ records \d+\/~?\d+ done [\d.]+ rec\/s( ETA \d+:\d\d)? elapsed \d+:\d\d$/);
    expect(r.stderr).not.toContain("\x1b[");
    // Everything else on stderr is a JSON log line.
    const logs = lines.filter((l) => !progress.includes(l));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(() => JSON.parse(l) as unknown, l).not.toThrow();
  });

  it("on a terminal: a bar redrawn in place, text logs that never share its line; JSON when asked", async () => {
    const env = cleanEnv({ TERM: "xterm" });
    const r = await runOnTty(["run", "--config", cfg, "--summary", "none"], env);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`${CLEAR}${join(dir, "logs.jsonl")} [`);
    expect(r.out).toMatch(/logs\.jsonl \[[#.]{20}\] {1,3}\d+% attributed \d+ records/);
    expect(r.out).toMatch(/attributed 4 records 4\/4 done/);
    expect(r.out).not.toContain('{"level"');
    // Each text log line starts on a cleared line (or a fresh one), never after bar text.
    const logLine = /\d\d:\d\d:\d\d\.\d{3} (INFO|WARN) /g;
    let m: RegExpExecArray | null;
    let seen = 0;
    while ((m = logLine.exec(r.out)) !== null) {
      seen++;
      const before = r.out.slice(Math.max(0, m.index - CLEAR.length), m.index);
      expect(before === CLEAR || before.endsWith("\n") || m.index === 0, JSON.stringify(r.out.slice(Math.max(0, m.index - 80), m.index + 40))).toBe(true);
    }
    expect(seen).toBeGreaterThan(0);

    const j = await runOnTty(["run", "--config", cfg, "--summary", "none", "--log-format", "json"], env);
    expect(j.code, j.out).toBe(0);
    expect(j.out).toContain('{"level":30');
  });
});
