/**
 * The fault suite's harness (Kafka-style: number every message, inject faults, then count).
 * Real worker processes (`reagent-stream run`) on a real broker and a real ClickHouse; every
 * produced message carries its number as key `n-<i>`, so the count at the end can tell, per
 * number, whether it was stored, skipped by sampling, dead-lettered, lost or stored twice.
 *
 * Topics and databases are unique per scenario; destructive scenarios get private servers
 * (test/integration/fixtures/private-services.ts), never the shared ones.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from "kafkajs";
import { RecordMapper } from "../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../src/pipeline/sampling/sampler.js";

export const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/reagent-stream.js");
export const TOY_MODEL = join(ROOT, "models/tiny-lm");
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where the scenario's services are. */
export interface Services {
  readonly brokers: string[];
  readonly clickhouseUrl: string;
}

/** What message `i` is: a valid record, a malformed one, or an oversize one (> the 1 MB DLQ limit). */
export type Kind = "valid" | "malformed" | "oversize";

/** Message `i` of a scenario: 2 % malformed (half not JSON, half without a completion); `oversize` lists numbers made 1.5 MB. */
export function message(i: number, oversize: ReadonlySet<number>): { key: string; value: Buffer; kind: Kind } {
  const key = `n-${i}`;
  if (oversize.has(i)) return { key, value: Buffer.from(`{"id":"${key}","prompt":"${"x".repeat(1_500_000)}`), kind: "oversize" };
  if (i % 50 === 7) {
    const text = i % 100 === 7 ? `{"id":"${key}","prompt":"cut off` : JSON.stringify({ id: key, prompt: "What is the capital of Peru?" });
    return { key, value: Buffer.from(text), kind: "malformed" };
  }
  const prompt = `Context: [doc ${i % 9}] Mara lives in Oslo. Question: where does Mara live? Answer:`;
  return { key, value: Buffer.from(JSON.stringify({ id: key, tenant_id: `t${i % 3}`, model: "tiny", prompt, completion: " Oslo." })), kind: "valid" };
}

export function kafkaClient(brokers: string[], clientId = "reagent-chaos"): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, connectionTimeout: 5000, requestTimeout: 30_000, retry: { retries: 10 } });
}

let counter = 0;
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${process.pid}_${counter}`;
}

/** The worker's config: toy model (in process, or an HTTP scorer when `scorerUrl` is set), ClickHouse store, Kafka DLQ with its 1 MB limit. */
export function workerConfig(o: { rate: number; scorerUrl?: string; endpointAction?: "buffer" | "dead_letter" | "pause" }): string {
  const scorer =
    o.scorerUrl === undefined
      ? `  type: local\n  path: ${TOY_MODEL}\n  intra_op_threads: 1`
      : [
          `  type: vllm`,
          `  url: ${o.scorerUrl}`,
          `  model: tiny-lm`,
          `  tokenizer: ${TOY_MODEL}`,
          `  timeout_ms: 2000`,
          `  self_test: "off"`,
          `  retry: { max_attempts: 2, initial_backoff_ms: 100, max_backoff_ms: 200 }`,
          `  breaker: { failure_threshold: 2, cool_down_ms: 1000 }`,
        ].join("\n");
  return `# reagent-stream config (fault suite worker)
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
  max_bytes_per_partition: 4194304
  log_level: nothing
sampling:
  rate: ${o.rate}
scorer:
${scorer}
engine:
  method: random
  sampler: uniform
  max_targets: 4
pipeline:
  concurrency: 2
  commit_interval_ms: 200
  drain_timeout_ms: 5000
  retries: { max_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 1000 }
  endpoint_unavailable: { action: ${o.endpointAction ?? "buffer"} }
sinks:
  - type: clickhouse
    url: \${CLICKHOUSE_URL}
    database: \${DATABASE}
    store_text: none
    request_timeout_ms: 3000
    batch: { max_rows: 200, max_wait_ms: 100, concurrency: 2 }
    retry: { max_attempts: 6, initial_backoff_ms: 200, max_backoff_ms: 2000 }
dead_letter:
  type: kafka
  topic: \${DLQ_TOPIC}
  max_message_bytes: 1000000
  spill_path: \${SPILL}
  retry: { max_attempts: 4, initial_backoff_ms: 200, max_backoff_ms: 1000 }
