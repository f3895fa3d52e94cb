/**
 * Shutdown during a consumer-group rebalance (issue 16, found by the fault suite: a SIGTERM right
 * after a member joined or died took 3.5 s). kafkajs' disconnect waits for a join in progress,
 * which lasts until every member has rejoined: up to a heartbeat interval, or a dead member's
 * session timeout. The Kafka source bounds that wait by `stop_timeout_ms`, so stop() ends soon
 * after the last commit whatever the group is doing.
 */
import { Partitioners, type Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaSourceConfigSchema } from "../../connectors/kafka/config.js";
import { KafkaSource } from "../../connectors/kafka/source.js";
import type { SourceHandler } from "../../src/pipeline/contracts.js";
import { createTestTopic, testEndpoints, testKafka, uniqueName } from "./services.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function handler(onAssigned: () => void): SourceHandler {
  return { offer: () => true, skipped: () => undefined, assigned: onAssigned, revoked: () => undefined, ended: () => undefined, failed: () => undefined };
}

describe("Kafka source stop during a rebalance", () => {
  const kafka = testKafka("kafka-stop");
  let admin: Admin;
  let topic = "";
  const group = uniqueName("stop_group");
  const config = (heartbeatMs: number, stopMs: number) =>
    kafkaSourceConfigSchema.parse({
      type: "kafka",
      brokers: testEndpoints().kafkaBrokers,
      topics: [topic],
      group_id: group,
      from_beginning: true,
      log_level: "nothing",
      session_timeout_ms: 20_000,
      heartbeat_interval_ms: heartbeatMs,
      max_wait_ms: 100,
      stop_timeout_ms: stopMs,
    });

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    topic = await createTestTopic(admin, { prefix: "stop", partitions: 2 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: "a", value: "{}" }, { key: "b", value: "{}" }] });
    await producer.disconnect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  });

  it("ends within stop_timeout_ms while its join waits for a slow member to rejoin", async () => {
    // A: a member that heartbeats every 8 s, so a rebalance waits up to 8 s for it to rejoin.
    let aAssigned = false;
    const a = new KafkaSource(config(8000, 1500));
    void a.start(handler(() => (aAssigned = true))).catch(() => undefined);
    for (let i = 0; i < 200 && !aAssigned; i++) await sleep(100);
    expect(aAssigned).toBe(true);

    // B joins: the group rebalances and B's join hangs until A's next heartbeat. Stop B meanwhile.
    let bAssigned = false;
    const b = new KafkaSource(config(500, 1500));
    const started = b.start(handler(() => (bAssigned = true))).catch(() => undefined);
    await sleep(1000);
    expect(bAssigned).toBe(false); // still joining: the case under test
    const t0 = performance.now();
    await b.stop();
    const stopMs = performance.now() - t0;
    await started;
    await a.stop();
    console.log(`[kafka stop] stop() during a join in progress took ${stopMs.toFixed(0)} ms (stop_timeout_ms 1500; the join would have waited up to 8 s)`);
    expect(stopMs).toBeLessThan(1500 + 1000);
  });
});
