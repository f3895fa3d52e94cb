/** Kafka as a worker component: the `source: kafka` consumer and the `dead_letter: kafka` topic. */
import type { DeadLetterComponent, SourceComponent } from "../../src/pipeline/components.js";
import { kafkaDeadLetterConfigSchema, kafkaSourceConfigSchema, type KafkaConnection, type KafkaSourceConfig } from "./config.js";
import { KafkaDeadLetters } from "./dead-letter.js";
import { KafkaSource } from "./source.js";

export const kafkaSource: SourceComponent<typeof kafkaSourceConfigSchema> = {
  type: "kafka",
  schema: kafkaSourceConfigSchema,
  title: "source: kafka",
  declaredIn: "connectors/kafka/config.ts",
  example: `source:
  type: kafka
  brokers: \${KAFKA_BROKERS:-localhost:9092}
  topics: [llm-logs]
  group_id: reagent-stream
  ssl: true
  sasl:
    mechanism: scram-sha-512
    username: \${KAFKA_USER:-reagent}
    password: \${KAFKA_PASSWORD:-}`,
  describe: (c) => `kafka ${c.topics.join(",")} (group ${c.group_id})`,
  create: (c, deps) => new KafkaSource(c, { logger: deps.logger }),
};

export const kafkaDeadLetters: DeadLetterComponent<typeof kafkaDeadLetterConfigSchema> = {
  type: "kafka",
  schema: kafkaDeadLetterConfigSchema,
  title: "dead_letter: kafka",
  declaredIn: "connectors/kafka/config.ts",
  example: `dead_letter:
  type: kafka
  topic: llm-logs.dlq`,
  describe: (c) => `kafka ${c.topic}`,
  create: (d, deps) => {
    // Unset connection settings come from a Kafka source, so one cluster is configured once.
    // deps.source is the validated source section; its type says which shape it has.
    const src = deps.source.type === "kafka" ? (deps.source as KafkaSourceConfig) : undefined;
    const conn: KafkaConnection = {
      brokers: d.brokers ?? src?.brokers ?? [],
      client_id: d.client_id ?? src?.client_id ?? "reagent-stream",
      ssl: d.ssl ?? src?.ssl,
      sasl: d.sasl ?? src?.sasl,
      connection_timeout_ms: src?.connection_timeout_ms ?? 10_000,
      request_timeout_ms: src?.request_timeout_ms ?? 30_000,
      log_level: src?.log_level ?? "error",
    };
    return new KafkaDeadLetters(d, conn, { logger: deps.logger, metrics: deps.metrics });
  },
};
