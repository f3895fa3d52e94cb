/**
 * The source conformance suite (test/conformance/source.ts) against the real Kafka broker, a
 * JSONL file with a checkpoint, and stdin (the same input piped again on restart).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Partitioners, type Admin } from "kafkajs";
import { createFileSource, fileSourceConfigSchema } from "../../connectors/file/source.js";
import { kafkaSourceConfigSchema } from "../../connectors/kafka/config.js";
import { KafkaSource, partitionKey } from "../../connectors/kafka/source.js";
import { createStdinSource, stdinSourceConfigSchema } from "../../connectors/stdin/source.js";
import { sourceConformance, type SourceHarness } from "../conformance/source.js";
import { createTestTopic, testEndpoints, testKafka, uniqueName } from "./services.js";

function checkpointOffsets(file: string): Map<string, bigint> {
  if (!existsSync(file)) return new Map();
  const cp = JSON.parse(readFileSync(file, "utf8")) as { partitions: Record<string, { line: string }> };
  return new Map(Object.entries(cp.partitions).map(([p, v]) => [p, BigInt(v.line)]));
}

function fileHarness(kind: "file" | "stdin"): SourceHarness {
  const dir = mkdtempSync(join(tmpdir(), `reagent-${kind}-`));
  const data = join(dir, "records.jsonl");
  const checkpoint = join(dir, "checkpoint.json");
  return {
    finite: true,
    setup: (values) => {
      writeFileSync(data, values.map((v) => `${v.toString()}\n`).join(""));
      return Promise.resolve();
    },
    newSource: () =>
      kind === "file"
        ? createFileSource(fileSourceConfigSchema.parse({ type: "file", path: data, checkpoint, progress: "off" }))
        : createStdinSource(stdinSourceConfigSchema.parse({ type: "stdin", checkpoint, progress: "off" }), { input: createReadStream(data) }),
    committed: () => {
      const m = checkpointOffsets(checkpoint);
      // The file source names its partition by path; the suite compares per partition.
      return Promise.resolve(m);
    },
    teardown: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

function kafkaHarness(): SourceHarness {
  const kafka = testKafka("source-conformance");
  let admin: Admin | undefined;
  let topic = "";
  const group = uniqueName("conf_group");
  return {
    finite: false,
    setup: async (values) => {
      admin = kafka.admin();
      await admin.connect();
      topic = await createTestTopic(admin, { prefix: "conf", partitions: 3 });
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: values.map((v, i) => ({ key: `k${i}`, value: v })) });
      await producer.disconnect();
    },
    newSource: () =>
      new KafkaSource(
        kafkaSourceConfigSchema.parse({
          type: "kafka",
          brokers: testEndpoints().kafkaBrokers,
          topics: [topic],
          group_id: group,
          from_beginning: true,
          log_level: "nothing",
          session_timeout_ms: 6000,
          heartbeat_interval_ms: 500,
          max_wait_ms: 100,
        }),
      ),
    committed: async () => {
      const [t] = await (admin as Admin).fetchOffsets({ groupId: group, topics: [topic] });
      const out = new Map<string, bigint>();
      for (const p of t?.partitions ?? []) if (Number(p.offset) >= 0) out.set(partitionKey(topic, p.partition), BigInt(p.offset));
      return out;
    },
    teardown: async () => {
      if (admin) {
        await admin.deleteTopics({ topics: [topic], timeout: 30_000 }).catch(() => undefined);
        await admin.disconnect();
      }
    },
  };
}

sourceConformance("kafka", kafkaHarness, { size: 90 });
sourceConformance("file", () => fileHarness("file"));
sourceConformance("stdin", () => fileHarness("stdin"));