logging:
  level: warn
`;
}

export interface Worker {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  readonly log: string;
}

/** One scenario's topic, DLQ topic (max.message.bytes 1 MB), group, database and workers. */
export class Scenario {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly topic = uniqueName("chaos");
  readonly dlqTopic = uniqueName("chaos_dlq");
  readonly group = uniqueName("chaos_group");
  readonly database = uniqueName("chaos_db");
  readonly workers: Worker[] = [];
  readonly oversize: Set<number>;
  private readonly cfgFile: string;
  private producer: Producer | undefined;
  produced = 0;

  constructor(
    readonly services: Services,
    readonly dir: string,
    readonly opts: { records: number; partitions: number; rate: number; oversize?: number[]; scorerUrl?: string; endpointAction?: "buffer" | "dead_letter" | "pause" },
  ) {
    this.kafka = kafkaClient(services.brokers);
    this.admin = this.kafka.admin();
    this.oversize = new Set(opts.oversize ?? []);
    this.cfgFile = join(dir, `${this.topic}.yaml`);
    writeFileSync(this.cfgFile, workerConfig(opts));
  }

  async setup(): Promise<void> {
    await this.admin.connect();
    await this.admin.createTopics({
      waitForLeaders: true,
      timeout: 30_000,
      topics: [
        // The input takes the oversize records; the DLQ keeps Kafka's default 1 MB limit, stated explicitly.
        { topic: this.topic, numPartitions: this.opts.partitions, replicationFactor: 1, configEntries: [{ name: "max.message.bytes", value: "4194304" }] },
        { topic: this.dlqTopic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: "max.message.bytes", value: "1000000" }] },
      ],
    });
  }

  /** Produces messages [from, to) with acks=all, in batches; returns once the broker has them all. */
  async produce(from: number, to: number): Promise<void> {
    if (this.producer === undefined) {
      this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    for (let start = from; start < to; start += 500) {
      const messages = [];
      for (let i = start; i < Math.min(to, start + 500); i++) {
        const m = message(i, this.oversize);
        messages.push({ key: m.key, value: m.value });
      }
      await this.producer.send({ topic: this.topic, acks: -1, messages });
    }
    this.produced = Math.max(this.produced, to);
  }

  startWorker(name: string): Worker {
    const log = join(this.dir, `${this.topic}-${name}.log`);
    const out = createWriteStream(log);
    const env = {
      ...process.env,
      KAFKA_BROKERS: this.services.brokers.join(","),
      CLICKHOUSE_URL: this.services.clickhouseUrl,
      TOPIC: this.topic,
      DLQ_TOPIC: this.dlqTopic,
      GROUP: this.group,
      DATABASE: this.database,
      SPILL: join(this.dir, `${this.topic}-spill.jsonl`),
    };
    const proc = spawn(process.execPath, [BIN, "run", "-c", this.cfgFile, "--summary", "json"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((res) => proc.on("exit", (code, signal) => res({ code, signal, at: Date.now() })));
    const w = { name, proc, exited, log };
    this.workers.push(w);
    return w;
  }

  alive(): Worker[] {
    return this.workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
  }

  async kill(w: Worker): Promise<void> {
    w.proc.kill("SIGKILL");
    await w.exited;
  }

  /** Sum of the group's committed offsets (-1, never committed, counts as 0). */
  async committed(): Promise<number> {
    const [t] = await this.admin.fetchOffsets({ groupId: this.group, topics: [this.topic] });
    return (t?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  }

  /** Waits until the committed sum exceeds `above`; returns the wait in ms. */
  async progressAfter(above: number, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await this.until(`commits pass ${above}`, timeoutMs, async () => (await this.committed().catch(() => -1)) > above);
    return Date.now() - t0;
  }

  async allCommitted(timeoutMs: number): Promise<void> {
    await this.until(`all ${this.produced} messages committed`, timeoutMs, async () => (await this.committed().catch(() => -1)) >= this.produced);
  }

  async until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ok())) {
      if (Date.now() > deadline) {
        const logs = this.workers.map((w) => `--- ${w.name}\n${existsSync(w.log) ? readFileSync(w.log, "utf8").slice(-2000) : ""}`).join("\n");
        throw new Error(`timed out waiting until ${what}\n${logs}`);
      }
      await sleep(250);
    }
  }

  /**
   * SIGTERM every live worker once nothing is in flight and the group is stable; returns the slowest exit
   * in ms (each must exit 0). A SIGTERM during a rebalance (a member just killed) waits for kafkajs to
   * leave the group, up to the source's 5 s stop bound: seen at 3.5 s once, so it is not what this times.
   */
  async stopAll(): Promise<number> {
    await this.until("the group is stable", 60_000, async () => {
      const { groups } = await this.admin.describeGroups([this.group]).catch(() => ({ groups: [] }));
      return groups[0]?.state === "Stable";
    });
    let slowest = 0;
    await Promise.all(
      this.alive().map(async (w) => {
        const t0 = Date.now();
        w.proc.kill("SIGTERM");
        const r = await Promise.race([w.exited, sleep(30_000).then(() => undefined)]);
        if (r === undefined) {
          w.proc.kill("SIGKILL");
          throw new Error(`worker ${w.name} did not exit within 30 s of SIGTERM`);
        }
        if (r.code !== 0) throw new Error(`worker ${w.name} exited with ${r.code ?? r.signal}; see ${w.log}`);
        slowest = Math.max(slowest, r.at - t0);
      }),
    );
    return slowest;
  }

  /** Attribution rows in the store now (before dedup); -1 while it cannot be read. */
  async storedRows(): Promise<number> {
    const ch = createClient({ url: this.services.clickhouseUrl });
    try {
      const rs = await ch.query({ query: `SELECT count() AS n FROM \`${this.database}\`.attributions`, format: "JSONEachRow" });
      return Number((await rs.json<{ n: string }>())[0]?.n ?? -1);
    } catch {
      return -1;
    } finally {
      await ch.close();
    }
  }

  /** Counts every number: stored (after the store's dedup), skipped, dead-lettered, lost, duplicated. */
  async count(storedFrom = Number.POSITIVE_INFINITY): Promise<Count> {
    const mapper = new RecordMapper();
    const sampler = new RecordSampler({ rate: this.opts.rate });
    const expect = new Map<number, "stored" | "skipped" | "dead">();
    for (let i = 0; i < this.produced; i++) {
      const m = message(i, this.oversize);
      if (m.kind !== "valid") expect.set(i, "dead");
      else expect.set(i, sampler.decide(mapper.map({ value: m.value }).record).sampled ? "stored" : "skipped");
    }
    const ch = createClient({ url: this.services.clickhouseUrl });
    const rows = async (final: boolean): Promise<Map<number, number>> => {
      const rs = await ch.query({ query: `SELECT record_id, count() AS n FROM \`${this.database}\`.attributions ${final ? "FINAL" : ""} GROUP BY record_id`, format: "JSONEachRow" });
      return new Map((await rs.json<{ record_id: string; n: string }>()).map((r) => [numberOf(r.record_id), Number(r.n)]));
    };
    const stored = await rows(true);
    const raw = await rows(false);
    await ch.close();
    const dead = await this.deadLetters();

    const c: Count = { produced: this.produced, expectedStored: 0, stored: 0, skipped: 0, deadLettered: 0, spilled: dead.spilled, sampledDeadLettered: 0, lost: 0, duplicated: 0, redelivered: 0, lostNumbers: [], deadLetterCodes: {}, sampledFrom: 0, storedFrom: 0 };
    for (const code of dead.byNumber.values()) c.deadLetterCodes[code] = (c.deadLetterCodes[code] ?? 0) + 1;
    for (const [i, want] of expect) {
      const n = stored.get(i) ?? 0;
      const letter = dead.byNumber.get(i);
      c.redelivered += Math.max(0, (raw.get(i) ?? 0) - 1);
      c.duplicated += Math.max(0, n - 1);
      if (n > 0) c.stored++;
      if (letter !== undefined) c.deadLettered++;
      if (want === "stored") c.expectedStored++;
      if (want === "stored" && i >= storedFrom) {
        c.sampledFrom++;
        if (n > 0) c.storedFrom++;
      }
      if (want === "skipped") c.skipped++;
      // A sampled record dead-lettered (the endpoint was down) is accounted for in the DLQ, not lost.
      if (want === "stored" && n === 0 && letter !== undefined) c.sampledDeadLettered++;
      else if ((want === "stored" && n === 0) || (want === "dead" && letter === undefined)) {
        c.lost++;
        if (c.lostNumbers.length < 20) c.lostNumbers.push(i);
      }
    }
    return c;
  }

  /** Every dead letter by message number: from the DLQ topic (pointer records included) and the spill file. */
  private async deadLetters(): Promise<{ byNumber: Map<number, string>; spilled: number }> {
    const byNumber = new Map<number, string>();
    const end = await this.admin.fetchTopicOffsets(this.dlqTopic);
    const total = end.reduce((s, p) => s + Number(p.high), 0);
    if (total > 0) {
      const consumer = this.kafka.consumer({ groupId: uniqueName("chaos_dlq_reader"), maxWaitTimeInMs: 200 });
      let seen = 0;
      await consumer.connect();
      await consumer.subscribe({ topics: [this.dlqTopic], fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message: m }) => {
          seen++;
          const code = m.headers?.["reagent.dlq.error_code"]?.toString() ?? "";
          byNumber.set(numberOf(m.key?.toString() ?? ""), code);
          return Promise.resolve();
        },
      });
      try {
        await this.until("the DLQ topic is read back", 60_000, () => seen >= total);
      } finally {
        await consumer.disconnect();
      }
    }
    const spill = join(this.dir, `${this.topic}-spill.jsonl`);
    let spilled = 0;
    if (existsSync(spill)) {
      for await (const line of createInterface({ input: createReadStream(spill) })) {
        const m = /\bn-(\d+)\b/.exec(line);
        if (m === null) continue;
        spilled++;
        if (!byNumber.has(Number(m[1]))) byNumber.set(Number(m[1]), "spilled");
      }
    }
    return { byNumber, spilled };
  }

  async teardown(): Promise<void> {
    for (const w of this.alive()) w.proc.kill("SIGKILL");
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin.deleteTopics({ topics: [this.topic, this.dlqTopic], timeout: 30_000 }).catch(() => undefined);
    // A busy server can take longer than the client's default 30 s to drop a database (it finishes anyway).
    const ch = createClient({ url: this.services.clickhouseUrl, request_timeout: 180_000, log: { level: ClickHouseLogLevel.OFF } });
    await ch.command({ query: `DROP DATABASE IF EXISTS \`${this.database}\`` }).catch(() => undefined);
    await ch.close();
    await this.admin.disconnect().catch(() => undefined);
  }
}

