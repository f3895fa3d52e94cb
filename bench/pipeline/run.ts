/**
 * Pipeline benchmark against the real local Kafka broker (npm run services:up starts it).
 *
 *   node --import tsx bench/pipeline/run.ts [--records 200000] [--partitions 6] [--latency-records 300]
 *        [--latency-rate 5] [--sample 0.1] [--method reagent] [--probes 4] [--steps 50] [--targets 4]
 *
 * 1. Throughput with attribution off: one worker (the real KafkaSource, mapper, sampler, commit
 *    tracker, JSONL dead letters) consumes a pre-filled topic of flat {prompt, completion}
 *    records; records/s = records / time from the first offer to the commit that reaches the end
 *    of every partition.
 * 2. End-to-end latency of sampled records with the bundled small model: records are produced
 *    at a steady rate while the worker runs; latency is from the producer's acknowledgement
 *    time to the moment every sink (JSONL, fsync'ed) acknowledged the result.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, Partitioners, logLevel, type Admin } from "kafkajs";
import { servicesUp } from "../../deploy/services/index.js";
import { JsonlDeadLetters } from "../../connectors/file/dead-letters.js";
import { JsonlSink } from "../../connectors/file/jsonl-sink.js";
import { kafkaSourceConfigSchema } from "../../connectors/kafka/config.js";
import { KafkaSource } from "../../connectors/kafka/source.js";
import { BUNDLED_LM_DIR, buildEngine } from "../../src/app/engine.js";
import { EngineAttributor } from "../../src/pipeline/attributor.js";
import { RecordMapper } from "../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../src/pipeline/sampling/sampler.js";
import { Pipeline } from "../../src/pipeline/worker.js";

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
function sflag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const N = flag("records", 200_000);
const PARTS = flag("partitions", 6);
const LAT_N = flag("latency-records", 300);
const LAT_RATE = flag("latency-rate", 5);
const SAMPLE = flag("sample", 0.1);
const METHOD = sflag("method", "reagent") as "reagent" | "random" | "loo";
const PROBES = flag("probes", 4);
const STEPS = flag("steps", 50);
const TARGETS = flag("targets", 4);

const run = Date.now().toString(36);
const dir = mkdtempSync(join(tmpdir(), "reagent-bench-"));

function record(i: number, tag: string, extra: Record<string, unknown> = {}): string {
  const prompts = [
    "When my flight landed in Greece, I converted my currency and slowly fell asleep. I was staying in the capital,",
    "Context: [doc 1] The code of Alpha is 7421. [doc 2] The code of Bravo is 3318. Question: what is the code of Bravo? Answer:",
    "The old library was quiet in the evening, and the",
  ];
  return JSON.stringify({ id: `${tag}-${i}`, model: "tiny-lm", tenant_id: `t${i % 8}`, prompt: prompts[i % 3], completion: i % 3 === 1 ? " 3318." : " Athens", ...extra });
}

async function fill(kafka: Kafka, topic: string, n: number, tag: string): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const batch = 5000;
  for (let s = 0; s < n; s += batch) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: Math.min(batch, n - s) }, (_, j) => ({ key: `k${s + j}`, value: record(s + j, tag) })) });
  }
  await producer.disconnect();
}

async function committedAll(admin: Admin, group: string, topic: string, ends: Map<number, number>): Promise<boolean> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return (t?.partitions ?? []).every((p) => Number(p.offset) === ends.get(p.partition));
}

function pct(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function throughput(kafka: Kafka, admin: Admin, brokers: string[]): Promise<{ rps: number; secs: number; committed: boolean }> {
  const topic = `bench_tp_${run}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTS, replicationFactor: 1 }], waitForLeaders: true });
  const tf = Date.now();
  await fill(kafka, topic, N, "tp");
  process.stderr.write(`filled ${N} records in ${((Date.now() - tf) / 1000).toFixed(1)} s\n`);
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  const group = `bench_tp_group_${run}`;
  const source = new KafkaSource(kafkaSourceConfigSchema.parse({ type: "kafka", brokers, topics: [topic], group_id: group, from_beginning: true, log_level: "nothing", max_bytes_per_partition: 4_194_304, max_bytes: 33_554_432 }));
  let first = 0;
  const start = source.start.bind(source);
  source.start = (h) =>
    start({
      ...h,
      offer: (m) => {
        if (first === 0) first = performance.now();
        return h.offer(m);
      },
    });
  const pipeline = new Pipeline({
    source,
    mapper: new RecordMapper(),
    sampler: new RecordSampler({ rate: SAMPLE }),
    attributor: null,
    sinks: [],
    deadLetters: new JsonlDeadLetters({ type: "jsonl", path: join(dir, "tp-dlq.jsonl"), fsync: true }),
    config: { attribution: "off", commit_interval_ms: 200, max_in_flight_per_partition: 100_000 },
  });
  const running = pipeline.run();
  let done = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    if (pipeline.stats().consumed >= N) {
      await pipeline.commitNow();
      if (await committedAll(admin, group, topic, ends)) {
        done = performance.now();
        break;
      }
    }
  }
  pipeline.stop();
  const summary = await running;
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  const secs = (done - first) / 1000;
  return { rps: summary.stats.consumed / secs, secs, committed: true };
}

async function latency(kafka: Kafka, admin: Admin, brokers: string[]): Promise<{ lat: number[]; sampled: number; attrMs: number[] }> {
  const topic = `bench_lat_${run}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTS, replicationFactor: 1 }], waitForLeaders: true });
  const built = await buildEngine({ model: BUNDLED_LM_DIR, engine: { method: METHOD, mode: "joint", stopping: "probe", sampler: "pos", num_probes: PROBES, max_steps: STEPS, max_targets: TARGETS } });
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  const attrMs: number[] = [];
  const pipeline = new Pipeline({
    source: new KafkaSource(kafkaSourceConfigSchema.parse({ type: "kafka", brokers, topics: [topic], group_id: `bench_lat_group_${run}`, from_beginning: true, log_level: "nothing", max_wait_ms: 20 })),
    mapper: new RecordMapper(),
    sampler: new RecordSampler({ rate: SAMPLE }),
    attributor: new EngineAttributor(built.engine),
    sinks: [new JsonlSink({ type: "jsonl", path: join(dir, "lat-results.jsonl"), fsync: true, flush_interval_ms: 20, dedupe: true })],
    deadLetters: new JsonlDeadLetters({ type: "jsonl", path: join(dir, "lat-dlq.jsonl"), fsync: true }),
    config: { commit_interval_ms: 200, concurrency: 1 },
    onResult: (r) => {
      const t = sentAt.get(r.context.record_id ?? "");
      if (t !== undefined) lat.push(Date.now() - t);
      attrMs.push(r.timings.duration_ms);
    },
  });
  const running = pipeline.run();
  await new Promise((r) => setTimeout(r, 3000)); // join the group first
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const sampler = new RecordSampler({ rate: SAMPLE });
  const mapper = new RecordMapper();
  let sampled = 0;
  const t0 = Date.now();
  for (let i = 0; i < LAT_N; i++) {
    const wait = t0 + (i * 1000) / LAT_RATE - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const value = record(i, "lat");
    await producer.send({ topic, acks: -1, messages: [{ key: `k${i}`, value }] });
    sentAt.set(`lat-${i}`, Date.now());
    if (sampler.decide(mapper.map({ value: Buffer.from(value) }).record).sampled) sampled++;
  }
  await producer.disconnect();
  while (lat.length < sampled) await new Promise((r) => setTimeout(r, 100));
  pipeline.stop();
  await running;
  await built.close();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  return { lat: lat.sort((a, b) => a - b), sampled, attrMs: attrMs.sort((a, b) => a - b) };
}

const up = await servicesUp({ services: ["kafka"] });
const brokers = up.endpoints.kafkaBrokers;
const kafka = new Kafka({ clientId: "bench-pipeline", brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const cmd = `node --import tsx bench/pipeline/run.ts ${process.argv.slice(2).join(" ")}`.trim();
try {
  const tp = await throughput(kafka, admin, brokers);
  const lt = await latency(kafka, admin, brokers);
  const cpu = cpus()[0]?.model ?? "cpu";
  console.log(`command: ${cmd}`);
  console.log(`machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}, Kafka broker on loopback`);
  console.log(`throughput (attribution off, sampling ${SAMPLE}, ${PARTS} partitions, one worker): ${N} records in ${tp.secs.toFixed(2)} s = ${Math.round(tp.rps).toLocaleString("en-US")} records/s, committed to the end`);
  console.log(
    `latency (${METHOD}${METHOD === "reagent" ? ` joint, pos sampler, ${PROBES} probes, ${STEPS} max steps` : ""}, ${TARGETS} targets, models/tiny-lm, concurrency 1; ${LAT_N} records at ${LAT_RATE}/s, ${lt.sampled} sampled): ` +
      `p50 ${pct(lt.lat, 0.5)} ms, p90 ${pct(lt.lat, 0.9)} ms, p99 ${pct(lt.lat, 0.99)} ms, max ${lt.lat[lt.lat.length - 1] ?? NaN} ms (attribution alone p50 ${Math.round(pct(lt.attrMs, 0.5))} ms)`,
  );
} finally {
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
