/**
 * Smoke test of the real Kafka test broker with kafkajs: 10k messages through a 3-partition
 * topic and a consumer group, with committed offsets checked against the end offsets.
 */
import { Partitioners } from "kafkajs";
import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorMessage } from "../../src/errors.js";
import { createTestTopic, testKafka, uniqueName } from "./services.js";

const N = 10_000;
const PARTITIONS = 3;
const key = (i: number): string => `k-${String(i).padStart(5, "0")}`;

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${errorMessage(last)}`}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("Kafka test service", () => {
  const kafka = testKafka("services-kafka-smoke");
  const admin: Admin = kafka.admin();
  let topic = "";

  beforeAll(async () => {
    await admin.connect();
    topic = await createTestTopic(admin, { prefix: "smoke", partitions: PARTITIONS });
  });

  afterAll(async () => {
    if (topic !== "") await admin.deleteTopics({ topics: [topic], timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  });

  it("rejects producing to a topic that does not exist (auto.create.topics.enable=false)", async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true, retry: { retries: 1 } });
    await producer.connect();
    try {
      await expect(producer.send({ topic: uniqueName("missing"), messages: [{ value: "x" }] })).rejects.toThrow();
    } finally {
      await producer.disconnect();
    }
  }, 30_000);

  it("delivers 10k messages through a 3-partition topic to a consumer group and commits every offset", async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    for (let start = 0; start < N; start += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 1000 }, (_, j) => ({ key: key(start + j), value: JSON.stringify({ i: start + j }) })),
      });
    }
    await producer.disconnect();

    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends).toHaveLength(PARTITIONS);
    expect(ends.reduce((sum, p) => sum + Number(p.high), 0)).toBe(N);
    // Keys are hashed over all partitions.
    for (const p of ends) expect(Number(p.high)).toBeGreaterThan(0);

    const groupId = uniqueName("smoke_group");
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, sessionTimeout: 10_000, heartbeatInterval: 1000, allowAutoTopicCreation: false });
    const seen = new Set<string>();
    let received = 0;
    let valuesOk = true;
    let resolveAll: () => void = () => undefined;
    let rejectAll: (err: Error) => void = () => undefined;
    const allSeen = new Promise<void>((resolve, reject) => {
      resolveAll = resolve;
      rejectAll = reject;
    });
    consumer.on(consumer.events.CRASH, (e) => rejectAll(e.payload.error));
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: ({ batch }) => {
          for (const m of batch.messages) {
            const k = m.key?.toString() ?? "";
            const v = JSON.parse(m.value?.toString() ?? "null") as { i: number } | null;
            if (v === null || key(v.i) !== k) valuesOk = false;
            seen.add(k);
            received += 1;
          }
          if (seen.size === N) resolveAll();
          return Promise.resolve();
        },
      });
      const timer = setTimeout(() => rejectAll(new Error(`only ${seen.size} of ${N} keys arrived within 40 s`)), 40_000);
      await allSeen.finally(() => clearTimeout(timer));

      // Offsets are committed after each batch: wait until the group's offsets reach the end offsets.
      const committed = await until("committed offsets to reach the end offsets", 20_000, async () => {
        const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const byPartition = new Map(t!.partitions.map((p) => [p.partition, Number(p.offset)]));
        return ends.every((e) => byPartition.get(e.partition) === Number(e.high)) ? byPartition : undefined;
      });
      for (const e of ends) expect(committed.get(e.partition)).toBe(Number(e.high));
    } finally {
      await consumer.disconnect();
    }

    expect(seen.size).toBe(N);
    expect(received).toBe(N);
    expect(valuesOk).toBe(true);
    for (let i = 0; i < N; i += 997) expect(seen.has(key(i))).toBe(true);
  }, 90_000);
});