function numberOf(id: string): number {
  const m = /\bn-(\d+)\b/.exec(id);
  return m === null ? -1 : Number(m[1]);
}

export interface Count {
  produced: number;
  /** Sampled valid records: each must be stored exactly once. */
  expectedStored: number;
  /** Numbers with at least one row after the store's dedup (ClickHouse FINAL). */
  stored: number;
  /** Valid records the sampler skipped (committed, never stored). */
  skipped: number;
  deadLettered: number;
  /** Dead letters the 1 MB topic could not take, kept whole in the spill file. */
  spilled: number;
  /** Sampled records dead-lettered instead of stored (endpoint outage with action dead_letter). */
  sampledDeadLettered: number;
  lost: number;
  /** Rows beyond one per number after the store's dedup. */
  duplicated: number;
  /** Rows beyond one per number before dedup (redeliveries after kills and outages). */
  redelivered: number;
  lostNumbers: number[];
  /** Dead letters by error code (spilled: only in the spill file). */
  deadLetterCodes: Record<string, number>;
  /** Sampled records numbered from count()'s `storedFrom` (produced after a recovery), and how many of them were stored. */
  sampledFrom: number;
  storedFrom: number;
}

/** A serve-model process on a free port over the toy model (the endpoint scenario kills it). */
export async function serveModel(dir: string, port = 0): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [BIN, "serve-model", "--model", TOY_MODEL, "--port", String(port), "--threads", "1"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  proc.stderr?.pipe(createWriteStream(join(dir, `serve-model-${Date.now()}.log`)));
  const url = await new Promise<string>((res, rej) => {
    proc.once("exit", (code) => rej(new Error(`serve-model exited with ${code}`)));
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const m = /on (http:\/\/\S+)$/.exec(line);
      if (m) res(m[1]!);
    });
  });
  return { proc, url };
}
