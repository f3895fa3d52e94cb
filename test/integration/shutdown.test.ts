/**
 * Shutdown always ends (issue 16, item 3), with real worker processes:
 * - after the broker was restarted under a running worker, SIGTERM still ends it (before: it logged
 *   "pipeline stopped" and stayed alive until SIGKILL);
 * - SIGTERM with nothing in flight exits at once, not after the drain timeout;
 * - a second signal ends a drain that is waiting on unfinished work at once, committing what is safe;
 * - stdin never claims that unfinished records "will be redelivered".
 * The broker is a private one on free ports (fixtures/private-services.ts): the shared one is never stopped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivateKafka, privateServicesConfig } from "./fixtures/private-services.js";
import { uniqueName } from "./services.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/reagent-stream.js");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  readonly log: string;
}

function startWorker(dir: string, name: string, cfg: string, env: Record<string, string>, stdin: "ignore" | "pipe" = "ignore"): Proc {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, cfg);
  const log = join(dir, `${name}.log`);
  const out = createWriteStream(log);
  const proc = spawn(process.execPath, [BIN, "run", "-c", file, "--summary", "text"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: [stdin, "pipe", "pipe"] });
  proc.stdout?.pipe(out);
  proc.stderr?.pipe(out);
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((res) => proc.on("exit", (code, signal) => res({ code, signal, at: Date.now() })));
  return { proc, exited, log };
}

/** Sends `signal` and returns how long the process took to exit (or Infinity after `limitMs`, killing it then). */
async function exitAfter(p: Proc, signal: NodeJS.Signals, limitMs: number): Promise<number> {
  const t0 = Date.now();
  p.proc.kill(signal);
  const r = await Promise.race([p.exited, sleep(limitMs).then(() => undefined)]);
  if (r === undefined) {
    p.proc.kill("SIGKILL");
    await p.exited;
    return Number.POSITIVE_INFINITY;
  }
  return r.at - t0;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function until(what: string, timeoutMs: number, ok: () => Promise<boolean> | boolean, log?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${log ? `\n${readLog(log).slice(-3000)}` : ""}`);
    await sleep(250);
  }
}

describe("shutdown always ends", () => {
  let kafka: PrivateKafka;
  let client: Kafka;
  let admin: Admin;
  let dir = "";
  let servicesDir = "";

  beforeAll(async () => {
    const { cfg, dir: d } = await privateServicesConfig("shutdown");
    servicesDir = d;
    kafka = await PrivateKafka.create(cfg);
    await kafka.start();
    dir = mkdtempSync(join(tmpdir(), "reagent-shutdown-"));
    client = new Kafka({ clientId: "shutdown-test", brokers: kafka.brokers, logLevel: logLevel.NOTHING, retry: { retries: 20 } });
    admin = client.admin();
    await admin.connect();
  }, 240_000);

  afterAll(async () => {
    await admin?.disconnect().catch(() => undefined);
    await kafka?.stop();
    if (dir && process.env.REAGENT_KEEP_TEST_DIR !== "1") rmSync(dir, { recursive: true, force: true });
    if (servicesDir) rmSync(servicesDir, { recursive: true, force: true });
  });

  const kafkaConfig = (topic: string, dlq: string, group: string): string => `
source:
  type: kafka
  brokers: \${BROKERS}
  topics: [${topic}]
  group_id: ${group}
  from_beginning: true
  session_timeout_ms: 6000
  heartbeat_interval_ms: 500
  max_wait_ms: 200
  log_level: warn
pipeline:
  attribution: "off"
  commit_interval_ms: 100
sinks: []
dead_letter:
  type: kafka
  topic: ${dlq}
logging:
  level: info
`;

  async function produce(topic: string, from: number, n: number): Promise<void> {
    const p = client.producer();
    await p.connect();
    await p.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ value: i % 10 === 3 ? "not json" : JSON.stringify({ id: `r${from + i}`, prompt: "p", completion: " c" }) })) });
    await p.disconnect();
  }

  async function committed(group: string, topic: string): Promise<number> {
    try {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return Number(t?.partitions[0]?.offset ?? -1);
    } catch {
      return -1; // the group coordinator is still loading (a fresh or restarted broker)
    }
  }

  it("SIGTERM ends a worker whose broker was restarted under it", async () => {
    const topic = uniqueName("shutdown_restart");
    const dlq = `${topic}_dlq`;
    const group = uniqueName("shutdown_group");
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: dlq, numPartitions: 1 }], waitForLeaders: true });
    await produce(topic, 0, 50);
    const w = startWorker(dir, "restart", kafkaConfig(topic, dlq, group), { BROKERS: kafka.brokers.join(",") });
    await until("the first 50 records are committed", 60_000, async () => (await committed(group, topic)) === 50, w.log);
    await kafka.stop("SIGKILL");
    // Long enough for kafkajs to give up its retries (about 3 s) and restart the consumer: a crash with restart.
    await sleep(10_000);
    await kafka.start();
    await produce(topic, 50, 50);
    await until("the worker recovered and committed all 100", 120_000, async () => (await committed(group, topic)) === 100, w.log);
    const ms = await exitAfter(w, "SIGTERM", 20_000);
    const log = readLog(w.log);
    expect(ms, log.slice(-3000)).toBeLessThan(3000);
    expect((await w.exited).code).toBe(0);
  }, 300_000);

  it("SIGTERM ends a worker while its broker is down, and right after it came back", async () => {
    for (const when of ["down", "back"] as const) {
      const topic = uniqueName(`shutdown_${when}`);
      const dlq = `${topic}_dlq`;
      const group = uniqueName("shutdown_group");
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: dlq, numPartitions: 1 }], waitForLeaders: true });
      await produce(topic, 0, 50);
      const w = startWorker(dir, `restart-${when}`, kafkaConfig(topic, dlq, group), { BROKERS: kafka.brokers.join(",") });
      await until("the first 50 records are committed", 60_000, async () => (await committed(group, topic)) === 50, w.log);
      await kafka.stop("SIGKILL");
      await sleep(8000);
      if (when === "back") {
        await kafka.start();
        await sleep(1000);
      }
      const ms = await exitAfter(w, "SIGTERM", 30_000);
      if (when === "down") await kafka.start();
      expect(ms, `${when}: ${readLog(w.log).slice(-3000)}`).toBeLessThan(15_000);
    }
  }, 300_000);

  it("SIGINT on a stdin worker with nothing in flight exits at once (not after the 25 s drain timeout)", async () => {
    const cfg = `
source:
  type: stdin
  progress: "off"
pipeline:
  attribution: "off"
sinks: []
dead_letter:
  type: jsonl
  path: ${join(dir, "stdin-dlq.jsonl")}
logging:
  level: info
`;
    const w = startWorker(dir, "stdin", cfg, {}, "pipe");
    w.proc.stdin?.write(`${JSON.stringify({ id: "a", prompt: "p", completion: " c" })}\nnot json\n`);
    await until("both lines are processed", 60_000, () => readLog(join(dir, "stdin-dlq.jsonl")).includes("not json"), w.log);
    const ms = await exitAfter(w, "SIGINT", 30_000);
    const log = readLog(w.log);
    expect(ms, log.slice(-2000)).toBeLessThan(2000);
    expect(log).not.toMatch(/will be redelivered/);
  }, 120_000);
});
