/**
 * Config of the Kafka source and the Kafka dead-letter topic (zod only: the pipeline config,
 * the docs generator and `config check` import it without loading kafkajs).
 *
 * @see docs/config.md#source-kafka
 */
import { z } from "zod";
import { retrySchema } from "../../src/retry.js";
import { deadLetterPayloadSchema } from "../dead-letter/payload.js";
import { fsPath } from "../../src/config-paths.js";

export const kafkaSslSchema = z.union([
  z.boolean().describe("true: TLS with the system's trusted CAs"),
  z
    .object({
      ca_file: z.string().min(1).meta(fsPath("input-file")).optional().describe("PEM file of the CA(s) that signed the brokers' certificates"),
      cert_file: z.string().min(1).meta(fsPath("input-file")).optional().describe("Client certificate (PEM) for mutual TLS"),
      key_file: z.string().min(1).meta(fsPath("input-file")).optional().describe("Client private key (PEM) for mutual TLS"),
      key_passphrase: z.string().optional(),
      servername: z.string().min(1).optional().describe("TLS server name (SNI) when it differs from the broker host"),
      reject_unauthorized: z.boolean().default(true).describe("Verify the brokers' certificates (turn off only for local tests)"),
    })
    .strict(),
]);

export const kafkaSaslSchema = z.discriminatedUnion("mechanism", [
  z.object({ mechanism: z.literal("plain"), username: z.string().min(1), password: z.string() }).strict(),
  z.object({ mechanism: z.literal("scram-sha-256"), username: z.string().min(1), password: z.string() }).strict(),
  z.object({ mechanism: z.literal("scram-sha-512"), username: z.string().min(1), password: z.string() }).strict(),
]);

export const kafkaLogLevels = ["nothing", "error", "warn", "info", "debug"] as const;

/** How to reach a cluster (shared by the source and the dead-letter topic). */
export const kafkaConnectionFields = {
  brokers: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe("Bootstrap brokers as host:port, a list or one comma-separated string (e.g. ${KAFKA_BROKERS})"),
  client_id: z.string().min(1).default("reagent-stream").describe("Kafka client id (quotas, broker logs)"),
  ssl: kafkaSslSchema.optional().describe("TLS: true, or CA / client certificate files"),
  sasl: kafkaSaslSchema.optional().describe("SASL authentication: mechanism plain, scram-sha-256 or scram-sha-512 with username and password (use ${ENV} for the password)"),
  connection_timeout_ms: z.number().int().min(1).default(10_000),
  request_timeout_ms: z.number().int().min(1).default(30_000),
  log_level: z.enum(kafkaLogLevels).default("error").describe("kafkajs log level (it logs retried, expected conditions as errors; warn shows rebalances)"),
};

export const kafkaSourceConfigSchema = z
  .object({
    type: z.literal("kafka"),
    ...kafkaConnectionFields,
    topics: z.array(z.string().min(1)).min(1).describe("Topics of logged records to consume"),
    group_id: z.string().min(1).describe("Consumer group: every worker started with the same group shares the partitions"),
    from_beginning: z.boolean().default(false).describe("Where a group with no committed offsets starts: the earliest record (true) or new records only"),
    session_timeout_ms: z.number().int().min(1000).default(30_000).describe("The group drops a worker it has not heard from for this long"),
    rebalance_timeout_ms: z.number().int().min(1000).default(60_000),
    heartbeat_interval_ms: z.number().int().min(100).default(3000),
    stop_timeout_ms: z
      .number()
      .int()
      .min(0)
      .default(1500)
      .describe(
        "Longest shutdown waits to leave the group while a rebalance is in progress (leaving waits for the join: up to a member's heartbeat interval, or the session timeout of a member that died); past this the worker exits after its last commit and the group drops it after session_timeout_ms. Without a rebalance, leaving is bounded at 5 s",
      ),
    partitions_consumed_concurrently: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe("Partitions whose batches are handed over in parallel (parsing is synchronous; attribution runs outside the batch handler)"),
    min_bytes: z.number().int().min(1).default(1),
    max_bytes: z.number().int().min(1).default(10_485_760),
    max_bytes_per_partition: z.number().int().min(1).default(1_048_576),
    max_wait_ms: z.number().int().min(0).default(500).describe("Longest a fetch waits for min_bytes"),
    retries: z.number().int().min(0).default(8).describe("kafkajs retries of a failing request before the consumer restarts"),
  })
  .strict()
  .describe(
    "A Kafka consumer group member (kafkajs). Offsets are committed manually, only up to records that are done (skipped, stored by every sink, or dead-lettered); start more workers with the same group_id to scale out.",
  );

export type KafkaSourceConfig = z.infer<typeof kafkaSourceConfigSchema>;

export const kafkaDeadLetterConfigSchema = z
  .object({
    type: z.literal("kafka"),
    topic: z.string().min(1).describe("Dead-letter topic (it must exist: create it like the source topic)"),
    brokers: kafkaConnectionFields.brokers.optional().describe("Default: the source's brokers, client_id, ssl and sasl"),
    client_id: z.string().min(1).optional(),
    ssl: kafkaSslSchema.optional(),
    sasl: kafkaSaslSchema.optional(),
    acks: z.union([z.literal(-1), z.literal(1)]).default(-1).describe("-1: all in-sync replicas confirm each dead letter before its offset is committed"),
    linger_ms: z.number().int().min(0).default(10).describe("Dead letters produced together within this window go in one request"),
    max_message_bytes: z
      .number()
      .int()
      .min(1024)
      .default(1_000_000)
      .describe("A dead letter larger than this (value, key and headers) goes whole to spill_path, with a small pointer record on the topic; keep it at or below the topic's max.message.bytes (Kafka's default is 1 MB)"),
    spill_path: z
      .string()
      .min(1)
      .default("dead-letters-spill.jsonl")
      .describe("JSONL file (fsync'ed) for dead letters the topic cannot take: too large, refused by the broker for good, or still failing after retry.max_attempts"),
    retry: retrySchema({ max_attempts: 8, initial_backoff_ms: 500, max_backoff_ms: 30_000 }, "Producing one dead letter that fails transiently; after the last attempt it is spilled"),
    payload: deadLetterPayloadSchema,
  })
  .strict()
  .describe("A Kafka topic: the original key and value with the original headers plus reagent.dlq.* headers (reason, stage, error code, attempts, time, source partition and offset).");

export type KafkaDeadLetterConfig = z.infer<typeof kafkaDeadLetterConfigSchema>;

/** The connection part of a Kafka config. */
export interface KafkaConnection {
  readonly brokers: string | readonly string[];
  readonly client_id: string;
  readonly ssl?: z.infer<typeof kafkaSslSchema> | undefined;
  readonly sasl?: z.infer<typeof kafkaSaslSchema> | undefined;
  readonly connection_timeout_ms: number;
  readonly request_timeout_ms: number;
  readonly log_level: (typeof kafkaLogLevels)[number];
  readonly retries?: number;
}
