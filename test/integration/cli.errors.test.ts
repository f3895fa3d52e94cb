/**
 * Every user mistake is ONE line on stderr with the cause and the fix, and exit code 2: no
 * stack trace, no help dump. The real CLI, in child processes, as a user types it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeJsonArtifact } from "./fixtures/artifacts.js";
import { cleanEnv, runCli } from "./fixtures/cli.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("CLI user mistakes: one line, exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "reagent-cli-errors-"));
  let busy: Server;
  let port = 0;
  const seen: { args: string[]; stderr: string; code: number | null }[] = [];

  beforeAll(async () => {
    busy = createServer((_q, r) => r.end());
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    port = (busy.address() as AddressInfo).port;
    writeFileSync(join(dir, "bad.json"), "{not json");
    writeFileSync(join(dir, "shape.json"), JSON.stringify({ foo: 1 }));
    writeFileSync(join(dir, "logged.json"), JSON.stringify({ request: { messages: [] }, response: {} }));
    writeFileSync(join(dir, "one.jsonl"), `${JSON.stringify({ prompt: "Hello there", completion: " friend" })}\n`);
    writeFileSync(join(dir, "not-a-record.jsonl"), `${JSON.stringify({ nothing: "here" })}\n`);
    writeFileSync(join(dir, "a-file"), "x");
  });

  afterAll(async () => {
    await new Promise<void>((r) => busy.close(() => r()));
    writeJsonArtifact("cli/error-cases.json", seen);
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, () => string[], RegExp][] = [
    ["unknown option", () => ["attribute", "--bogus"], /unknown option '--bogus'/],
    ["unknown command", () => ["atribute"], /unknown command 'atribute'.*attribute/],
    ["invalid choice", () => ["attribute", "--method", "nope", "--prompt", "a", "--completion", "b"], /Allowed choices are reagent, loo, random/],
    ["invalid number", () => ["attribute", "--generate", "abc", "--prompt", "a"], /--generate must be an integer >= 1/],
    ["missing --prompt-file", () => ["attribute", "--prompt-file", join(dir, "nope.txt"), "--completion", "b"], /--prompt-file .*no such file/],
    ["malformed --messages", () => ["attribute", "--messages", join(dir, "bad.json"), "--completion", "b"], /--messages .*not valid JSON/],
    ["--messages of the wrong shape", () => ["attribute", "--messages", join(dir, "shape.json"), "--completion", "b"], /no messages found; expected/],
    ["a logged record given to --messages", () => ["attribute", "--messages", join(dir, "logged.json"), "--completion", "b"], /use --record|with --record/],
    ["empty prompt", () => ["attribute", "--prompt", "", "--completion", "b"], /the prompt is empty/],
    ["two prompt sources", () => ["attribute", "--prompt", "a", "--prompt-file", "x", "--completion", "b"], /exactly one of --prompt, --prompt-file, --messages or --record/],
    ["no completion", () => ["attribute", "--prompt", "a"], /give --completion TEXT .* or --generate N/],
    ["empty completion", () => ["attribute", "--prompt", "a", "--completion", ""], /--completion is empty/],
    ["--out under a file (checked before attributing)", () => ["attribute", "--prompt", "a", "--completion", "b", "--out", join(dir, "a-file", "x.json")], /preparing --out .*choose another path/],
    ["--record file missing", () => ["attribute", "--record", join(dir, "nope.jsonl")], /--record .*no such file/],
    ["--record line past the end", () => ["attribute", "--record", `${join(dir, "one.jsonl")}:5`], /line 5 is past the end \(the file has 1 records\)/],
    ["--record that no preset maps", () => ["attribute", "--record", join(dir, "not-a-record.jsonl")], /mapping --record .*dead-letter/],
    ["--model directory missing", () => ["attribute", "--model", join(dir, "no-model"), "--prompt", "a", "--completion", "b"], /no-model/],
    ["run --config missing", () => ["run", "--config", join(dir, "nope.yaml")], /nope\.yaml/],
    ["config check missing", () => ["config", "check", join(dir, "nope.yaml")], /nope\.yaml/],
    ["serve-model on a busy port", () => ["serve-model", "--model", join(ROOT, "models/tiny-lm"), "--port", String(port)], /already in use; stop what listens there or choose another --port/],
    ["ui on a busy port", () => ["ui", "--file", join(dir, "ui.duckdb"), "--port", String(port)], /choose another --port|already in use|does not exist/],
    ["report without input", () => ["report"], /give --results FILE, or --id ID/],
    ["report --results missing", () => ["report", "--results", join(dir, "nope.jsonl")], /no such file/],
    ["unknown audit query", () => ["query", "nope"], /no such query; valid:/],
  ];

  for (const [name, args, message] of cases) {
    it(name, async () => {
      const a = args();
      const r = await runCli(a, cleanEnv({}), 120_000);
      seen.push({ args: a.map((x) => x.replace(dir, "<tmp>")), stderr: r.stderr.replace(new RegExp(dir, "g"), "<tmp>"), code: r.code });
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^reagent-stream: /);
      expect(lines[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toContain("Usage:");
    });
  }

  it("a closed stdout pipe (config schema | head) ends quietly with exit 0", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [join(ROOT, "bin/reagent-stream.js"), "config", "schema"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(err).toBe("");
    expect(code).toBe(0);
  });
});
