/**
 * The Kafka dead-letter route with a letter the topic cannot take (issue 16, item 1), against the
 * real broker: the dead-letter topic keeps Kafka's default 1 MB message limit, while the worker
 * accepts records up to 4 MiB. The big letter must not block its partition: it is spilled whole to
 * a file with a pointer record on the topic, the healthy letters around it arrive as they are, and
 * every offset is committed. (Before: the letter was retried every 30 s forever and nothing after
 * it was ever committed.)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Admin, Kafka } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaDeadLetters } from "../../connectors/kafka/dead-letter.js";
import { DLQ_HEADERS } from "../../src/pipeline/dead-letter.js";
import { RecordMapper } from "../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../src/pipeline/sampling/sampler.js";
import { Pipeline } from "../../src/pipeline/worker.js";
import { MemorySink, MemorySource } from "../unit/pipeline/helpers.js";
import { createTestTopic, testEndpoints, testKafka, uniqueName } from "./services.js";

const BIG = Buffer.concat([Buffer.from('{"id":"big","prompt":"'), Buffer.alloc(1_500_000, 0x61)]); // 1.5 MB, not JSON (no closing quote)

async function readTopic(kafka: Kafka, topic: string, n: number): Promise<{ value: Buffer; headers: Record<string, string> }[]> {
  const out: { value: Buffer; headers: Record<string, string> }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName("dlq_reader"), maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ value: message.value ?? Buffer.alloc(0), headers });
      return Promise.resolve();
    },
  });
  const deadline = Date.now() + 30_000;
  while (out.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300)); // nothing more should arrive
  await consumer.disconnect();
  return out;
}

/** Fails instead of hanging when the run never ends (the bug this file guards against). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms).unref())]);
}

describe("Kafka dead letters that the topic cannot take (1 MB topic limit)", () => {
  let kafka: Kafka;
  let admin: Admin;
  const dir = mkdtempSync(join(tmpdir(), "reagent-dlq-"));

  beforeAll(async () => {
    kafka = testKafka("dlq-oversize-test");
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ["checked before sending", "refused by the broker"] as const) {
    it(`spills the big letter with a pointer record, delivers the others and commits every offset (${mode})`, async () => {
      const topic = await createTestTopic(admin, { prefix: "dlq_oversize" });
      const spill = join(dir, `spill-${mode === "refused by the broker" ? "b" : "a"}.jsonl`);
      const dlq = new KafkaDeadLetters(
        {
          type: "kafka",
          topic,
          acks: -1,
          linger_ms: 50,
          // A limit above the topic's makes the broker itself refuse the letter (MESSAGE_TOO_LARGE).
          max_message_bytes: mode === "refused by the broker" ? 10_000_000 : 1_000_000,
          spill_path: spill,
          retry: { max_attempts: 3, initial_backoff_ms: 50, max_backoff_ms: 200 },
        },
        { brokers: testEndpoints().kafkaBrokers, client_id: "dlq-test", connection_timeout_ms: 5000, request_timeout_ms: 30_000, log_level: "nothing" },
      );
      const src = MemorySource.of(["not json 1", BIG, "not json 2", JSON.stringify({ id: "ok", prompt: "p", completion: " c" }), "not json 3"]);
      const p = new Pipeline({ source: src, mapper: new RecordMapper(), sampler: new RecordSampler({ rate: 1 }), attributor: null, sinks: [new MemorySink()], deadLetters: dlq, config: { attribution: "off", commit_interval_ms: 50 } });
      const summary = await within(p.run(), 60_000, "the pipeline run");
      expect(summary.reason).toBe("end_of_input");
      expect(src.committed.get("p0")).toBe(5n);
      expect(summary.stats.deadLettered).toEqual({ parse: 4 });

      const letters = await readTopic(kafka, topic, 4);
      expect(letters).toHaveLength(4);
      const normal = letters.filter((l) => l.headers[DLQ_HEADERS.spilledTo] === undefined).map((l) => l.value.toString());
      expect(normal.sort()).toEqual(["not json 1", "not json 2", "not json 3"]);
      const pointer = letters.find((l) => l.headers[DLQ_HEADERS.spilledTo] !== undefined)!;
      expect(pointer.headers[DLQ_HEADERS.spilledTo]).toBe(spill);
      expect(pointer.headers[DLQ_HEADERS.offset]).toBe("1");
      expect(pointer.headers[DLQ_HEADERS.stage]).toBe("parse");
      const ref = JSON.parse(pointer.value.toString()) as { spill_id: string; value_bytes: number; reason: string };
      expect(ref.value_bytes).toBe(BIG.length);
      expect(ref.reason).toMatch(mode === "refused by the broker" ? /MESSAGE_TOO_LARGE/ : /max_message_bytes/);

      const spilled = readFileSync(spill, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { spill_id: string; value: string; stage: string });
      expect(spilled).toHaveLength(1);
      expect(spilled[0]!.spill_id).toBe(ref.spill_id);
      expect(Buffer.from(spilled[0]!.value).equals(BIG)).toBe(true);
    }, 90_000);
  }
});
