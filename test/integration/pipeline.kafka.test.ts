/**
 * The pipeline against the real Kafka broker, with real worker processes: a 6-partition topic of
 * 6,000 logged records, 2 % malformed; two `reagent-stream run` processes in one consumer group;
 * one is killed with SIGKILL mid-run and started again. At the end:
 * - every valid sampled record has exactly one result after deduplication by attribution_id,
 * - every malformed record is in the dead-letter topic with its reason,
 * - nothing is missing: the group's committed offsets reach the end of every partition.
 *
 * The engine runs the `random` method (a real method with the full result contract, one model
 * pass per record) at sampling rate 0.1, so the test stays affordable on two cores.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Partitioners, type Admin, type Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DLQ_HEADERS } from "../../src/pipeline/dead-letter.js";
import { RecordMapper } from "../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../src/pipeline/sampling/sampler.js";
import { createTestTopic, testEndpoints, testKafka, uniqueName } from "./services.js";

const N = 6000;
const PARTITIONS = 6;
const RATE = 0.1;
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/reagent-stream.js");

function recordBytes(i: number): { value: Buffer; malformed: boolean } {
  const id = `rec-${String(i).padStart(5, "0")}`;
  if (i % 50 === 7) {
    // 2 %: half not JSON at all, half JSON without a completion.
    const text = i % 100 === 7 ? `{"id":"${id}","prompt":"cut off` : JSON.stringify({ id, prompt: "What is the capital of Peru?" });
    return { value: Buffer.from(text), malformed: true };
  }
  const prompt = i % 3 === 0 ? [{ role: "user", content: `Question ${i}: where does Ines live?` }] : `Context: [doc ${i % 9}] Mara lives in Oslo. Question: where does Mara live? Answer:`;
  return { value: Buffer.from(JSON.stringify({ id, model: i % 2 === 0 ? "tiny-a" : "tiny-b", tenant_id: `t${i % 4}`, prompt, completion: " Oslo." })), malformed: false };
}

const CONFIG = `# reagent-stream config (integration test: two workers, one group)
source:
  type: kafka
  brokers: \${KAFKA_BROKERS}
  topics: ["\${TOPIC}"]
  group_id: \${GROUP}
  from_beginning: true
  session_timeout_ms: 6000
  heartbeat_interval_ms: 500
  rebalance_timeout_ms: 10000
  max_wait_ms: 200
  log_level: nothing
sampling:
  rate: ${RATE}
scorer:
  type: local
  path: ${join(ROOT, "models/tiny-lm")}
engine:
  method: random
  sampler: uniform
  max_targets: 4
pipeline:
  concurrency: 2
  commit_interval_ms: 200
  drain_timeout_ms: 5000
sinks:
  - type: jsonl
    path: \${OUT}/results-\${WORKER_ID}.jsonl
dead_letter:
  type: kafka
  topic: \${DLQ_TOPIC}
logging:
  level: warn
`;

interface Worker {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
}

describe("pipeline on Kafka: two workers, one SIGKILLed and restarted", () => {
  let kafka: Kafka;
  let admin: Admin;
  let topic = "";
  let dlqTopic = "";
  const group = uniqueName("pipeline_group");
  const dir = mkdtempSync(join(tmpdir(), "reagent-pipeline-"));
  const cfgFile = join(dir, "worker.yaml");
  const workers: Worker[] = [];

  function startWorker(name: string, id: string): Worker {
    const log = createWriteStream(join(dir, `${name}.log`));
    const proc = spawn(process.execPath, [BIN, "run", "-c", cfgFile, "--summary", "json"], {
      cwd: ROOT,
      env: { ...process.env, KAFKA_BROKERS: testEndpoints().kafkaBrokers.join(","), TOPIC: topic, DLQ_TOPIC: dlqTopic, GROUP: group, OUT: dir, WORKER_ID: id },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    const exited = new Promise<number | null>((res) => proc.on("exit", (code) => res(code)));
    const w = { name, proc, exited };
    workers.push(w);
    return w;
  }

  function resultLines(id: string): string[] {
    const f = join(dir, `results-${id}.jsonl`);
    return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter((l) => l.length > 0) : [];
  }

  async function until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // A poll that throws a retriable broker error (NOT_COORDINATOR while the group's coordinator
    // moves under load) counts as "not yet", like the kafkajs clients the workers use.
    const check = async (): Promise<boolean> => {
      try {
        return await ok();
      } catch (err) {
        if ((err as { retriable?: boolean }).retriable === true) return false;
        throw err;
      }
    };
    while (!(await check())) {
      if (Date.now() > deadline) {
        const logs = workers.map((w) => `--- ${w.name}\n${existsSync(join(dir, `${w.name}.log`)) ? readFileSync(join(dir, `${w.name}.log`), "utf8").slice(-3000) : ""}`).join("\n");
        throw new Error(`timed out waiting until ${what}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    kafka = testKafka("pipeline-kafka-test");
    admin = kafka.admin();
    await admin.connect();
    topic = await createTestTopic(admin, { prefix: "llm_logs", partitions: PARTITIONS });
    dlqTopic = await createTestTopic(admin, { prefix: "llm_logs_dlq", partitions: 1 });
    writeFileSync(cfgFile, CONFIG);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let start = 0; start < N; start += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 1000 }, (_, j) => {
          const i = start + j;
          return { key: `k-${i}`, value: recordBytes(i).value, headers: { "x-origin": "pipeline-test" } };
        }),
      });
    }
    await producer.disconnect();
  });

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
    await admin.deleteTopics({ topics: [topic, dlqTopic].filter((t) => t !== ""), timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ends with exactly one result per sampled record, every malformed record dead-lettered, and every offset committed", async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends.reduce((s, p) => s + Number(p.high), 0)).toBe(N);
    for (const p of ends) expect(Number(p.high)).toBeGreaterThan(0);

    let a = startWorker("a1", "a");
    const b = startWorker("b", "b");
    // Kill worker a mid-run, once it has stored some results.
    await until("worker a stores its first results", 120_000, () => resultLines("a").length >= 40);
    a.proc.kill("SIGKILL");
    expect(await a.exited).toBeNull();
    const killedAt = resultLines("a").length;
    await new Promise((r) => setTimeout(r, 1500));
    a = startWorker("a2", "a");

    // Done when the group's committed offsets reach the end of every partition.
    await until("every partition is committed to its end", 240_000, async () => {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = new Map((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      return ends.every((e) => committed.get(e.partition) === Number(e.high));
    });
    a.proc.kill("SIGTERM");
    b.proc.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    // What the workers should have done, decided by the same mapper and sampler.
    const mapper = new RecordMapper();
    const sampler = new RecordSampler({ rate: RATE });
    const expectedSampled = new Set<string>();
    const malformed = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const { value, malformed: bad } = recordBytes(i);
      if (bad) {
        malformed.set(value.toString(), `rec-${String(i).padStart(5, "0")}`);
        continue;
      }
      const { record } = mapper.map({ value });
      if (sampler.decide(record).sampled) expectedSampled.add(record.id);
    }
    expect(malformed.size).toBe(N / 50);
    expect(expectedSampled.size).toBeGreaterThan(N * RATE * 0.8);

    // Results: parse both workers' files (a line torn by SIGKILL is not a result).
    const byAttribution = new Map<string, Set<string>>();
    let lines = 0;
    let torn = 0;
    for (const id of ["a", "b"]) {
      for (const line of resultLines(id)) {
        let r: { attribution_id: string; context: { record_id: string } };
        try {
          r = JSON.parse(line) as typeof r;
        } catch {
          torn++;
          continue;
        }
        lines++;
        const s = byAttribution.get(r.attribution_id) ?? new Set<string>();
        s.add(r.context.record_id);
        byAttribution.set(r.attribution_id, s);
      }
    }
    const recordIds = new Set([...byAttribution.values()].flatMap((s) => [...s]));
    // Exactly one result per sampled record after dedup: one attribution id per record, and back.
    expect([...byAttribution.values()].every((s) => s.size === 1)).toBe(true);
    expect(byAttribution.size).toBe(expectedSampled.size);
    expect([...recordIds].sort()).toEqual([...expectedSampled].sort());
    expect(torn).toBeLessThanOrEqual(1);
    console.log(`[pipeline test] ${expectedSampled.size} sampled records, ${lines} result lines (${lines - byAttribution.size} duplicates after the kill at ${killedAt} results of worker a), ${torn} torn line(s)`);

    // Dead letters: every malformed record, with its original bytes and reason headers.
    const consumer = kafka.consumer({ groupId: uniqueName("dlq_reader"), maxWaitTimeInMs: 200 });
    const letters = new Map<string, Record<string, string>>();
    await consumer.connect();
    await consumer.subscribe({ topics: [dlqTopic], fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        letters.set(message.value?.toString() ?? "", headers);
        return Promise.resolve();
      },
    });
    try {
      await until("every malformed record is read back from the dead-letter topic", 60_000, () => letters.size >= malformed.size);
    } finally {
      await consumer.disconnect();
    }
    expect(new Set(letters.keys())).toEqual(new Set(malformed.keys()));
    for (const [value, h] of letters) {
      expect(["parse", "validate"]).toContain(h[DLQ_HEADERS.stage]);
      expect(h[DLQ_HEADERS.code]).toBe("record_invalid");
      expect(h[DLQ_HEADERS.reason]?.length).toBeGreaterThan(10);
      expect(h[DLQ_HEADERS.attempts]).toBe("1");
      expect(h[DLQ_HEADERS.partition]).toMatch(new RegExp(`^${topic}/\\d$`));
      expect(Number.isNaN(Date.parse(h[DLQ_HEADERS.time] ?? ""))).toBe(false);
      expect(h["x-origin"]).toBe("pipeline-test");
      if (value.includes("cut off")) expect(h[DLQ_HEADERS.stage]).toBe("parse");
      else expect(h[DLQ_HEADERS.issues]).toContain("completion");
    }
  }, 300_000);
});
